"""Run a runbook over a Snapshot: each step's checks, its branch, and where it ends.

Runbooks layer. The engine's :func:`~netdoctor.engine.diagnose` runs every check the runbook
names once (with the question, so the trace and the path-aware ranking apply); the steps then
read their checks' outcomes in order and follow ``pass`` or ``fail``.

A step is ``finding`` when one of its checks found a critical or warning problem, or when the
trace's drop points at one of its check ids; ``ok`` only when every check that applies ran and
passed; ``skipped`` (with the reasons) when a check was skipped, errored, is unknown to this
netdoctor, or none applies; ``manual`` when it has no check. A skipped or manual step is never
a pass: the walk goes on along its ``pass`` branch so the later steps still run, but the run
records it as unverified, and a conclusion reached past an unverified step is ``inconclusive``.
"""

from __future__ import annotations

from dataclasses import dataclass

from netdoctor.checks._support.registry import load_checks
from netdoctor.engine import Diagnosis, RankedFinding, diagnose
from netdoctor.model.findings import CheckOutcome, CheckStatus, Message, Severity
from netdoctor.model.snapshot import Question, Snapshot
from netdoctor.runbooks.model import Runbook, Step

__all__ = ["RunbookRun", "StepResult", "execute", "fill_command", "placeholders"]


@dataclass(frozen=True)
class StepResult:
    step: Step
    status: str  # ok | finding | skipped | manual
    outcomes: tuple[CheckOutcome, ...]
    reasons: tuple[Message, ...]  # why skipped (one per check that did not decide)
    findings: tuple[RankedFinding, ...]
    branch: str  # pass | fail
    target: str  # the next step's id, or the conclusion's
    command: str = ""  # the manual command, placeholders filled from the question


@dataclass(frozen=True)
class RunbookRun:
    runbook: Runbook
    steps: tuple[StepResult, ...]
    conclusion: str  # conclusion id
    outcome: str  # found | cleared | inconclusive
    findings: tuple[RankedFinding, ...]  # the root cause(s) the conclusion names, best first
    unverified: tuple[str, ...]  # steps walked past without a decision
    diagnosis: Diagnosis


_BAD = (Severity.CRITICAL, Severity.WARNING)


def placeholders(d: Diagnosis) -> dict[str, str]:
    """Values for a manual command's ``<NS>``, ``<POD>``, ``<DST_IP>``, ... from the question's
    resolved endpoints. Only what is known: an unknown placeholder stays for the person."""
    out: dict[str, str] = {}
    src, dst = d.source, d.target
    if src is not None and src.pod is not None:
        out["NS"] = out["SRC_NS"] = src.pod.metadata.namespace or "default"
        out["POD"] = out["SRC_POD"] = src.pod.metadata.name
        if src.pod.ips:
            out["SRC_IP"] = out["POD_IP"] = src.pod.ips[0]
    if src is not None and src.node_name:
        out["NODE"] = src.node_name
    if dst is not None:
        if dst.pod is not None:
            out["DST_POD"] = dst.pod.metadata.name
            if dst.pod.ips:
                out["DST_IP"] = out["DST_POD_IP"] = dst.pod.ips[0]
        elif dst.ip:
            out["DST_IP"] = dst.ip
        if dst.service is not None:
            out["SVC"] = dst.service.metadata.name
    if d.cni.agents:
        out["AGENT_NS"] = d.cni.agents[0].namespace
    if d.question is not None and d.question.port:
        out["PORT"] = str(d.question.port)
    return out


def fill_command(command: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        command = command.replace(f"<{name}>", value)
    return command


def _step_result(step: Step, d: Diagnosis, by_id: dict[str, CheckOutcome]) -> StepResult:
    outcomes: list[CheckOutcome] = []
    reasons: list[Message] = []
    applied = 0
    for cid in step.checks:
        if cid not in load_checks():
            reasons.append(Message("runbooks.skip.unknown_check", {"check": cid}))
            continue
        o = by_id.get(cid)
        if o is None:  # the check said it does not apply to this cluster
            continue
        applied += 1
        outcomes.append(o)
        if o.status in (CheckStatus.SKIPPED, CheckStatus.ERROR):
            reasons.append(
                Message(
                    "runbooks.skip.check",
                    {"check": cid, "status": o.status.value},
                )
            )
            if o.reason is not None:
                reasons.append(o.reason)
    ids = set(step.checks)
    findings = tuple(r for r in d.findings if r.finding.id in ids and r.severity in _BAD)
    drop = d.path.hops[d.path.drop_at] if d.path and d.path.drop_at is not None else None
    if findings or (drop is not None and drop.cause in ids):
        status = "finding"
    elif not step.checks:
        status = "manual"
    elif reasons:
        status = "skipped"
    elif applied == 0:
        status = "skipped"
        reasons.append(Message("runbooks.skip.not_applicable", {}))
    else:
        status = "ok"
    branch = "fail" if status == "finding" else "pass"
    br = step.on_fail if branch == "fail" else step.on_pass
    target = br.next or br.conclude or ""
    command = fill_command(step.command, placeholders(d))
    return StepResult(
        step, status, tuple(outcomes), tuple(reasons), findings, branch, target, command
    )


def execute(
    book: Runbook,
    snap: Snapshot,
    question: Question | None = None,
    *,
    diagnosis: Diagnosis | None = None,
) -> RunbookRun:
    """Walk *book* over *snap*. Pass a *diagnosis* to reuse one that ran the same checks."""
    known = [c for c in book.check_ids if c in load_checks()]
    d = diagnosis or diagnose(snap, question, only=known, with_checks=bool(known))
    by_id = {o.check_id: o for o in d.outcomes}
    results: list[StepResult] = []
    seen: set[str] = set()
    current: Step | None = book.steps[0]
    conclusion = ""
    while current is not None and current.id not in seen:  # lint forbids loops; never hang
        seen.add(current.id)
        res = _step_result(current, d, by_id)
        results.append(res)
        br = current.on_fail if res.branch == "fail" else current.on_pass
        if br.conclude is not None:
            conclusion = br.conclude
            break
        current = book.step(br.next) if br.next else None
    unverified = tuple(r.step.id for r in results if r.status in ("skipped", "manual"))
    last = results[-1]
    if last.status == "finding":
        found = last.findings
        outcome = "found"
    else:
        found = ()
        outcome = "inconclusive" if unverified else "cleared"
    return RunbookRun(
        runbook=book,
        steps=tuple(results),
        conclusion=conclusion,
        outcome=outcome,
        findings=found,
        unverified=unverified,
        diagnosis=d,
    )
