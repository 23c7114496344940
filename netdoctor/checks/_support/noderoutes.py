"""A node's IPv4 routes and addresses as several check families read them: a longest-prefix
index of the main table (``RouteIndex``), one pod address on a node, the node's own addresses
and the interface a peer's packet arrives on.

Checks layer, support code (``_support`` is not scanned for checks); the firewall and node
checks share it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from netdoctor.checks._support.common import parse_ip, route_to
from netdoctor.model.nodefacts import NetFacts, Route
from netdoctor.model.snapshot import Snapshot

__all__ = ["RouteIndex", "arrival_iface", "dev_to", "local_addresses", "pod_sample"]


def pod_sample(snap: Snapshot, node: str) -> str | None:
    """One address a pod on ``node`` really has (else the second address of its podCIDR)."""
    for p in snap.pods_by_node.get(node, ()):
        if p.spec.host_network:
            continue
        for ip in p.ips:
            addr = parse_ip(ip)
            if addr is not None and addr.version == 4:
                return str(addr)
    n = snap.node_by_name.get(node)
    if n is not None and n.spec.pod_cidr:
        try:
            net = ipaddress.ip_network(n.spec.pod_cidr, strict=False)
        except ValueError:
            return None
        if net.version == 4 and net.num_addresses > 2:
            return str(net.network_address + 2)
    return None


def local_addresses(facts: NetFacts) -> frozenset[str]:
    return frozenset(
        a.local for i in facts.interfaces or () for a in i.addresses("inet") if a.local
    )


@lru_cache(maxsize=1 << 17)
def _v4(text: str) -> tuple[int, int] | None:
    """``10.30.1.64/26`` or ``10.30.1.64`` -> (address, prefix length), for IPv4 only; a
    hand-rolled parse, since ``ipaddress`` costs ~10 µs a route and nodes hold thousands.
    Cached: every node routes to the same peer blocks."""
    addr, _, plen = text.partition("/")
    parts = addr.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 for p in parts):
        return None
    a, b, c, d = (int(p) for p in parts)
    if max(a, b, c, d) > 255:
        return None
    n = int(plen) if plen.isdigit() else 32 if not plen else -1
    if not 0 <= n <= 32:
        return None
    mask = (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF
    return ((a << 24) | (b << 16) | (c << 8) | d) & mask, n


class RouteIndex:
    """The main table's unicast IPv4 routes by prefix length: the kernel's longest-prefix
    lookup (lowest metric on a tie) in at most 33 dictionary probes, as ``route_to`` answers
    it by a scan. Built once per node: checks look up thousands of addresses."""

    def __init__(self, routes: Iterable[Route]) -> None:
        by_len: dict[int, dict[int, Route]] = {}
        for r in routes:
            if r.table_name != "main" or r.type not in (None, "unicast"):
                continue
            net = (0, 0) if r.dst == "default" else _v4(r.dst)
            if net is None:
                continue
            slot = by_len.setdefault(net[1], {})
            old = slot.get(net[0])
            if old is None or (r.metric or 0) < (old.metric or 0):
                slot[net[0]] = r
        self._by_len = by_len
        self._lens = sorted(by_len, reverse=True)

    def lookup(self, ip: str) -> Route | None:
        parsed = _v4(ip)
        if parsed is None or parsed[1] != 32:
            return None
        a = parsed[0]
        for plen in self._lens:
            mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
            r = self._by_len[plen].get(a & mask)
            if r is not None:
                return r
        return None


def dev_to(routes: RouteIndex, ip: str) -> str | None:
    r = routes.lookup(ip)
    return r.dev if r is not None else None


def arrival_iface(facts: NetFacts, peer_ip: str) -> str | None:
    """The interface a peer's packet comes in on: the one sharing its subnet (the peer sends
    straight to us on that link), else the one our route to the peer uses."""
    addr = ipaddress.ip_address(peer_ip)
    for i in facts.interfaces or ():
        for a in i.addresses("inet"):
            if a.scope in ("", "global") and a.prefixlen < 32 and addr in a.interface.network:
                return i.ifname
    r = route_to(facts.routes or (), peer_ip)
    return r.dev if r is not None else None
