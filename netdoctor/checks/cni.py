"""CNI-generic root causes (NET-2xx): the agent on each node, configs, overlay plumbing.

Checks layer: pure functions over the Snapshot.
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
    warning_event_evidence,
)
from netdoctor.checks._support.detect import AgentInstall
from netdoctor.checks._support.registry import Context, NotApplicable, Yielded, check
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import Node, Pod

# Lines that carry an agent's error, strongest first: a logged level (calico-node's
# "[PANIC]"/"[FATAL]"/"[ERROR]", logrus' "level=error", klog's "E0214"), then bare phrases.
_LEVELLED = re.compile(r"(\[(?:ERROR|FATAL|PANIC)\]|level=(?:error|fatal|panic)|^[EF]\d{4} )")
_LOOSE = re.compile(r"(\bpanic: |Failed to |failed to )")
# Go's runtime line after a logrus panic ("panic: (*logrus.Entry) 0xc000a1c380") says nothing.
_GO_PANIC_VALUE = re.compile(r"^panic: \(\*logrus\.")
RESTARTS_WARN = 5
_BGP_DOWN = "BGP not established"


def _label_selector(agent: AgentInstall) -> str:
    if agent.daemonset is not None and agent.daemonset.spec.selector.match_labels:
        labels = agent.daemonset.spec.selector.match_labels
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return ""


def _last_error(ctx: Context, pod: Pod, container: str) -> Evidence | None:
    text = ctx.snapshot.log(pod, container)
    if not text:
        return None
    last = None
    for pattern in (_LEVELLED, _LOOSE):
        for n, m in log_lines(text, pattern):
            if not _GO_PANIC_VALUE.match(m.string):
                last = (n, m.string.strip())
        if last is not None:
            break
    if last is None:
        return None
    return log_evidence(ctx.snapshot, pod, container, *last)


def _expected_on(agent: AgentInstall, node: Node) -> bool:
    """Whether the DaemonSet should have a pod on the node, by taints and nodeSelector."""
    return agent.daemonset is None or daemonset_fits(agent.daemonset, node)


@check("cni-agent-unhealthy", code="NET-202", needs=("k8s.pods",))
def agent_unhealthy(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if not ctx.cni.agents:
        yield NotApplicable()
        return
    for agent in ctx.cni.agents:
        container = agent.agent.container
        by_node: dict[str, list[Pod]] = {}
        for p in agent.pods:
            by_node.setdefault(p.spec.node_name, []).append(p)
        selector = _label_selector(agent)
        ns, ds = agent.namespace, agent.name
        sel = f" -l {selector}" if selector else ""
        for node in snap.nodes or ():
            name = node.metadata.name
            pods = by_node.get(name, [])
            if not pods:
                if not _expected_on(agent, node) or node.spec.unschedulable:
                    continue
                ev = [daemonset_missing_evidence(snap, ns, ds, name)]
                if agent.daemonset is not None:
                    st = agent.daemonset.status
                    ev.append(
                        Evidence(
                            source=snap.source("k8s.daemonsets"),
                            object=f"DaemonSet/{ns}/{ds}",
                            field="status.desiredNumberScheduled/numberReady",
                            value=f"{st.desired_number_scheduled}/{st.number_ready}",
                        )
                    )
                yield Finding(
                    id="cni-agent-unhealthy",
                    subject=Subject(kind="Node", name=name),
                    variant="missing",
                    params={"agent": ds, "namespace": ns, "node": name},
                    evidence=tuple(ev),
                    fix=(
                        Action(
                            message=Message("fix.agent_missing", {"agent": ds, "node": name}),
                            command=f"kubectl -n {ns} describe daemonset {ds}",
                        ),
                    ),
                    verify=(
                        Action(
                            message=Message("verify.agent_pods", {"agent": ds}),
                            command=(
                                f"kubectl -n {ns} get pods{sel} -o wide"
                                f" --field-selector spec.nodeName={name}"
                            ),
                        ),
                    ),
                    nodes=(name,),
                )
                continue
            for pod in pods:
                yield from _pod_problems(ctx, agent, pod, container, sel)


def _pod_problems(
    ctx: Context, agent: AgentInstall, pod: Pod, container: str, sel: str
) -> Iterator[Finding]:
    snap = ctx.snapshot
    ns, node = pod.metadata.namespace, pod.spec.node_name
    status = next((c for c in pod.status.container_statuses if c.name == container), None)
    if status is None and pod.status.container_statuses:
        status = pod.status.container_statuses[0]
    ready = pod.ready
    restarts = status.restart_count if status else 0
    if ready and restarts < RESTARTS_WARN:
        return
    ev: list[Evidence] = [pod_evidence(snap, pod, "status.phase", pod.status.phase or "Unknown")]
    reason = ""
    if status is not None:
        cname = status.name
        if status.state.waiting is not None:
            reason = status.state.waiting.reason
            ev.append(
                pod_evidence(
                    snap,
                    pod,
                    f"status.containerStatuses[{cname}].state.waiting",
                    f"{status.state.waiting.reason}: {status.state.waiting.message}".strip(": "),
                )
            )
        ev.append(
            pod_evidence(
                snap, pod, f"status.containerStatuses[{cname}].ready", str(status.ready).lower()
            )
        )
        if restarts:
            ev.append(
                pod_evidence(
                    snap, pod, f"status.containerStatuses[{cname}].restartCount", str(restarts)
                )
            )
        term = status.last_state.terminated
        if term is not None and (term.reason or term.message):
            ev.append(
                pod_evidence(
                    snap,
                    pod,
                    f"status.containerStatuses[{cname}].lastState.terminated",
                    f"{term.reason} (exit {term.exit_code}) {term.message}".strip()[:300],
                )
            )
    for cond in pod.status.conditions:
        if cond.type == "Ready" and cond.status != "True" and cond.message:
            ev.append(
                pod_evidence(snap, pod, "status.conditions[Ready].message", cond.message[:300])
            )
    ev += warning_event_evidence(snap, pod)
    log_ev = _last_error(ctx, pod, container)
    if log_ev is not None:
        ev.append(log_ev)
    variant = "not_ready" if not ready else "restarting"
    # calico-node running but reporting "BIRD is not ready: BGP not established": the agent
    # works, its readiness only reports the peering, whose cause NET-303 names. Kept (the pod
    # is not Ready), but ranked below that cause.
    notes: tuple[Message, ...] = ()
    confidence = 1.0
    if (
        not ready
        and restarts < RESTARTS_WARN
        and not reason
        and any(_BGP_DOWN in e.value for e in ev)
    ):
        confidence = 0.6
        notes = (Message("note.agent_not_ready_bgp", {"pod": pod.metadata.name}),)
    yield Finding(
        id="cni-agent-unhealthy",
        subject=Subject(kind="Pod", name=pod.metadata.name, namespace=ns),
        variant=variant,
        params={
            "agent": agent.name,
            "pod": pod.metadata.name,
            "namespace": ns,
            "node": node,
            "reason": reason or pod.status.phase or "NotReady",
            "restarts": str(restarts),
        },
        evidence=tuple(ev),
        fix=(
            Action(
                message=Message("fix.agent_read_error", {"pod": pod.metadata.name}),
                command=(
                    f"kubectl -n {ns} logs {pod.metadata.name} -c {container} --previous --tail=100"
                ),
            ),
            Action(
                message=Message("fix.agent_restart", {"pod": pod.metadata.name}),
                command=f"kubectl -n {ns} delete pod {pod.metadata.name}",
            ),
        ),
        verify=(
            Action(
                message=Message("verify.agent_pods", {"agent": agent.name}),
                command=(
                    f"kubectl -n {ns} get pods{sel} -o wide --field-selector spec.nodeName={node}"
                ),
            ),
        ),
        nodes=(node,) if node else (),
        severity=Severity.WARNING if ready else None,
        notes=notes,
        confidence=confidence,
    )
