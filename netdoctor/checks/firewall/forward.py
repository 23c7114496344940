"""NET-102 node-forward-policy-drop: each node's FORWARD chain lets pod-to-pod traffic through.

Checks layer: a pure function over the Snapshot. It builds the packets the cluster really sends
(a pod on one node to a pod on another, both directions, ICMP and TCP) and asks the netfilter
evaluator for the kernel's verdict; a drop in a NetworkPolicy's chain is NET-701's, not this.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass

from netdoctor.checks._support.common import ippool_evidence, smallest_supernet
from netdoctor.checks._support.noderoutes import RouteIndex, dev_to, local_addresses, pod_sample
from netdoctor.checks._support.oddone import odd_one_out
from netdoctor.checks._support.registry import Context, Note, Yielded, check
from netdoctor.checks.firewall._common import (
    POLICY_CHAINS,
    Blocked,
    firewall_drop,
    no_firewall_note,
    no_firewall_skip,
)
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.nftables import NftRuleset
from netdoctor.model.snapshot import Snapshot
from netdoctor.netfilter import Decision, Packet
from netdoctor.netfilter.felix import felix_ipsets

__all__ = ["cluster_pod_cidrs", "forward_policy_drop"]


# How many peer nodes one node's FORWARD chain is tried against: the rules name CIDRs and
# interfaces, not nodes, so two peers (both directions, ICMP and TCP) say as much as all.
_PEERS_TRIED = 2


def _policy_drop(d: Decision) -> bool:
    rule = d.deciding
    if rule is not None and "policy" in (rule.comment or "").lower():
        return True
    return any(step.chain.startswith(POLICY_CHAINS) for step in d.steps)


def cluster_pod_cidrs(snap: Snapshot) -> list[tuple[str, Evidence]]:
    """The cluster-wide pod CIDRs and where they are written: Calico IPPools, flannel's
    net-conf.json ``Network``, else the smallest prefix holding every node's spec.podCIDR."""
    out: list[tuple[str, Evidence]] = []
    for pool in snap.ippools or ():
        if pool.spec.cidr and not pool.spec.disabled and ":" not in pool.spec.cidr:
            out.append((pool.spec.cidr, ippool_evidence(snap, pool)))
    if out:
        return out
    for cm in snap.configmaps or ():
        text = cm.data.get("net-conf.json")
        if not text:
            continue
        try:
            network = json.loads(text).get("Network")
        except (ValueError, AttributeError):
            continue
        if isinstance(network, str) and network:
            out.append(
                (
                    network,
                    Evidence(
                        source=snap.source("k8s.configmaps"),
                        object=f"ConfigMap/{cm.ref}",
                        field="data[net-conf.json].Network",
                        value=network,
                    ),
                )
            )
    if out:
        return out
    ends: list[str] = []
    for n in snap.nodes or ():
        for cidr in n.spec.pod_cidrs or ([n.spec.pod_cidr] if n.spec.pod_cidr else []):
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                continue
            if net.version == 4:
                ends += [str(net.network_address), str(net.broadcast_address)]
    sup = smallest_supernet(ends)
    if sup is not None:
        out.append(
            (
                str(sup),
                Evidence(
                    source=snap.source("k8s.nodes"),
                    object="Node/*",
                    field="spec.podCIDR",
                    value=str(sup),
                ),
            )
        )
    return out


@dataclass(frozen=True)
class _FwdDrop:
    node: str
    blocked: Blocked
    src: str
    dst: str
    in_iface: str
    out_iface: str


@check("node-forward-policy-drop", code="NET-102", needs=("k8s.nodes",))
def forward_policy_drop(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    skip = no_firewall_skip(snap)
    if skip is not None:
        yield skip
        return
    cidrs = cluster_pod_cidrs(snap)
    policies: dict[str, str] = {}
    drops: list[_FwdDrop] = []
    names = sorted(snap.node_by_name)
    samples = {n: pod_sample(snap, n) for n in names}
    ipsets = felix_ipsets(snap)
    nft_cache: dict[int, NftRuleset | None] = {}
    for node in names:
        facts = snap.node_facts.get(node)
        if facts is None or (facts.iptables is None and facts.nft is None):
            yield no_firewall_note(snap, node)
            continue
        fwd = facts.iptables.chain("filter", "FORWARD") if facts.iptables else None
        if fwd is not None and fwd.policy:
            policies[node] = fwd.policy
        local = samples[node]
        if local is None or facts.routes is None:
            yield Note(Message("note.firewall.no_pod_address", {"node": node}))
            continue
        peers = [p for p in names if p != node and samples[p] is not None][:_PEERS_TRIED]
        found: _FwdDrop | None = None
        routes = RouteIndex(facts.routes)
        local_addrs = local_addresses(facts)
        for peer in peers:
            remote = samples[peer]
            assert remote is not None
            d_local, d_remote = dev_to(routes, local), dev_to(routes, remote)
            if d_local is None or d_remote is None:
                continue
            for src, dst, iif, oif in (
                (local, remote, d_local, d_remote),
                (remote, local, d_remote, d_local),
            ):
                for proto, dport in (("tcp", 80), ("icmp", None)):
                    pkt = Packet(
                        src=src,
                        dst=dst,
                        proto=proto,
                        dport=dport,
                        in_iface=iif,
                        out_iface=oif,
                        local_addresses=local_addrs,
                        ipsets=ipsets,
                    )
                    b = firewall_drop(
                        snap, node, facts, "FORWARD", pkt, nft_cache, ignore=_policy_drop
                    )
                    if b is not None:
                        found = _FwdDrop(node, b, src, dst, iif, oif)
                        break
                if found:
                    break
            if found:
                break
        if found:
            drops.append(found)
    odd = odd_one_out(policies)
    cidr_text = ", ".join(c for c, _ in cidrs)
    for fd in drops:
        node = fd.node
        facts = snap.node_facts[node]
        b = fd.blocked
        params = {
            "node": node,
            "src": fd.src,
            "dst": fd.dst,
            "in": fd.in_iface,
            "out": fd.out_iface,
            "cidrs": cidr_text or f"{fd.src}, {fd.dst}",
            "line": "",
            "handle": "",
            "table": "",
            **b.params,
        }
        evidence = [b.evidence, *(ev for _, ev in cidrs)]
        docker_user = (
            not b.nft
            and facts.iptables is not None
            and facts.iptables.chain("filter", "DOCKER-USER") is not None
        )
        fixes: list[Action] = []
        targets = [c for c, _ in cidrs] or [f"{fd.src}/32", f"{fd.dst}/32"]
        for cidr in targets:
            if b.nft:
                key, command = (
                    "fix.forward_accept_nft",
                    (
                        f"{b.insert_at} ip saddr {cidr} accept && "
                        f"{b.insert_at} ip daddr {cidr} accept"
                    ),
                )
                verify = f"nft -a list chain {b.insert_at.split(' ', 3)[3]}"
            else:
                chain = "DOCKER-USER" if docker_user else "FORWARD"
                key = "fix.forward_accept_docker_user" if docker_user else "fix.forward_accept"
                command = (
                    f"iptables -I {chain} 1 -s {cidr} -j ACCEPT && "
                    f"iptables -I {chain} 1 -d {cidr} -j ACCEPT"
                )
                verify = f"iptables -S {chain} | head -5 && iptables -S FORWARD | head -3"
            fixes.append(
                Action(message=Message(key, {"node": node, "cidr": cidr}), command=command)
            )
        notes: tuple[Message, ...] = ()
        if odd is not None and node in odd.nodes:
            notes = (odd.note("forward_policy"),)
        yield Finding(
            id="node-forward-policy-drop",
            subject=Subject(kind="Node", name=node),
            params=params,
            variant=b.variant,
            evidence=tuple(evidence),
            fix=tuple(fixes),
            verify=(
                Action(
                    message=Message("verify.forward_chain", {"node": node}),
                    command=verify,
                ),
            ),
            notes=notes,
            nodes=(node,),
        )
