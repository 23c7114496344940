"""The report model: one result object, already in the chosen language, for every format.

Report layer. Field names follow ``shared/docs/report-format.md`` (schemaVersion 1): the JSON
renderer encodes this struct as it is, the terminal and Markdown renderers read the same
fields. Renderers decide nothing: what is a root cause, what failed, what to show first, is
decided before this point.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "SCHEMA_VERSION",
    "CheckRow",
    "EvidenceRow",
    "FindingRow",
    "HopRow",
    "InputInfo",
    "InputNoteRow",
    "PathRow",
    "ProbeRow",
    "QuestionRow",
    "Report",
    "RunbookRunRow",
    "RunbookStepRow",
    "StepRow",
    "ToolInfo",
    "WalkRow",
]

SCHEMA_VERSION = 1


class _R(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=False):
    pass


class ToolInfo(_R, kw_only=True):
    name: str = "netdoctor"
    version: str


class InputNoteRow(_R):
    file: str
    note: str
    detail: str = ""


class InputInfo(_R):
    kind: str
    path: str
    notes: list[InputNoteRow] = msgspec.field(default_factory=list)
    cluster: str | None = None
    collected_at: str | None = None


class QuestionRow(_R):
    from_: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    port: int | None = None
    protocol: str | None = None
    symptom: str | None = None
    # What the failure tells, from the probes or the symptom text (netdoctor.checks.workload):
    # refused | timeout | host-unreachable | net-unreachable | dns-failure; and in words.
    observed: str | None = None
    observed_meaning: str | None = None


class EvidenceRow(_R):
    source: str
    object: str
    field: str
    value: str
    node: str | None = None


class SubjectRow(_R):
    kind: str
    name: str
    namespace: str | None = None


class StepRow(_R):
    description: str
    command: str


class FindingRow(_R):
    id: str
    code: str
    severity: str  # critical | warning | info
    on_path: bool
    subject: SubjectRow
    title: str
    evidence: list[EvidenceRow]
    fix: list[StepRow]
    verify: list[StepRow]
    notes: list[str] = msgspec.field(default_factory=list)
    confidence: float = 1.0
    runbook: str | None = None

    @property
    def critical(self) -> bool:
        return self.severity == "critical"


class CheckRow(_R):
    id: str
    code: str
    status: str  # ok | finding | skipped | error
    title: str = ""  # what the check looks for, one line
    reason: str | None = None
    notes: list[str] = msgspec.field(default_factory=list)


class HopRow(_R):
    index: int
    node: str | None
    stage: str
    direction: str
    verdict: str  # pass | drop | unknown
    detail: str
    evidence: list[EvidenceRow] = msgspec.field(default_factory=list)
    cause: str | None = None  # the root-cause id a drop here points at

    @property
    def drop(self) -> bool:
        return self.verdict == "drop"


class PathRow(_R):
    verdict: str  # delivered | dropped | unknown
    drop_at: int | None
    hops: list[HopRow]


class WalkRow(_R):
    """One step of the way to a Service target (``Report.walk``), in the order a connection
    meets them: dns, service, selector, endpoints, target-port, kube-proxy, policy."""

    step: str
    status: str  # ok | failed | skipped | not-checked
    detail: str
    checks: list[str] = msgspec.field(default_factory=list)  # the check ids judging this step

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class ProbeRow(_R):
    name: str
    kind: str
    source: str
    target: str
    result: str
    detail: str = ""
    attempts: int = 0
    succeeded: int = 0


class RunbookStepRow(_R):
    id: str
    title: str
    status: str  # ok | finding | skipped | manual
    checks: list[str]
    reasons: list[str] = msgspec.field(default_factory=list)  # why skipped
    findings: list[str] = msgspec.field(default_factory=list)  # "NET-301 title"
    command: str = ""
    branch: str = "pass"  # pass | fail
    next: str = ""  # the next step's id or the conclusion's


class RunbookRunRow(_R):
    """A runbook walked over the bundle (``diagnose --symptom``), in the report's language."""

    id: str
    title: str
    category: str
    confidence: float | None
    matched_terms: list[str]
    steps: list[RunbookStepRow]
    conclusion: str  # conclusion id
    conclusion_text: str
    outcome: str  # found | cleared | inconclusive
    summary: str  # the conclusion sentence with its outcome
    root_causes: list[str]  # finding ids the conclusion names, best first
    unverified: list[str]


class Report(_R, kw_only=True):
    schema_version: int = SCHEMA_VERSION
    tool: ToolInfo
    lang: str
    input: InputInfo
    question: QuestionRow | None
    verdict: str  # broken | healthy | inconclusive
    summary: str  # one line in the chosen language
    reasons: list[str] = msgspec.field(default_factory=list)  # why inconclusive
    cni: list[str] = msgspec.field(default_factory=list)
    findings: list[FindingRow] = msgspec.field(default_factory=list)
    checks: list[CheckRow] = msgspec.field(default_factory=list)
    probes: list[ProbeRow] = msgspec.field(default_factory=list)
    path: PathRow | None = None
    walk: list[WalkRow] = msgspec.field(default_factory=list)  # a Service target's steps
    exit_status: int = 0
    runbook: RunbookRunRow | None = None  # present when a symptom chose a runbook
    labels: dict[str, str] = msgspec.field(default_factory=dict)  # headings in the language

    @property
    def root_cause(self) -> FindingRow | None:
        return self.findings[0] if self.findings and self.verdict == "broken" else None
