"""The ipsets Calico's Felix keeps, rebuilt from the objects it builds them from.

Sits with the evaluator, below the checks and the trace: Calico's rules match
``-m set --match-set cali40all-hosts-net src`` and the like, whose contents ``iptables-save``
does not print. Felix fills them from the Calico nodes' addresses and the IP pools, which the
snapshot holds, so both the checks (NET-203) and the trace evaluate those rules with the same
contents. A set built from missing objects is left out, so the evaluator calls it unknown.
"""

from __future__ import annotations

import ipaddress

from netdoctor.model.cni import CALICO_ADDRESS
from netdoctor.model.snapshot import Snapshot

__all__ = ["felix_ipsets", "ipv4"]

IPSets = tuple[tuple[str, tuple[str, ...]], ...]


def ipv4(text: str | None) -> ipaddress.IPv4Address | None:
    """An IPv4 address from ``10.0.0.1`` or ``10.0.0.1/24``; None for anything else."""
    if not text:
        return None
    try:
        addr = ipaddress.ip_interface(text.strip()).ip
    except ValueError:
        return None
    return addr if isinstance(addr, ipaddress.IPv4Address) else None


def felix_ipsets(snap: Snapshot) -> IPSets:
    """``cali40all-hosts-net`` and ``cali40all-vxlan-net`` (every Calico host address),
    ``cali40all-ipam-pools`` and ``cali40masq-ipam-pools`` (the pools; natOutgoing ones).
    Empty when the cluster runs no Calico."""
    nodes = snap.nodes or ()
    if not (
        snap.ippools
        or snap.calico_nodes
        or any(CALICO_ADDRESS in n.metadata.annotations for n in nodes)
    ):
        return ()
    hosts: set[str] = set()
    for n in nodes:
        hosts.update(n.internal_ips)
        ann = ipv4(n.metadata.annotations.get(CALICO_ADDRESS))
        if ann is not None:
            hosts.add(str(ann))
    for c in snap.calico_nodes or ():
        bgp = ipv4(c.spec.bgp.ipv4_address) if c.spec.bgp else None
        if bgp is not None:
            hosts.add(str(bgp))
    sets: list[tuple[str, tuple[str, ...]]] = []
    if snap.nodes is not None:
        sets += [
            ("cali40all-hosts-net", tuple(sorted(hosts))),
            ("cali40all-vxlan-net", tuple(sorted(hosts))),
        ]
    if snap.ippools is not None:
        pools = [p.spec for p in snap.ippools if not p.spec.disabled and p.spec.cidr]
        sets.append(("cali40all-ipam-pools", tuple(p.cidr for p in pools)))
        sets.append(("cali40masq-ipam-pools", tuple(p.cidr for p in pools if p.nat_outgoing)))
    return tuple(sets)
