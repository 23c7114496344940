"""Calico root causes NET-301 and NET-302: the node address calico-node picked.

Checks layer: pure functions over the Snapshot. Calico's address for a node comes from the node
annotation ``projectcalico.org/IPv4Address``, the Calico Node resource, or calico-node's own log
line ``Using autodetected IPv4 address on interface X: A/len`` (any of them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from netdoctor.checks import predicates
from netdoctor.checks._support.common import (
    AddressClaim,
    iface_evidence,
    internal_ip_evidence,
    ip_only,
    node_holding,
    peer_path_evidence,
    peers_reach,
)
from netdoctor.checks._support.registry import Context, Yielded, check
from netdoctor.checks.calico._common import AUTODETECT_ENV, autodetect_cidrs, fix_actions
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import Container

__all__ = ["address_mismatch", "calico_claims", "duplicate_address"]


def calico_claims(ctx: Context) -> dict[str, AddressClaim]:
    """The IPv4 address Calico uses for each node, with every source that says so: the
    shared detector (``checks.predicates.calico_claims``), which the trace calls too.

    NET-301's detector: a node whose claim is not its InternalIP is the finding's subject.
    NET-302 groups the claims by address, NET-303 maps BGP peers to nodes with them.
    """
    return predicates.calico_claims(ctx.snapshot, ctx.cni)


def _verify_actions(ctx: Context, node: str, want: str) -> tuple[Action, ...]:
    agent = ctx.cni.agent("calico")
    ns = agent.namespace if agent else "kube-system"
    ds = agent.name if agent else "calico-node"
    out = [
        Action(
            message=Message("verify.calico_rollout", {"daemonset": ds}),
            command=f"kubectl -n {ns} rollout status daemonset/{ds}",
        ),
        Action(
            message=Message("verify.calico_address", {"node": node, "address": want}),
            command=(
                f"kubectl get node {node} -o "
                "jsonpath='{.metadata.annotations.projectcalico\\.org/IPv4Address}'"
            ),
        ),
    ]
    q = ctx.question
    snap = ctx.snapshot
    if q and q.from_ and q.to:
        src = snap.pod_by_ref.get(q.from_)
        dst = snap.pod_by_ref.get(q.to)
        if src and dst and dst.ips:
            out.append(
                Action(
                    message=Message("verify.ping", {"from": src.ref, "to": dst.ips[0]}),
                    command=(
                        f"kubectl exec -n {src.metadata.namespace} {src.metadata.name}"
                        f" -- ping -c 3 {dst.ips[0]}"
                    ),
                )
            )
    return tuple(out)


def _current_method(ctx: Context) -> Evidence | None:
    agent = ctx.cni.agent("calico")
    if agent is None or agent.daemonset is None:
        return None
    c = agent.container
    if not isinstance(c, Container):
        return None
    value = c.env_value(AUTODETECT_ENV)
    return Evidence(
        source=ctx.snapshot.source("k8s.daemonsets"),
        object=f"DaemonSet/{agent.namespace}/{agent.name}",
        field=f"spec.template.spec.containers[{c.name}].env[{AUTODETECT_ENV}]",
        value=value if value is not None else "(unset: first-found)",
    )


@check("calico-node-address-mismatch", code="NET-301", needs=("k8s.nodes",), cni=("calico",))
def address_mismatch(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    claims = calico_claims(ctx)
    on_internal = {
        n for n, c in claims.items() if ip_only(c.address) in snap.node_by_name[n].internal_ips
    }
    cidr = None
    for name, claim in sorted(claims.items()):
        node = snap.node_by_name[name]
        internal = node.internal_ips
        addr = ip_only(claim.address)
        if not predicates.off_internal(snap, claim):
            continue
        peers = [n for n in snap.node_by_name if n != name]
        view = peers_reach(snap, addr, peers)
        unreachable = [p for p in view.known if p not in view.reaching]
        if view.known and not unreachable:
            continue  # every peer we can see has a way to it: a deliberate, working choice
        if not view.known:
            # No peer facts: only an odd one out (the others use their InternalIP) is a finding.
            if not on_internal:
                continue
            severity, confidence, variant = Severity.WARNING, 0.6, "unconfirmed"
        else:
            severity, confidence, variant = Severity.CRITICAL, 1.0, "default"
        held = node_holding(snap, name, addr)
        iface = held[0].ifname if held else claim.iface
        internal_held = node_holding(snap, name, internal[0])
        ev = list(claim.evidence)
        ev.append(internal_ip_evidence(snap, node))
        if held is not None:
            ev.append(iface_evidence(snap, name, *held))
        if internal_held is not None:
            ev.append(iface_evidence(snap, name, *internal_held))
        ev.extend(peer_path_evidence(snap, peer, addr) for peer in unreachable)
        method = _current_method(ctx)
        if method is not None:
            ev.append(method)
        if cidr is None:
            cidr = autodetect_cidrs(ctx)
        if iface is None:
            variant = "no_iface" if variant == "default" else variant
        yield Finding(
            id="calico-node-address-mismatch",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={
                "node": name,
                "calico_ip": claim.address,
                "iface": iface or "",
                "internal_ip": internal[0],
                "internal_iface": internal_held[0].ifname if internal_held else "",
                "peers": ", ".join(unreachable),
            },
            evidence=tuple(ev) + (cidr.evidence if cidr else ()),
            fix=fix_actions(ctx, cidr),
            verify=_verify_actions(ctx, name, internal[0]),
            nodes=(name, *unreachable),
            severity=severity,
            confidence=confidence,
        )


@check("calico-duplicate-node-address", code="NET-302", needs=("k8s.nodes",), cni=("calico",))
def duplicate_address(ctx: Context) -> Iterator[Yielded]:
    claims = calico_claims(ctx)
    by_ip: dict[str, list[AddressClaim]] = defaultdict(list)
    for c in claims.values():
        by_ip[ip_only(c.address)].append(c)
    cidr = None
    for ip, group in sorted(by_ip.items()):
        if len(group) < 2:
            continue
        names = [c.node for c in group]
        if cidr is None:
            cidr = autodetect_cidrs(ctx)
        ifaces = sorted({c.iface for c in group if c.iface})
        yield Finding(
            id="calico-duplicate-node-address",
            subject=Subject(kind="Node", name=names[0]),
            params={"address": ip, "nodes": ", ".join(names), "ifaces": ", ".join(ifaces)},
            evidence=tuple(e for c in group for e in c.evidence),
            fix=fix_actions(ctx, cidr),
            verify=_verify_actions(ctx, names[0], "")[:1],
            nodes=tuple(names),
        )
