"""What both firewall checks share, and ``checks/node.py`` with them: the rule or policy that
certainly drops one packet in a node's filter chain (``firewall_drop``: iptables-save first,
then the nftables tables it does not show; ``Blocked`` says where and how to undo it), a
longest-prefix index of a node's IPv4 routes, one pod address on a node, and the interface a
peer's packet arrives on.

Checks layer, below ``forward`` and ``overlay_port``; it registers no check (a module whose name
starts with ``_`` is not scanned).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from netdoctor.checks._support.common import parse_ip, route_to
from netdoctor.checks._support.registry import Note, Skip
from netdoctor.model.findings import Evidence, Message
from netdoctor.model.nftables import NftRuleset, decode_ruleset
from netdoctor.model.nodefacts import IptRule, NetFacts, Route
from netdoctor.model.snapshot import Snapshot
from netdoctor.netfilter import Decision, Packet, evaluate
from netdoctor.netfilter.nft import NftDecision, evaluate_hook, rule_text

__all__ = [
    "POLICY_CHAINS",
    "Blocked",
    "RouteIndex",
    "arrival_iface",
    "dev_to",
    "firewall_drop",
    "local_addresses",
    "nft_of",
    "no_firewall_note",
    "no_firewall_skip",
    "pod_sample",
]


# Chains that enforce NetworkPolicy (Calico's per-endpoint and per-policy chains, kube-router's,
# the lab's): a drop there is a policy's verdict on one flow (NET-701), not the node's FORWARD.
POLICY_CHAINS = ("cali-tw-", "cali-fw-", "cali-pi-", "cali-po-", "KUBE-POD-FW-", "KUBE-NWPLCY-")


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


def _delete_command(rule: IptRule, table: str) -> str:
    spec = rule.text.strip()
    if spec.startswith("-A "):
        spec = "-D " + spec[3:]
    return f"iptables -t {table} {spec}" if table != "filter" else f"iptables {spec}"


# iptables-nft writes these tables; iptables-save shows them, so the nft walk leaves them out
_IPTABLES_NFT_TABLES = frozenset(("ip", t) for t in ("filter", "nat", "mangle", "raw", "security"))


@dataclass(frozen=True)
class Blocked:
    """A certain drop, from iptables-save or the nft ruleset: the rule (or policy), where it
    is written, and how to undo it."""

    evidence: Evidence
    params: dict[str, str]  # rule, line, chain (iptables) / handle, chain, table (nft)
    variant: str  # rule | default (iptables), nft_rule | nft_policy
    delete: str | None  # the command that deletes the dropping rule
    insert_at: str  # where an accept goes first: "iptables -I INPUT 1" / "nft insert rule ..."
    nft: bool
    key: str  # the same rule, for grouping peers


def _ipt_blocked(snap: Snapshot, node: str, d: Decision) -> Blocked:
    source = snap.node_source(node, "iptables")
    rule: IptRule | None = d.deciding
    if rule is not None:
        ev = Evidence(
            source=source,
            object=f"Node/{node}",
            field=f"line {rule.line}",
            value=rule.text,
            node=node,
        )
        params = {"rule": rule.text, "line": str(rule.line), "chain": rule.chain}
        return Blocked(
            ev,
            params,
            "rule",
            _delete_command(rule, d.table),
            f"iptables -I {d.chain} 1",
            False,
            f"ipt:{rule.line}",
        )
    policy = f":{d.chain} {d.policy or 'DROP'}"
    ev = Evidence(
        source=source,
        object=f"Node/{node}",
        field=f"*{d.table} :{d.chain}",
        value=policy,
        node=node,
    )
    return Blocked(
        ev,
        {"rule": policy, "line": "", "chain": d.chain},
        "default",
        None,
        f"iptables -I {d.chain} 1",
        False,
        f"ipt:policy:{d.chain}",
    )


def _nft_blocked(snap: Snapshot, node: str, d: NftDecision) -> Blocked:
    source = snap.node_source(node, "nft")
    base = d.chain
    assert base is not None
    insert_at = f"nft insert rule {base.family} {base.table} {base.name}"
    rule = d.deciding
    if rule is not None:
        text = rule_text(rule)
        where = f"table {rule.family} {rule.table} chain {rule.chain} handle {rule.handle}"
        ev = Evidence(
            source=source,
            object=f"Node/{node}",
            field=f"{where} (rule {rule.index})",
            value=text,
            node=node,
        )
        params = {
            "rule": text,
            "handle": str(rule.handle),
            "chain": rule.chain,
            "table": f"{rule.family} {rule.table}",
        }
        delete = f"nft delete rule {rule.family} {rule.table} {rule.chain} handle {rule.handle}"
        return Blocked(ev, params, "nft_rule", delete, insert_at, True, f"nft:{where}")
    where = f"table {base.family} {base.table} chain {base.name}"
    policy = f"policy {base.policy or 'drop'}"
    ev = Evidence(source=source, object=f"Node/{node}", field=where, value=policy, node=node)
    params = {
        "rule": policy,
        "handle": "",
        "chain": base.name,
        "table": f"{base.family} {base.table}",
    }
    return Blocked(ev, params, "nft_policy", None, insert_at, True, f"nft:{where}:policy")


def nft_of(facts: NetFacts, cache: dict[int, NftRuleset | None]) -> NftRuleset | None:
    if facts.nft is None:
        return None
    key = id(facts.nft)
    if key not in cache:
        try:
            cache[key] = decode_ruleset(facts.nft)
        except ValueError:
            cache[key] = None  # the bundle reader refuses such a file; never reached from it
    return cache[key]


def firewall_drop(
    snap: Snapshot,
    node: str,
    facts: NetFacts,
    chain: str,
    packet: Packet,
    nft_cache: dict[int, NftRuleset | None],
    *,
    ignore: Callable[[Decision], bool] | None = None,
) -> Blocked | None:
    """The rule or policy on ``node`` that certainly drops ``packet`` in the filter ``chain``
    (INPUT, FORWARD): iptables-save first, then the nftables tables iptables-save does not show."""
    if facts.iptables is not None:
        d = evaluate(facts.iptables, "filter", chain, packet)
        if d.verdict == "drop" and not (ignore and ignore(d)):
            return _ipt_blocked(snap, node, d)
    rs = nft_of(facts, nft_cache)
    if rs is not None:
        legacy = facts.iptables is not None and facts.iptables.backend == "legacy"
        skip = frozenset() if facts.iptables is None or legacy else _IPTABLES_NFT_TABLES
        nd = evaluate_hook(rs, chain.lower(), packet, skip_tables=skip)
        if nd.verdict == "drop" and not _nft_policy_drop(nd):
            return _nft_blocked(snap, node, nd)
    return None


def _nft_policy_drop(d: NftDecision) -> bool:
    rule = d.deciding
    if rule is not None and "policy" in (rule.comment or "").lower():
        return True
    return any(step.chain.rsplit(" ", 1)[-1].startswith(POLICY_CHAINS) for step in d.steps)


def no_firewall_note(snap: Snapshot, node: str) -> Note:
    paths = f"{snap.node_source(node, 'iptables')}, {snap.node_source(node, 'nft')}"
    return Note(Message("note.node_file_missing", {"node": node, "path": paths}))


def no_firewall_skip(snap: Snapshot) -> Skip | None:
    if snap.has("node.iptables") or snap.has("node.nft"):
        return None
    paths = f"{snap.source('node.iptables')}, {snap.source('node.nft')}"
    return Skip(Message("skip.missing", {"path": paths}))


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
