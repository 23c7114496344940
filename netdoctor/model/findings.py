"""What checks produce: findings with addressed evidence, fixes and verification commands.

Sits in the model layer, shared by checks (which create these), the engine (which ranks them)
and the report (which renders them). Checks never write sentences: a finding carries the id and
parameters; the catalog turns them into words in the chosen language.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

__all__ = [
    "Action",
    "CheckOutcome",
    "CheckStatus",
    "Evidence",
    "Finding",
    "Message",
    "Severity",
    "Subject",
    "Verdict",
]


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


class CheckStatus(StrEnum):
    OK = "ok"
    FINDING = "finding"
    SKIPPED = "skipped"
    ERROR = "error"


class Message(msgspec.Struct, frozen=True):
    """A catalog message key and its parameters; rendered in the report's language."""

    key: str
    params: dict[str, str] = msgspec.field(default_factory=dict)


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """One quoted datum: where it is (file, object, field) and its exact value."""

    source: str  # bundle path, e.g. "k8s/nodes.json" or "nodes/n1/ip-addr.json"
    object: str  # "Node/l20-gpu-05", "Interface/ibs845f0", "Pod/kube-system/calico-node-x"
    field: str  # "metadata.annotations[projectcalico.org/IPv4Address]"
    value: str
    node: str | None = None


class Subject(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    name: str
    namespace: str | None = None

    @property
    def ref(self) -> str:
        return (
            f"{self.kind}/{self.namespace}/{self.name}"
            if self.namespace
            else f"{self.kind}/{self.name}"
        )


class Action(msgspec.Struct, frozen=True, kw_only=True):
    """A fix or a verification: a description (catalog message) and the command to paste."""

    message: Message
    command: str


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One root cause (or problem) found, with everything needed to prove and fix it.

    ``id`` is the catalog id; ``variant`` picks the title template (e.g. ``from_log``).
    ``nodes`` and ``pods`` are what the finding is about, used to decide whether it lies on
    the question's path. ``severity`` None means the catalog default.
    """

    id: str
    subject: Subject
    params: dict[str, str] = msgspec.field(default_factory=dict)
    variant: str = "default"
    evidence: tuple[Evidence, ...] = ()
    fix: tuple[Action, ...] = ()
    verify: tuple[Action, ...] = ()
    notes: tuple[Message, ...] = ()
    nodes: tuple[str, ...] = ()
    pods: tuple[str, ...] = ()
    severity: Severity | None = None
    confidence: float = 1.0


class CheckOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The result of running one check: ok, findings, skipped (with why) or error."""

    check_id: str
    status: CheckStatus
    findings: tuple[Finding, ...] = ()
    reason: Message | None = None  # why skipped, or the error
    notes: tuple[Message, ...] = ()  # partial coverage, e.g. nodes whose files were missing


class Verdict(StrEnum):
    """The answer to the question, and the exit status it maps to."""

    HEALTHY = "healthy"
    BROKEN = "broken"
    INCONCLUSIVE = "inconclusive"

    @property
    def exit_status(self) -> int:
        return {"healthy": 0, "broken": 1, "inconclusive": 3}[self.value]
