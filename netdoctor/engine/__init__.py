"""diagnose: run the checks a question needs, rank the root causes, decide the verdict.

Engine layer: Snapshot (+ Question) -> Diagnosis. Findings on the question's path rank first,
then by severity and confidence. ``broken`` when a critical or warning finding stands;
``healthy`` only when every applicable check ran and passed and no probe failed; otherwise
``inconclusive``. A crashing check becomes an ``error`` outcome and never hides the others
(with ``NETDOCTOR_STRICT=1``, as the test suite sets, it is re-raised).

The checks are found by walking ``netdoctor.checks`` (``load_checks``) the first time they
are selected: importing this module runs none of them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from netdoctor.catalog import load_catalog, service_steps
from netdoctor.checks._support.detect import CniInfo, kube_proxy_replaced
from netdoctor.checks._support.endpoints import (
    Endpoint,
    backend_port,
    nodeport_service,
    probes_for,
    resolve_endpoint,
    service_ip,
    service_pods,
    service_slices,
)
from netdoctor.checks._support.kubeproxy import kube_proxy_mode
from netdoctor.checks._support.registry import (
    CheckSpec,
    Context,
    NotApplicable,
    Note,
    Skip,
    load_checks,
)
from netdoctor.checks.workload import Symptom, classify_symptom
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
    "WalkStep",
    "diagnose",
    "question_path",
    "run_checks",
    "select_checks",
    "service_walk",
    "service_walk_order",
    "symptom_rank",
    "walk_rank",
]


# The knowledge of which cause a symptom points at, and of the steps on the way to a Service,
# is in each cause's catalog entry (``symptoms:``, ``serviceStep:``), so adding a cause does
# not edit the engine. What the symptoms mean:
# refused: the packet arrived (an RST, or kube-proxy's REJECT for a Service without endpoints).
# timeout: dropped on the way, so a missing listener (which answers with an RST) is ruled out.
# host unreachable: an ICMP error (a REJECT rule, or no ARP answer for the next hop).
# net unreachable: the client's own namespace has no route (no IP or routes yet).
# dns failure: the name never resolved: the cluster DNS, a policy blocking port 53, or
# kube-proxy (the DNS ClusterIP goes through it) first.
# A connection to a Service meets its steps in ``serviceStep.order``: the name (when it was
# given as one), the selector, the endpoints' readiness, the targetPort, kube-proxy on the
# client's node, then policy. For a Service question the first failing step is reported first.
@cache
def service_walk_order() -> tuple[tuple[str, ...], frozenset[str]]:
    """The causes on the way to a Service in walk order, and those of the DNS step (read from
    the catalog once, when first needed: importing the engine loads no YAML)."""
    walk = service_steps(load_catalog())
    return tuple(c for c, _ in walk), frozenset(c for c, step in walk if step.step == "dns")


@dataclass(frozen=True)
class RankedFinding:
    finding: Finding
    severity: Severity
    on_path: bool
    code: str


@dataclass(frozen=True)
class WalkStep:
    """One step of the way to a Service target, with what its checks said.

    ``status``: ``failed`` (a finding), ``ok`` (its checks ran and passed), ``skipped`` (data
    missing), ``not-checked`` (no check of it ran: not applicable, or not built yet);
    ``detail`` describes the step from the snapshot (a catalog message).
    """

    step: str  # dns | service | selector | endpoints | target-port | kube-proxy | policy
    status: str
    checks: tuple[str, ...]
    detail: Message


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
    symptom: Symptom | None = None  # what the client saw, from the probes or the symptom text
    walk: tuple[WalkStep, ...] = ()  # a Service target's way, step by step (service_walk)


def select_checks(only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[CheckSpec]:
    """Checks by id or NET code; unknown names are a usage error."""
    catalog = load_catalog()
    registry = load_checks()

    def ids(names: Iterable[str], flag: str) -> set[str]:
        out = set()
        for name in names:
            entry = catalog.entry(name)
            if entry is None or entry.id not in registry:
                raise UsageError(key="error.no_check", params={"flag": flag, "name": name})
            out.add(entry.id)
        return out

    only_ids, skip_ids = ids(only, "--only"), ids(skip, "--skip")
    specs = sorted(registry.values(), key=lambda s: s.code)
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
    if spec.applies is not None and not spec.applies(ctx):
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


def walk_rank(finding_id: str, dst: Endpoint | None) -> int:
    """A finding's step on the way to a Service target (0 first); the rest after the walk.
    DNS steps count only when the target was given as a DNS name."""
    walk, dns_steps = service_walk_order()
    if dst is None or dst.service is None or finding_id not in walk:
        return len(walk)
    if finding_id in dns_steps and dst.dns_name is None:
        return len(walk)
    return walk.index(finding_id)


def symptom_rank(symptom: Symptom | None, finding_id: str) -> int:
    """0: what the symptom points at; 1: neutral; 2: what it rules out."""
    if symptom is None:
        return 1
    entry = load_catalog().entries.get(finding_id)
    says = entry.symptoms.get(symptom.value) if entry is not None else None
    return 0 if says == "first" else 2 if says == "rules-out" else 1


def _on_path(f: Finding, path_nodes: frozenset[str], pods: frozenset[str]) -> bool:
    return bool(path_nodes.intersection(f.nodes)) or bool(pods.intersection(f.pods))


# A CNI agent that is down on a node is often the symptom of that node's real fault (no
# podCIDR, BGP down, the wrong address): when another problem names the same node, it ranks
# first and the agent's finding follows it (both are reported).
_AGENT_FINDING = "cni-agent-unhealthy"


def _downstream_agents(ranked: list[RankedFinding]) -> set[int]:
    """The agent findings (by ``id()``) that share a node with another critical/warning one."""
    named: dict[str, int] = {}
    for r in ranked:
        if r.finding.id != _AGENT_FINDING and r.severity is not Severity.INFO:
            for n in r.finding.nodes:
                named[n] = named.get(n, 0) + 1
    return {
        id(r)
        for r in ranked
        if r.finding.id == _AGENT_FINDING and any(named.get(n) for n in r.finding.nodes)
    }


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
    ns = src.pod.metadata.namespace if src is not None and src.pod is not None else None
    dst = resolve_endpoint(snap, q.to, "--to", namespace=ns) if q and q.to else None
    if q is not None and dst is not None and dst.kind == "node" and dst.service is None:
        # A node's address on a NodePort: kube-proxy on that node forwards to the Service.
        svc = nodeport_service(snap, q.port, q.protocol)
        if svc is not None:
            dst = dataclasses.replace(dst, service=svc)
    path_nodes = frozenset(n for e in (src, dst) if e for n in [e.node_name] if n)
    path_pods = frozenset(e.pod.ref for e in (src, dst) if e and e.pod)

    ctx = Context(snapshot=snap, question=q, path_nodes=path_nodes, source=src, target=dst)
    outcomes = run_checks(ctx, select_checks(only, skip) if with_checks else [])
    path = question_path(snap, q, src, dst, size=size)
    drop = path.hops[path.drop_at] if path and path.drop_at is not None else None
    probes = probes_for(snap, src, dst)
    symptom = classify_symptom(q, [p for p in probes if p.result != "ok"]) if q else None

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
    downstream = _downstream_agents(ranked)
    ranked.sort(
        key=lambda r: (
            drop is None or r.finding.id != drop.cause,  # the cause of the hop where it dies
            walk_rank(r.finding.id, dst),
            symptom_rank(symptom, r.finding.id),
            not r.on_path,
            r.severity.rank,
            id(r) in downstream,
            -r.finding.confidence,
            r.code,
            r.finding.subject.ref,
        )
    )

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
        symptom=symptom,
        walk=service_walk(snap, src, dst, q, outcomes),
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
    if not src.pod.ips or (dst.pod is not None and not dst.pod.ips):
        return None  # a pod without an address sends or receives nothing: NET-901 says why
    port = q.port
    if dst.kind == "service" and dst.service is not None:
        # kube-proxy DNATs the ClusterIP to a backend: follow the packet to the first ready one.
        backend = _service_backend(snap, dst, q.port)
        if backend is None:
            return None
        target, port = backend
    elif dst.pod is not None:
        target = dst.pod.ref
    elif dst.ip is not None:
        target = dst.ip
    else:
        return None
    protocol = q.protocol if q.port else "ICMP"
    return trace(snap, src.pod.ref, target, port=port, protocol=protocol, size=size)


def _service_backend(
    snap: Snapshot, dst: Endpoint, port: int | None
) -> tuple[str, int | None] | None:
    """The first ready backend pod of a Service target, and the port the packet has after
    kube-proxy's DNAT (targetPort; a named one looked up in the pod's containers)."""
    svc = dst.service
    backends = [p for p in dst.backend_pods(snap) if p.ready and p.ips]
    if svc is None or not backends:
        return None
    pod = backends[0]
    return pod.ref, backend_port(svc, pod, port)


_WALK_CHECKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dns", ("dns-unhealthy", "networkpolicy-blocks-dns")),
    ("service", ()),
    ("selector", ("service-no-endpoints",)),
    ("endpoints", ("service-endpoints-not-ready",)),
    ("target-port", ("service-targetport-mismatch",)),
    ("kube-proxy", ("kube-proxy-unhealthy",)),
    ("policy", ("networkpolicy-denies",)),
)


def service_walk(
    snap: Snapshot,
    src: Endpoint | None,
    dst: Endpoint | None,
    q: Question | None,
    outcomes: Iterable[CheckOutcome],
) -> tuple[WalkStep, ...]:
    """The steps a connection to a Service target takes, each with its checks' verdict.
    Empty unless the target is a Service. An ExternalName Service ends the walk at DNS."""
    if dst is None or dst.service is None:
        return ()
    svc = dst.service
    by_id = {o.check_id: o for o in outcomes}
    details = _walk_details(snap, src, dst, q)
    steps = []
    for step, ids in _WALK_CHECKS:
        if step == "dns" and dst.dns_name is None:
            continue
        if step not in details:
            break  # an ExternalName Service: nothing after DNS is proxied
        ran = [by_id[i] for i in ids if i in by_id]
        if any(o.status is CheckStatus.FINDING for o in ran):
            status = "failed"
        elif any(o.status in (CheckStatus.SKIPPED, CheckStatus.ERROR) for o in ran):
            status = "skipped"
        elif ran or not ids:
            status = "ok"
        else:
            status = "not-checked"
        steps.append(WalkStep(step, status, ids, details[step]))
        if svc.spec.type == "ExternalName":
            break
    return tuple(steps)


def _walk_details(
    snap: Snapshot, src: Endpoint | None, dst: Endpoint, q: Question | None
) -> dict[str, Message]:
    svc = dst.service
    assert svc is not None
    ref = svc.ref
    out = {"dns": Message("walk.dns", {"name": dst.dns_name or "", "service": ref})}
    kind = svc.spec.type
    if kind == "ExternalName":
        out["service"] = Message(
            "walk.service_external", {"service": ref, "name": svc.spec.external_name or ""}
        )
        return out
    ip = service_ip(svc)
    if ip is None:
        out["service"] = Message("walk.service_headless", {"service": ref})
    else:
        out["service"] = Message("walk.service", {"service": ref, "type": kind, "ip": ip})
    sel = ",".join(f"{k}={v}" for k, v in sorted(svc.spec.selector.items()))
    count = str(len(service_pods(snap, svc))) if snap.pods is not None else "?"
    out["selector"] = Message("walk.selector", {"selector": sel or "-", "count": count})
    eps = [e for sl in service_slices(snap, svc) for e in sl.endpoints or ()]
    ready = sum(1 for e in eps if e.conditions.ready is not False)
    out["endpoints"] = Message("walk.endpoints", {"ready": str(ready), "total": str(len(eps))})
    port = next(
        (
            p
            for p in svc.spec.ports
            if q is None or q.port is None or q.port in (p.port, p.node_port)
        ),
        None,
    )
    out["target-port"] = Message(
        "walk.target_port",
        {
            "port": str(port.port) if port else "-",
            "target_port": str(port.target_port if port.target_port is not None else port.port)
            if port
            else "-",
        },
    )
    node = src.node_name if src is not None else None
    mode = kube_proxy_mode(snap)
    if kube_proxy_replaced(snap):
        out["kube-proxy"] = Message("walk.kube_proxy_replaced", {"node": node or "-"})
    else:
        out["kube-proxy"] = Message(
            "walk.kube_proxy" if node else "walk.kube_proxy_all",
            {"node": node or "", "mode": mode[0] if mode else "?"},
        )
    out["policy"] = Message("walk.policy", {"service": ref})
    return out
