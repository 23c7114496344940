"""Kube-OVN root cause NET-501: ovn-controller on a node is unhealthy while its pods look fine.

Checks layer: pure functions over the Snapshot, reading each node's ``ovs-vsctl show``
(``NetFacts.ovs_show``): the OVS database answering, br-int present, tunnel ports without
errors, and the other nodes' tunnels pointing at this one.

Split with NET-202 (cni-agent-unhealthy): NET-202 owns the pods (kube-ovn-cni and ovs-ovn
missing, not Ready, restarting). NET-501 reports what only the OVS data shows while those pods
look fine, and stays silent on a node whose agent pods NET-202 already reports.
"""

from __future__ import annotations

from collections.abc import Iterator

from netdoctor.checks._support.common import internal_ip_evidence, pod_evidence
from netdoctor.checks._support.registry import Context, NotApplicable, Skip, Yielded, check
from netdoctor.checks.kubeovn._common import agent_pod, ovn_agent, ovs_shows, ovs_source, owner_of
from netdoctor.checks.kubeovn.encap import encap_claims
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.k8s import Pod

__all__ = ["ovn_controller_unhealthy"]


def _pod_unhealthy(pod: Pod | None) -> bool:
    return pod is None or not pod.ready


@check("ovn-controller-unhealthy", code="NET-501", needs=("k8s.nodes",), cni=("kube-ovn",))
def ovn_controller_unhealthy(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if not ctx.cni.has("kube-ovn"):
        yield NotApplicable()
        return
    shows = ovs_shows(snap)
    if not shows:
        yield Skip(Message("skip.missing", {"path": "nodes/<node>/extra/ovs-vsctl-show.txt"}))
        return
    ovs = ovn_agent(ctx, "ovs-ovn")
    cni = ovn_agent(ctx, "kube-ovn-cni")
    ns = ovs.namespace if ovs else "kube-system"
    claims = encap_claims(ctx)
    # Which node each tunnel points at, per peer that has ovs facts.
    targets: dict[str, set[str]] = {}
    for peer, show in shows.items():
        targets[peer] = {
            o
            for _, _, i in show.tunnels()
            if i.remote_ip and (o := owner_of(snap, i.remote_ip)) is not None
        }
    for name in sorted(snap.node_by_name):
        ovs_pod = agent_pod(ovs, name)
        if _pod_unhealthy(ovs_pod) or (cni is not None and _pod_unhealthy(agent_pod(cni, name))):
            continue  # NET-202 reports the pods themselves
        assert ovs_pod is not None
        pod_ref = ovs_pod.metadata.name
        own = shows.get(name)
        ev: list[Evidence] = []
        variant = ""
        detail = ""
        if own is not None and own.error:
            variant, detail = "db_down", own.error
            ev.append(
                Evidence(
                    source=ovs_source(snap, name),
                    object=f"Node/{name}",
                    field="ovs-vsctl show",
                    value=own.error,
                    node=name,
                )
            )
        elif own is not None and own.bridge("br-int") is None:
            variant = "no_br_int"
            ev.append(
                Evidence(
                    source=ovs_source(snap, name),
                    object=f"Node/{name}",
                    field="Bridge br-int",
                    value="absent (bridges: "
                    + (", ".join(b.name for b in own.bridges) or "none")
                    + ")",
                    node=name,
                )
            )
        elif own is not None and any(i.error for _, _, i in own.tunnels()):
            variant = "tunnel_error"
            for _, _, i in own.tunnels():
                if i.error:
                    detail = detail or i.error
                    ev.append(
                        Evidence(
                            source=ovs_source(snap, name),
                            object=f"Interface/{i.name}",
                            field=f"line {i.error_line}: error",
                            value=i.error,
                            node=name,
                        )
                    )
        else:
            peers = [p for p in targets if p != name and shows[p].bridge("br-int") is not None]
            tunnelling = [p for p in peers if targets[p] - {name}]
            if tunnelling and not any(name in targets[p] for p in peers):
                variant = "default"
                for p in peers:
                    remotes = [i.remote_ip or "" for _, _, i in shows[p].tunnels()]
                    ev.append(
                        Evidence(
                            source=ovs_source(snap, p),
                            object=f"Bridge/br-int on {p}",
                            field="geneve remote_ip",
                            value=", ".join(remotes) or "none",
                            node=p,
                        )
                    )
                claim = claims.get(name)
                node = snap.node_by_name[name]
                want = claim.address if claim else ", ".join(node.internal_ips)
                ev.append(internal_ip_evidence(snap, node))
                detail = want
        if not variant:
            continue
        ev.append(pod_evidence(snap, ovs_pod, "status.conditions[Ready]", "True"))
        yield Finding(
            id="ovn-controller-unhealthy",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={"node": name, "pod": pod_ref, "namespace": ns, "detail": detail},
            evidence=tuple(ev),
            fix=(
                Action(
                    message=Message("fix.kubeovn_controller_log", {"pod": pod_ref}),
                    command=(
                        f"kubectl -n {ns} exec {pod_ref} -c openvswitch --"
                        " tail -n 50 /var/log/ovn/ovn-controller.log"
                    ),
                ),
                Action(
                    message=Message("fix.kubeovn_restart_ovs", {"pod": pod_ref, "node": name}),
                    command=f"kubectl -n {ns} delete pod {pod_ref}",
                ),
            ),
            verify=(
                Action(
                    message=Message("verify.kubeovn_ovs_show", {"node": name}),
                    command=f"kubectl -n {ns} exec {pod_ref} -c openvswitch -- ovs-vsctl show",
                ),
                Action(
                    message=Message("verify.kubeovn_chassis", {"node": name, "address": detail}),
                    command="kubectl ko sbctl show",
                ),
            ),
            nodes=(name,),
        )
