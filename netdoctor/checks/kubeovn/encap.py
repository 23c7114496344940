"""Kube-OVN root cause NET-503: a node's Geneve encap IP is not its InternalIP.

Checks layer: pure functions over the Snapshot. A node's encap IP comes from the tunnel ports
the other nodes' br-int point at it (``remote_ip`` in their ``ovs-vsctl show``), else from
kube-ovn-cni's log line ``set ovn-encap-ip=A`` (or ``use A on IF as tunnel address``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from netdoctor.checks._support.common import (
    annotation_evidence,
    iface_evidence,
    internal_ip_evidence,
    ip_only,
    last_log_match,
    node_holding,
    peer_path_evidence,
    peers_reach,
)
from netdoctor.checks._support.detect import AgentInstall
from netdoctor.checks._support.registry import Context, NotApplicable, Skip, Yielded, check
from netdoctor.checks.kubeovn._common import agent_pod, ovn_agent, ovs_shows, ovs_source, owner_of
from netdoctor.model.cni import KUBEOVN_TUNNEL_IFACE
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import Container, Pod

__all__ = ["EncapClaim", "encap_claims", "encap_ip_mismatch"]

_ENCAP_LOG = re.compile(
    r"(?:set ovn-encap-ip=([0-9a-fA-F.:]+)|use ([0-9a-fA-F.:]+) on (\S+) as tunnel address)"
)


@dataclass(frozen=True)
class EncapClaim:
    node: str
    address: str
    evidence: tuple[Evidence, ...]
    iface: str | None = None


def encap_claims(ctx: Context) -> dict[str, EncapClaim]:
    """Each node's Geneve encap IP: from the tunnel ports the other nodes' br-int point at it
    (``remote_ip``), else from kube-ovn-cni's log, whichever the bundle has."""
    snap = ctx.snapshot
    cni = ovn_agent(ctx, "kube-ovn-cni")
    container = cni.agent.container if cni else "cni-server"
    addr: dict[str, str] = {}
    ifaces: dict[str, str] = {}
    ev: dict[str, list[Evidence]] = {}
    for peer, show in sorted(ovs_shows(snap).items()):
        for _, _port, iface in show.tunnels():
            rip = iface.remote_ip
            if not rip or rip == "flow":
                continue
            owner = owner_of(snap, rip)
            if owner is None or owner == peer:
                continue
            addr.setdefault(owner, rip)
            if addr[owner] != rip:
                continue
            ev.setdefault(owner, []).append(
                Evidence(
                    source=ovs_source(snap, peer),
                    object=f"Interface/{iface.name}",
                    field=f"line {iface.options_line}: options:remote_ip",
                    value=rip,
                    node=peer,
                )
            )
    # The tunnels are what the peers use now; the log line (maybe from an older start) only
    # speaks for a node no tunnel points at, or confirms what the tunnels say.
    for node in snap.node_by_name:
        found = last_log_match(snap, agent_pod(cni, node), container, _ENCAP_LOG)
        if found is not None:
            m, log_ev = found
            said = m.group(1) or m.group(2)
            if addr.setdefault(node, said) != said:
                continue
            if m.group(3):
                ifaces[node] = m.group(3)
            ev.setdefault(node, []).insert(0, log_ev)
    return {
        n: EncapClaim(node=n, address=a, evidence=tuple(ev.get(n, ())), iface=ifaces.get(n))
        for n, a in addr.items()
    }


def _iface_arg(agent: AgentInstall | None) -> tuple[int, str] | None:
    """Index and value of kube-ovn-cni's ``--iface=`` argument in its DaemonSet."""
    if agent is None or agent.daemonset is None:
        return None
    c = agent.container
    if not isinstance(c, Container):
        return None
    for i, arg in enumerate(c.args):
        if arg.startswith("--iface="):
            return i, arg
    return None


def _encap_fix(
    ctx: Context, node: str, internal_iface: str | None, same_nic: bool
) -> tuple[tuple[Action, ...], tuple[Evidence, ...]]:
    snap = ctx.snapshot
    cni = ovn_agent(ctx, "kube-ovn-cni")
    ns = cni.namespace if cni else "kube-system"
    ds = cni.name if cni else "kube-ovn-cni"
    pod = agent_pod(cni, node)
    ev: list[Evidence] = []
    arg = _iface_arg(cni)
    if arg is not None and cni is not None and isinstance(cni.container, Container):
        ev.append(
            Evidence(
                source=snap.source("k8s.daemonsets"),
                object=f"DaemonSet/{ns}/{ds}",
                field=f"spec.template.spec.containers[{cni.container.name}].args[{arg[0]}]",
                value=arg[1],
            )
        )
    n = snap.node_by_name.get(node)
    if n is not None and KUBEOVN_TUNNEL_IFACE in n.metadata.annotations:
        ev.append(annotation_evidence(snap, n, KUBEOVN_TUNNEL_IFACE))
    restart = Action(
        message=Message("fix.kubeovn_restart_cni", {"node": node, "pod": _pod_name(pod, ds)}),
        command=(
            f"kubectl -n {ns} delete pod {pod.metadata.name}"
            if pod
            else f"kubectl -n {ns} delete pod -l app={ds} --field-selector spec.nodeName={node}"
        ),
    )
    if not same_nic and internal_iface:
        return (
            Action(
                message=Message(
                    "fix.kubeovn_tunnel_iface", {"node": node, "iface": internal_iface}
                ),
                command=(
                    f"kubectl annotate node {node} "
                    f"{KUBEOVN_TUNNEL_IFACE}={internal_iface} --overwrite"
                ),
            ),
            restart,
        ), tuple(ev)
    actions: list[Action] = []
    if n is not None and KUBEOVN_TUNNEL_IFACE in n.metadata.annotations:
        actions.append(
            Action(
                message=Message("fix.kubeovn_drop_tunnel_ann", {"node": node}),
                command=f"kubectl annotate node {node} {KUBEOVN_TUNNEL_IFACE}-",
            )
        )
    if arg is not None and arg[1] != "--iface=" and cni is not None:
        index = next(
            i
            for i, c in enumerate(cni.daemonset.spec.template.spec.containers)  # type: ignore[union-attr]
            if c.name == cni.agent.container
        )
        patch = json.dumps(
            [
                {
                    "op": "replace",
                    "path": f"/spec/template/spec/containers/{index}/args/{arg[0]}",
                    "value": "--iface=",
                }
            ],
            separators=(",", ":"),
        )
        actions.append(
            Action(
                message=Message("fix.kubeovn_iface_default", {"daemonset": ds}),
                command=f"kubectl -n {ns} patch daemonset {ds} --type=json -p '{patch}'",
            )
        )
    actions.append(restart)
    return tuple(actions), tuple(ev)


def _pod_name(pod: Pod | None, ds: str) -> str:
    return pod.metadata.name if pod is not None else ds


@check("kubeovn-encap-ip-mismatch", code="NET-503", needs=("k8s.nodes",), cni=("kube-ovn",))
def encap_ip_mismatch(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if not ctx.cni.has("kube-ovn"):
        yield NotApplicable()
        return
    claims = encap_claims(ctx)
    if not claims:
        yield Skip(
            Message(
                "skip.kubeovn_encap_unknown",
                {"path": "nodes/<node>/extra/ovs-vsctl-show.txt", "logs": "logs/kube-system/"},
            )
        )
        return
    on_internal = {
        n for n, c in claims.items() if ip_only(c.address) in snap.node_by_name[n].internal_ips
    }
    for name, claim in sorted(claims.items()):
        node = snap.node_by_name[name]
        internal = node.internal_ips
        addr = ip_only(claim.address)
        if not internal or addr in internal:
            continue
        held = node_holding(snap, name, addr)
        internal_held = node_holding(snap, name, internal[0])
        same_nic = (
            held is not None
            and internal_held is not None
            and held[0].ifname == internal_held[0].ifname
        )
        peers = [n for n in snap.node_by_name if n != name]
        view = peers_reach(snap, addr, peers)
        unreachable = [p for p in view.known if p not in view.reaching]
        severity, confidence = Severity.CRITICAL, 1.0
        if same_nic and not view.known:
            if not on_internal:
                continue
            severity, confidence, variant = Severity.WARNING, 0.6, "unconfirmed"
        elif same_nic:
            variant = "second_address"
            if not unreachable:
                assert held is not None
                if held[1].prefixlen != held[1].interface.max_prefixlen:
                    continue  # a second address on the same subnet: peers reach it, it works
                severity = Severity.WARNING  # a /32 VIP: works until it moves to another node
                variant = "vip"
        else:
            variant = "default" if held is not None else "no_iface"
            if view.known and not unreachable:
                continue  # every peer has a way to it: a deliberate, working tunnel network
            if not view.known:
                if not on_internal:
                    continue
                severity, confidence, variant = Severity.WARNING, 0.6, "unconfirmed"
        iface = held[0].ifname if held else (claim.iface or "")
        internal_iface = internal_held[0].ifname if internal_held else None
        ev = list(claim.evidence)
        ev.append(internal_ip_evidence(snap, node))
        if held is not None:
            ev.append(iface_evidence(snap, name, *held))
        if internal_held is not None and not same_nic:
            ev.append(iface_evidence(snap, name, *internal_held))
        ev.extend(peer_path_evidence(snap, peer, addr) for peer in unreachable)
        fix, fix_ev = _encap_fix(ctx, name, internal_iface, same_nic)
        ev.extend(fix_ev)
        yield Finding(
            id="kubeovn-encap-ip-mismatch",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={
                "node": name,
                "encap_ip": addr,
                "iface": iface,
                "internal_ip": internal[0],
                "internal_iface": internal_iface or "",
                "peers": ", ".join(unreachable),
            },
            evidence=tuple(ev),
            fix=fix,
            verify=(
                Action(
                    message=Message(
                        "verify.kubeovn_chassis", {"node": name, "address": internal[0]}
                    ),
                    command="kubectl ko sbctl show",
                ),
            ),
            nodes=(name, *unreachable),
            severity=severity,
            confidence=confidence,
        )
