"""diagnose: run the checks a question needs, rank the root causes, decide the verdict.

Engine layer: Snapshot (+ Question) -> Diagnosis. Findings on the question's path rank first,
then by severity and confidence. ``broken`` when a critical or warning finding stands;
``healthy`` only when every applicable check ran and passed and no probe failed; otherwise
``inconclusive``. A crashing check becomes an ``error`` outcome and never hides the others
(with ``NETDOCTOR_STRICT=1``, as the test suite sets, it is re-raised).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import netdoctor.checks  # noqa: F401  (registers every check)
from netdoctor.catalog import load_catalog
from netdoctor.checks.detect import CniInfo
from netdoctor.checks.endpoints import Endpoint, resolve_endpoint
from netdoctor.checks.registry import REGISTRY, CheckSpec, Context, NotApplicable, Note, Skip
from netdoctor.errors import UsageError
from netdoctor.model.findings import (
    CheckOutcome,
    CheckStatus,
    Finding,
    Message,
    Severity,
    Verdict,
)
from netdoctor.model.snapshot import Probe, Question, Snapshot
from netdoctor.trace.path import Path as TracePath
from netdoctor.trace.path import trace

__all__ = [
    "Diagnosis",
    "RankedFinding",
    "diagnose",
    "question_path",
    "run_checks",
    "select_checks",
]


@dataclass(frozen=True)
class RankedFinding:
    finding: Finding
    severity: Severity
    on_path: bool
    code: str


@dataclass(frozen=True)
class Diagnosis:
    snapshot: Snapshot
    question: Question | None
    source: Endpoint | None
    target: Endpoint | None
    path_nodes: frozenset[str]
    cni: CniInfo
    outcomes: tuple[CheckOutcome, ...]
    findings: tuple[RankedFinding, ...]
    verdict: Verdict
    reasons: tuple[Message, ...] = field(default=())  # why inconclusive, in words
    probes: tuple[Probe, ...] = ()
    path: TracePath | None = None


def select_checks(only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[CheckSpec]:
    """Checks by id or NET code; unknown names are a usage error."""
    catalog = load_catalog()

    def ids(names: Iterable[str], flag: str) -> set[str]:
        out = set()
        for name in names:
            entry = catalog.entry(name)
            if entry is None or entry.id not in REGISTRY:
                raise UsageError(
                    f"{flag} {name!r}: no such check (see 'netdoctor checks')",
                    key="error.no_check",
                    params={"flag": flag, "name": name},
                )
            out.add(entry.id)
        return out

    only_ids, skip_ids = ids(only, "--only"), ids(skip, "--skip")
    specs = sorted(REGISTRY.values(), key=lambda s: s.code)
    return [s for s in specs if (not only_ids or s.id in only_ids) and s.id not in skip_ids]


def _strict() -> bool:
    return os.environ.get("NETDOCTOR_STRICT") == "1"


# InputNote reasons a live read leaves on a kind it could not list: the skip says why
# (``skip.forbidden``: "list networkpolicies.networking.k8s.io is not allowed").
_LIVE_SKIP_REASONS = frozenset(
    {"forbidden", "unauthorized", "api_timeout", "api_error", "gone", "not_served"}
)


def _why_missing(snap: Snapshot, path: str) -> Message:
    for note in snap.input_notes:
        if note.file == path and note.reason in _LIVE_SKIP_REASONS:
            return Message(f"skip.{note.reason}", {**note.params, "path": path})
    return Message("skip.missing", {"path": path})


def _run_one(spec: CheckSpec, ctx: Context) -> CheckOutcome | None:
    snap = ctx.snapshot
    if spec.cni and ctx.cni.names and not any(ctx.cni.has(c) for c in spec.cni):
        return None
    for need in spec.needs:
        if not snap.has(need):
            return CheckOutcome(
                check_id=spec.id,
                status=CheckStatus.SKIPPED,
                reason=_why_missing(snap, snap.source(need)),
            )
    findings: list[Finding] = []
    notes: list[Message] = []
    try:
        for item in spec.run(ctx):
            if isinstance(item, NotApplicable):
                return None
            if isinstance(item, Skip):
                return CheckOutcome(
                    check_id=spec.id,
                    status=CheckStatus.SKIPPED,
                    reason=item.message,
                    notes=tuple(notes),
                )
            if isinstance(item, Note):
                notes.append(item.message)
            else:
                findings.append(item)
    except Exception as exc:
        if _strict():
            raise
        return CheckOutcome(
            check_id=spec.id,
            status=CheckStatus.ERROR,
            reason=Message("check.error", {"error": f"{type(exc).__name__}: {exc}"}),
        )
    return CheckOutcome(
        check_id=spec.id,
        status=CheckStatus.FINDING if findings else CheckStatus.OK,
        findings=tuple(findings),
        notes=tuple(notes),
    )


def run_checks(ctx: Context, specs: Iterable[CheckSpec] | None = None) -> list[CheckOutcome]:
    out = []
    for spec in specs if specs is not None else select_checks():
        outcome = _run_one(spec, ctx)
        if outcome is not None:
            out.append(outcome)
    return out


def _on_path(f: Finding, path_nodes: frozenset[str], pods: frozenset[str]) -> bool:
    return bool(path_nodes.intersection(f.nodes)) or bool(pods.intersection(f.pods))


def diagnose(
    snap: Snapshot,
    question: Question | None = None,
    *,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    size: int = 84,
    with_checks: bool = True,
) -> Diagnosis:
    """Answer the question (or, without one, report on the whole cluster's health)."""
    catalog = load_catalog()
    q = question if question is not None else snap.manifest.question
    if q is not None and q.empty:
        q = None
    src = resolve_endpoint(snap, q.from_, "--from") if q and q.from_ else None
    dst = resolve_endpoint(snap, q.to, "--to") if q and q.to else None
    path_nodes = frozenset(n for e in (src, dst) if e for n in [e.node_name] if n)
    path_pods = frozenset(e.pod.ref for e in (src, dst) if e and e.pod)

    ctx = Context(snapshot=snap, question=q, path_nodes=path_nodes, source=src, target=dst)
    outcomes = run_checks(ctx, select_checks(only, skip) if with_checks else [])
    path = question_path(snap, q, src, dst, size=size)
    drop = path.hops[path.drop_at] if path and path.drop_at is not None else None

    ranked: list[RankedFinding] = []
    for o in outcomes:
        for f in o.findings:
            entry = catalog.entry(f.id)
            ranked.append(
                RankedFinding(
                    finding=f,
                    severity=catalog.severity(f),
                    on_path=_on_path(f, path_nodes, path_pods),
                    code=entry.code if entry else "",
                )
            )
    ranked.sort(
        key=lambda r: (
            drop is None or r.finding.id != drop.cause,  # the cause of the hop where it dies
            not r.on_path,
            r.severity.rank,
            -r.finding.confidence,
            r.code,
            r.finding.subject.ref,
        )
    )

    probes = _probes_for(snap, src, dst)
    failed_probes = [p for p in probes if p.result != "ok"]
    reasons: list[Message] = []
    if drop is not None or any(r.severity in (Severity.CRITICAL, Severity.WARNING) for r in ranked):
        verdict = Verdict.BROKEN
    else:
        skipped = [o for o in outcomes if o.status in (CheckStatus.SKIPPED, CheckStatus.ERROR)]
        if skipped:
            reasons.append(Message("inconclusive.skipped", {"count": str(len(skipped))}))
        # A check that ran but could not look at a node the question's traffic crosses has
        # not cleared that node: "healthy" would be a guess.
        for o in outcomes:
            for note in o.notes:
                if note.params.get("node") in path_nodes:
                    reasons.append(
                        Message(
                            "inconclusive.path_node_unchecked",
                            {"check": o.check_id, "node": note.params["node"]},
                        )
                    )
        for p in failed_probes:
            reasons.append(
                Message(
                    "inconclusive.probe_failed",
                    {"probe": p.name, "kind": p.kind, "result": p.result},
                )
            )
        if not outcomes and with_checks:
            reasons.append(Message("inconclusive.nothing_checked", {}))
        if path is not None and path.verdict == "unknown":
            open_hops = [h for h in path.hops if h.verdict == "unknown"]
            files = sorted({h.message.params.get("path", "") for h in open_hops})
            if files and "" not in files:  # every open hop is a missing file: name them
                reasons.append(Message("inconclusive.path_missing", {"files": ", ".join(files)}))
            else:
                reasons.append(Message("inconclusive.path_unknown", {}))
        verdict = Verdict.INCONCLUSIVE if reasons else Verdict.HEALTHY
    return Diagnosis(
        snapshot=snap,
        question=q,
        source=src,
        target=dst,
        path_nodes=path_nodes,
        cni=ctx.cni,
        outcomes=tuple(outcomes),
        findings=tuple(ranked),
        verdict=verdict,
        reasons=tuple(reasons),
        probes=probes,
        path=path,
    )


def question_path(
    snap: Snapshot,
    q: Question | None,
    src: Endpoint | None,
    dst: Endpoint | None,
    *,
    size: int = 84,
) -> TracePath | None:
    """The packet's round trip for a question from a pod to a pod or an address, else None."""
    if q is None or src is None or dst is None or src.pod is None:
        return None
    target = dst.pod.ref if dst.pod is not None else dst.ip
    if target is None:
        return None
    protocol = q.protocol if q.port else "ICMP"
    return trace(snap, src.pod.ref, target, port=q.port, protocol=protocol, size=size)


def _probes_for(snap: Snapshot, src: Endpoint | None, dst: Endpoint | None) -> tuple[Probe, ...]:
    """The probes that measured the question's flow (all of them when there is no question)."""
    probes = snap.probes or ()
    if src is None and dst is None:
        return tuple(probes)

    def matches(p: Probe) -> bool:
        if src is not None:
            if src.pod is not None and p.from_.pod not in (None, src.pod.ref):
                return False
            if src.kind == "node" and src.node and p.from_.node not in (None, src.node.name):
                return False
        if dst is not None:
            targets = {dst.raw, dst.ip, dst.pod.ref if dst.pod else None}
            targets.add(dst.service.ref if dst.service else None)
            named = {p.to.ip, p.to.pod, p.to.service} - {None}
            if named and not named & (targets - {None}):
                return False
        return True

    return tuple(p for p in probes if matches(p))
