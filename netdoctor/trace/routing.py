"""The kernel's route lookup over a namespace's facts: policy rules, tables, longest prefix.

Part of the trace (``netdoctor.trace``): every stage that needs to know where a packet goes next
asks here, over ``NetFacts`` alone (``ip rule`` and ``ip route`` as collected). Also the source
address the kernel picks for a packet a node sends, and the per-device sysctl key names.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from netdoctor.model.nodefacts import NetFacts, Route, RoutingRule
from netdoctor.netfilter.felix import ipv4

__all__ = ["lookup", "route_dev", "route_gw", "select_src", "subnet", "sysctl_name"]

_DEFAULT_RULES = (
    RoutingRule(priority=0, src="all", table="local"),
    RoutingRule(priority=32766, src="all", table="main"),
    RoutingRule(priority=32767, src="all", table="default"),
)

IP = ipaddress.IPv4Address


def subnet(text: str, length: int | None = None) -> ipaddress.IPv4Network | None:
    """``text`` (an address or a prefix, with ``length`` if given) as an IPv4 network."""
    try:
        net = ipaddress.ip_network(text if length is None else f"{text}/{length}", strict=False)
    except ValueError:
        return None
    return net if isinstance(net, ipaddress.IPv4Network) else None


def sysctl_name(iface: str) -> str:
    return iface.replace(".", "/")  # sysctl prints flannel.1 as flannel/1


def _rule_matches(rule: RoutingRule, src: IP | None, dst: IP, iif: str | None) -> bool:
    ok = True
    if rule.src and rule.src != "all":
        net = subnet(rule.src, rule.srclen)
        ok = ok and src is not None and net is not None and src in net
    if rule.dst and rule.dst != "all":
        net = subnet(rule.dst, rule.dstlen)
        ok = ok and net is not None and dst in net
    if rule.iif:
        ok = ok and rule.iif == (iif or "lo")
    if rule.fwmark:
        ok = ok and int(rule.fwmark, 0) == 0  # packets of the trace carry no mark
    return ok != rule.not_


def _table_lookup(routes: Iterable[Route], table: str, dst: IP) -> Route | None:
    best: tuple[int, int, Route] | None = None
    for r in routes:
        if r.table_name != table:
            continue
        net = r.network
        if not isinstance(net, ipaddress.IPv4Network) or dst not in net:
            continue
        key = (net.prefixlen, -(r.metric or 0))
        if best is None or key > best[:2]:
            best = (*key, r)
    return best[2] if best else None


def lookup(
    facts: NetFacts, dst: str, src: str | None = None, iif: str | None = None
) -> tuple[Route | None, RoutingRule | None]:
    """The route the kernel picks (fib_lookup): rules by priority, then the rule's table.

    Returns (route, None) or (None, the rule whose action decided: blackhole, unreachable...)
    or (None, None) when nothing matches.
    """
    d, s = ipv4(dst), ipv4(src)
    if d is None:
        return None, None
    routes = [r for r in facts.routes or () if ":" not in r.dst]
    rules = sorted(facts.rules if facts.rules else _DEFAULT_RULES, key=lambda r: r.priority)
    for rule in rules:
        if not _rule_matches(rule, s, d, iif):
            continue
        if rule.action in ("blackhole", "unreachable", "prohibit"):
            return None, rule
        if rule.action not in (None, "to_tbl", "lookup"):
            continue  # goto / nop: not modelled, skip
        table = rule.table or "main"
        r = _table_lookup(routes, table, d)
        if r is None or r.type == "throw":
            continue
        return r, None
    return None, None


def route_dev(route: Route) -> str | None:
    if route.dev:
        return route.dev
    return route.nexthops[0].dev if route.nexthops else None


def route_gw(route: Route) -> str | None:
    if route.gateway:
        return route.gateway
    return route.nexthops[0].gateway if route.nexthops else None


def select_src(nfacts: NetFacts, dst: str) -> str:
    """The source address the kernel picks for a packet the node sends to ``dst``: the
    route's ``src``, else the egress device's first global address (on the gateway's
    subnet when it has several)."""
    route, _ = lookup(nfacts, dst)
    if route is None:
        return ""
    if route.prefsrc:
        return route.prefsrc
    dev = nfacts.interface(route_dev(route) or "")
    if dev is None:
        return ""
    addrs = [a for a in dev.addresses("inet") if a.scope in ("", "global")]
    nh = ipv4(route_gw(route) or dst)
    for a in addrs:
        net = subnet(a.local, a.prefixlen)
        if nh is not None and net is not None and nh in net:
            return a.local
    return addrs[0].local if addrs else ""
