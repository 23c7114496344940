"""Workload root causes (NET-9xx): the question's own pods, and what the symptom says.

Checks layer: pure functions over the Snapshot and the question. What a failed connection
printed tells where the packet got to (``classify_symptom``): ``refused`` means it arrived and
nothing listened (or kube-proxy rejected it for a Service without endpoints); a ``timeout`` is a
drop on the way; ``No route to host`` is an ICMP host-unreachable (a REJECT rule, or ARP got no
answer); ``Network is unreachable`` is the pod's own routing table having no route; "could
not resolve host" (or a failed DNS probe) means the name never resolved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from enum import StrEnum

from netdoctor.checks._support.common import pod_evidence, waiting_evidence, warning_event_evidence
from netdoctor.checks._support.endpoints import Endpoint, probes_for, service_pods
from netdoctor.checks._support.registry import Context, NotApplicable, Yielded, check
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import Pod
from netdoctor.model.snapshot import Probe, Question

__all__ = ["Symptom", "classify_symptom", "pod_not_ready", "target_not_listening"]


class Symptom(StrEnum):
    """Where the packet got to, as the error a client printed tells it."""

    REFUSED = "refused"  # it arrived: an RST (or kube-proxy's REJECT for a Service w/o endpoints)
    TIMEOUT = "timeout"  # dropped somewhere: no answer at all
    HOST_UNREACHABLE = "host-unreachable"  # ICMP host unreachable: a REJECT rule or no ARP reply
    NET_UNREACHABLE = "net-unreachable"  # no route in the client's own namespace
    DNS = "dns-failure"  # the name did not resolve: no connection was even tried


# Probe results (bundle-format.md) and the words clients print (curl, nc, ping, Go, Java; en/zh).
_PROBE_RESULT = {
    "refused": Symptom.REFUSED,
    "timeout": Symptom.TIMEOUT,
    "unreachable": Symptom.HOST_UNREACHABLE,
    "no-route": Symptom.NET_UNREACHABLE,
}
_TEXT = (
    (
        Symptom.DNS,
        re.compile(
            r"could not resolve|no such host|NXDOMAIN|server misbehaving|no servers could be"
            r" reached|Name or service not known|Temporary failure in name resolution"
            r"|域名解析失败|无法解析",
            re.I,
        ),
    ),
    # Only the error strings themselves: "拒绝" alone is also a policy's "deny" (默认拒绝策略).
    (
        Symptom.REFUSED,
        re.compile(r"connection refused|ECONNREFUSED|refused to connect|连接被拒绝|拒绝连接", re.I),
    ),
    (Symptom.NET_UNREACHABLE, re.compile(r"network is unreachable|ENETUNREACH|网络不可达", re.I)),
    (
        Symptom.HOST_UNREACHABLE,
        re.compile(
            r"no route to host|EHOSTUNREACH|host unreachable|主机不可达|没有到主机的路由", re.I
        ),
    ),
    (
        Symptom.TIMEOUT,
        re.compile(r"timed? ?out|ETIMEDOUT|100% packet loss|超时|丢包", re.I),
    ),
)


def classify_symptom(question: Question | None, probes: Iterable[Probe] = ()) -> Symptom | None:
    """The question's symptom: a failed probe's result first (measured), else the user's text."""
    for p in probes:
        if p.kind == "dns" and p.result not in ("ok", "refused"):
            return Symptom.DNS  # a lookup that timed out or got NXDOMAIN: DNS is what failed
        found = _PROBE_RESULT.get(p.result)
        if found is not None and (p.kind != "icmp" or found is not Symptom.REFUSED):
            return found
    text = question.symptom if question is not None else None
    for symptom, pattern in _TEXT:
        if text and pattern.search(text):
            return symptom
    return None


# --- NET-901 ----------------------------------------------------------------------------------


def _question_pods(ctx: Context) -> list[tuple[str, Pod]]:
    out = []
    for role, end in (("source", ctx.source), ("target", ctx.target)):
        if end is not None and end.pod is not None:
            out.append((role, end.pod))
    return out


def _names_a_pod(ctx: Context) -> bool:
    return any(e is not None and e.pod is not None for e in (ctx.source, ctx.target))


def _asks_a_workload(ctx: Context) -> bool:
    return ctx.target is not None and ctx.target.kind in ("pod", "service")


@check("pod-not-ready", code="NET-901", needs=("k8s.pods",), applies=_names_a_pod)
def pod_not_ready(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    pods = _question_pods(ctx)
    if not pods:
        yield NotApplicable()  # about the question's own pods: none named
        return
    for role, pod in pods:
        has_ip = bool(pod.ips)
        if pod.ready and has_ip:
            continue
        ns, name = pod.metadata.namespace, pod.metadata.name
        ev = [pod_evidence(snap, pod, "status.phase", pod.status.phase or "Unknown")]
        if not has_ip:
            ev.append(pod_evidence(snap, pod, "status.podIP", "<none>"))
        for cond in pod.status.conditions:
            if cond.status != "True" and cond.type in ("Ready", "PodScheduled", "Initialized"):
                text = " ".join(x for x in (cond.status, cond.reason, cond.message) if x)
                ev.append(pod_evidence(snap, pod, f"status.conditions[{cond.type}]", text[:300]))
        reason = ""
        for cs in pod.status.container_statuses:
            if cs.state.waiting is not None:
                reason = reason or cs.state.waiting.reason
        ev += waiting_evidence(snap, pod)
        ev += warning_event_evidence(snap, pod)[-4:]
        params = {
            "pod": f"{ns}/{name}",
            "role": role,
            "phase": pod.status.phase or "Unknown",
            "reason": reason or pod.status.reason or pod.status.phase or "NotReady",
        }
        fixes = [
            Action(
                message=Message("fix.pod_describe", params),
                command=f"kubectl -n {ns} describe pod {name}",
            )
        ]
        statuses = pod.status.container_statuses
        if any(cs.restart_count or cs.last_state.terminated is not None for cs in statuses):
            fixes.append(
                Action(
                    message=Message("fix.pod_logs", params),
                    command=f"kubectl -n {ns} logs {name} --all-containers --previous --tail=100",
                )
            )
        yield Finding(
            id="pod-not-ready",
            subject=Subject(kind="Pod", name=name, namespace=ns),
            variant="no_ip" if not has_ip else "default",
            params=params,
            evidence=tuple(ev),
            fix=tuple(fixes),
            verify=(
                Action(
                    message=Message("verify.pod_ready", params),
                    command=f"kubectl -n {ns} get pod {name} -o wide",
                ),
            ),
            pods=(pod.ref,),
            nodes=(pod.spec.node_name,) if pod.spec.node_name else (),
        )


# --- NET-902 ----------------------------------------------------------------------------------


def _listeners(ctx: Context, target: Endpoint) -> tuple[list[Pod], int | None]:
    """The pods that should answer, and the port they should answer on."""
    q = ctx.question
    port = q.port if q is not None else None
    if target.pod is not None:
        return [target.pod], port
    if target.service is not None:
        svc = target.service
        pods = service_pods(ctx.snapshot, svc)
        for sp in svc.spec.ports:
            if port is None or port in (sp.port, sp.node_port):
                tp = sp.target_port if sp.target_port is not None else sp.port
                return pods, tp if isinstance(tp, int) else None
        return pods, None
    return [], port


@check("target-not-listening", code="NET-902", needs=("k8s.pods",), applies=_asks_a_workload)
def target_not_listening(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    q, target = ctx.question, ctx.target
    if q is None or target is None or target.kind not in ("pod", "service"):
        yield NotApplicable()
        return
    pods, port = _listeners(ctx, target)
    if not pods or not all(p.ready for p in pods):
        return  # no backend, or one not ready: NET-801/802/901 explain a refusal first
    probes = [
        p
        for p in probes_for(snap, ctx.source, target)
        if p.result == "refused" and (q.port is None or p.to.port in (None, q.port))
    ]
    told = classify_symptom(q) is Symptom.REFUSED
    if not probes and not told:
        return
    ev: list[Evidence] = [
        Evidence(
            source=f"probes/{p.name}.json",
            object=f"Probe/{p.name}",
            field="result",
            value=f"{p.result}: {p.detail}".strip(": ")[:300],
        )
        for p in probes[:2]
    ]
    if not probes and q.symptom:
        ev.append(
            Evidence(source="bundle.yaml", object="Question", field="symptom", value=q.symptom)
        )
    port_s = str(port) if port is not None else "?"
    declared: list[str] = []
    for pod in pods[:4]:
        ports = [
            f"{cp.container_port}/{cp.protocol or 'TCP'}"
            for c in pod.spec.containers
            for cp in c.ports
        ]
        declared += [x for x in ports if x not in declared]
        ev.append(pod_evidence(snap, pod, "spec.containers[].ports", ", ".join(ports) or "none"))
    pod = pods[0]
    ns, name = pod.metadata.namespace, pod.metadata.name
    params = {
        "target": target.raw,
        "pod": f"{ns}/{name}",
        "port": port_s,
        "declared": ", ".join(declared) or "none",
    }
    yield Finding(
        id="target-not-listening",
        subject=Subject(kind="Pod", name=name, namespace=ns),
        variant="declared_other" if declared else "default",
        params=params,
        evidence=tuple(ev),
        fix=(
            Action(
                message=Message("fix.listen_check", params),
                command=f"kubectl -n {ns} exec {name} -- ss -ltnp",
            ),
            Action(
                message=Message("fix.listen_address", params),
                command=f"kubectl -n {ns} logs {name} --all-containers --tail=50",
            ),
        ),
        verify=(
            Action(
                message=Message("verify.listen", params),
                command=f"kubectl -n {ns} exec {name} -- ss -ltn 'sport = :{port_s}'",
            ),
        ),
        pods=tuple(p.ref for p in pods[:4]),
        nodes=(pod.spec.node_name,) if pod.spec.node_name else (),
        # Words the user typed are not a measurement: without a probe the finding says what
        # the refusal would mean, and never makes the verdict broken on its own.
        severity=None if probes else Severity.INFO,
        confidence=1.0 if probes else 0.6,
    )
