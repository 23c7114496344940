"""Service path root cause NET-804: kube-proxy on a node is missing, not Ready or restarting.

Checks layer: pure functions over the Snapshot. For a Service question only the client's node
counts: that is where its packets meet kube-proxy's rules. Not applicable where Cilium replaces
kube-proxy, or where no kube-proxy runs at all. Its mode comes from ``kube_proxy_mode``
(``netdoctor.checks._support.kubeproxy``), which the engine's Service walk reads too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from netdoctor.checks._support.common import (
    daemonset_fits,
    daemonset_missing_evidence,
    log_evidence,
    log_lines,
    pod_evidence,
)
from netdoctor.checks._support.detect import kube_proxy_replaced
from netdoctor.checks._support.kubeproxy import kube_proxy_mode
from netdoctor.checks._support.registry import Context, NotApplicable, Yielded, check
from netdoctor.checks.service._common import readiness_evidence
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import DaemonSet, Node, Pod

__all__ = ["KUBE_PROXY", "kube_proxy_unhealthy"]

KUBE_PROXY = "kube-proxy"
RESTARTS_WARN = 5


def _kube_proxy(ctx: Context) -> tuple[DaemonSet | None, list[Pod]]:
    snap = ctx.snapshot
    ds = snap.daemonset_by_ref.get(f"kube-system/{KUBE_PROXY}")
    pods = []
    for p in snap.pods_by_namespace.get("kube-system", ()):
        owner = p.owner("DaemonSet")
        if (owner is not None and owner.name == KUBE_PROXY) or (
            owner is None and p.metadata.name.startswith(f"{KUBE_PROXY}-")
        ):
            pods.append(p)
    return ds, pods


def _expected_on(ds: DaemonSet | None, node: Node) -> bool:
    if node.spec.unschedulable or node.metadata.labels.get("kubernetes.io/os", "linux") != "linux":
        return False
    return ds is None or daemonset_fits(ds, node)


_KLOG_ERROR = re.compile(r"^[EF]\d{4} ")


def _through_kube_proxy(ctx: Context) -> bool:
    """Traffic kube-proxy handles: to a Service, a node (NodePort), an address or a name."""
    return ctx.target is None or ctx.target.kind in ("service", "node", "ip", "dns")


@check(
    "kube-proxy-unhealthy",
    code="NET-804",
    needs=("k8s.pods", "k8s.nodes"),
    applies=_through_kube_proxy,
)
def kube_proxy_unhealthy(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if kube_proxy_replaced(snap):
        yield NotApplicable()  # Cilium's kube-proxy replacement does the Service work
        return
    ds, pods = _kube_proxy(ctx)
    mode = kube_proxy_mode(snap)
    if ds is None and not pods and mode is None:
        yield NotApplicable()  # no kube-proxy here at all (k3s embeds it; or it is replaced)
        return
    mode_name = mode[0] if mode else "iptables"
    # A Service question: the client's node is where its packets meet kube-proxy's rules.
    only = ctx.source.node_name if ctx.source is not None and ctx.target is not None else None
    by_node: dict[str, list[Pod]] = {}
    for p in pods:
        by_node.setdefault(p.spec.node_name, []).append(p)
    for node in snap.nodes or ():
        n = node.metadata.name
        if only is not None and n != only:
            continue
        here = by_node.get(n, [])
        if not here:
            if not _expected_on(ds, node):
                continue
            ev = [daemonset_missing_evidence(snap, "kube-system", KUBE_PROXY, n)]
            if mode is not None:
                ev.append(mode[1])
            yield Finding(
                id="kube-proxy-unhealthy",
                subject=Subject(kind="Node", name=n),
                variant="missing",
                params={"node": n, "mode": mode_name, "pod": "", "reason": ""},
                evidence=tuple(ev),
                fix=(
                    Action(
                        message=Message("fix.kube_proxy_describe", {"node": n}),
                        command=f"kubectl -n kube-system describe daemonset {KUBE_PROXY}",
                    ),
                ),
                verify=(_kube_proxy_verify(n),),
                nodes=(n,),
            )
            continue
        for pod in here:
            yield from _kube_proxy_pod(ctx, pod, mode, mode_name)


def _kube_proxy_verify(node: str) -> Action:
    return Action(
        message=Message("verify.kube_proxy", {"node": node}),
        command=(
            f"kubectl -n kube-system get pods -l k8s-app={KUBE_PROXY} -o wide"
            f" --field-selector spec.nodeName={node}"
        ),
    )


def _kube_proxy_pod(
    ctx: Context, pod: Pod, mode: tuple[str, Evidence] | None, mode_name: str
) -> Iterator[Finding]:
    snap = ctx.snapshot
    node = pod.spec.node_name
    restarts = pod.restarts
    if pod.ready and restarts < RESTARTS_WARN:
        return
    ev = [pod_evidence(snap, pod, "status.phase", pod.status.phase or "Unknown")]
    ev += readiness_evidence(ctx, pod)
    reason = next(
        (cs.state.waiting.reason for cs in pod.status.container_statuses if cs.state.waiting),
        "",
    )
    if restarts:
        ev.append(pod_evidence(snap, pod, "status.containerStatuses[].restartCount", str(restarts)))
    text = snap.log(pod, KUBE_PROXY)
    if text:
        hits = list(log_lines(text, _KLOG_ERROR))
        if hits:
            line_no, m = hits[-1]
            ev.append(log_evidence(snap, pod, KUBE_PROXY, line_no, m.string))
    facts = snap.node_facts.get(node)
    if mode_name == "iptables" and facts is not None and facts.iptables is not None:
        has_chain = facts.iptables.chain("nat", "KUBE-SERVICES") is not None
        ev.append(
            Evidence(
                source=snap.node_source(node, "iptables"),
                object=f"Node/{node}",
                field="*nat :KUBE-SERVICES",
                value="present" if has_chain else "absent",
                node=node,
            )
        )
    if mode is not None:
        ev.append(mode[1])
    ns, name = pod.metadata.namespace, pod.metadata.name
    yield Finding(
        id="kube-proxy-unhealthy",
        subject=Subject(kind="Pod", name=name, namespace=ns),
        variant="not_ready" if not pod.ready else "restarting",
        params={
            "node": node,
            "mode": mode_name,
            "pod": name,
            "reason": reason or pod.status.phase or "NotReady",
            "restarts": str(restarts),
        },
        evidence=tuple(ev),
        fix=(
            Action(
                message=Message("fix.kube_proxy_logs", {"pod": name}),
                command=f"kubectl -n {ns} logs {name} --previous --tail=100",
            ),
            Action(
                message=Message("fix.kube_proxy_restart", {"pod": name, "node": node}),
                command=f"kubectl -n {ns} delete pod {name}",
            ),
        ),
        verify=(_kube_proxy_verify(node),),
        nodes=(node,) if node else (),
        pods=(pod.ref,),
        severity=Severity.WARNING if pod.ready else None,
    )
