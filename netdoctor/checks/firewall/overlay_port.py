"""NET-203 overlay-port-blocked: each node's INPUT chain accepts the overlay's packets from its
peers (VXLAN, Geneve, WireGuard, IPIP, BGP, as the node's own devices and Calico's IPPools say).

Checks layer: a pure function over the Snapshot. Each peer's packets, from each address its
overlay speaks from, go through the netfilter evaluator; peers the rules cannot tell apart
(the same prefixes and ipsets matched, the same arrival interface) share one evaluation. A
match the evaluator cannot decide (an ipset whose contents the bundle does not hold) is left
alone, never guessed.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from netdoctor.checks._support.common import parse_ip
from netdoctor.checks._support.noderoutes import RouteIndex, dev_to, local_addresses
from netdoctor.checks._support.registry import Context, Yielded, check
from netdoctor.checks.firewall._common import (
    Blocked,
    firewall_drop,
    nft_of,
    no_firewall_note,
    no_firewall_skip,
)
from netdoctor.model.cni import CALICO_ADDRESS, FLANNEL_PUBLIC_IP
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.nftables import NftRuleset
from netdoctor.model.nodefacts import NetFacts
from netdoctor.model.snapshot import Snapshot
from netdoctor.netfilter import Packet
from netdoctor.netfilter.felix import felix_ipsets

__all__ = ["IPSetGroups", "OverlayFlow", "ipset_groups", "overlay_flows", "overlay_port_blocked"]


@dataclass(frozen=True)
class OverlayFlow:
    """One kind of packet the overlay sends between nodes."""

    name: str  # vxlan | geneve | ipip | bgp | wireguard
    proto: str
    dport: int | None
    why: Evidence


_OVERLAY_NAMES = {
    "vxlan": "VXLAN",
    "geneve": "Geneve",
    "ipip": "IPIP",
    "bgp": "BGP",
    "wireguard": "WireGuard",
}


_DEFAULT_PORT = {"vxlan": 4789, "geneve": 6081, "wireguard": 51820}


def _kind_evidence(source: str, node: str, ifname: str, kind: str) -> Evidence:
    """An interface's kind (``geneve``, ``wireguard``, ``ipip``) as ``ip -d link`` shows it."""
    return Evidence(
        source=source,
        object=f"Interface/{ifname}",
        field="linkinfo.info_kind",
        value=kind,
        node=node,
    )


def overlay_flows(snap: Snapshot, node: str) -> list[OverlayFlow]:
    """The overlay packets ``node`` must accept from its peers, from its own tunnel devices
    (the VXLAN port as ``ip -d`` prints it), and from Calico's IPPools / BGP routes."""
    facts = snap.node_facts.get(node)
    out: dict[tuple[str, int | None], OverlayFlow] = {}
    src = snap.node_source(node, "ip_addr")
    for i in (facts.interfaces if facts else None) or ():
        data = i.linkinfo.info_data if i.linkinfo else None
        kind = i.kind
        if kind == "vxlan":
            port = data.get("port") if data else None
            port = port if isinstance(port, int) and port else _DEFAULT_PORT["vxlan"]
            ev = Evidence(
                source=src,
                object=f"Interface/{i.ifname}",
                field="linkinfo.info_data.port",
                value=str(port),
                node=node,
            )
            out.setdefault(("udp", port), OverlayFlow("vxlan", "udp", port, ev))
        elif kind == "geneve":
            port = data.get("port") if data else None
            port = port if isinstance(port, int) and port else _DEFAULT_PORT["geneve"]
            ev = _kind_evidence(src, node, i.ifname, kind)
            out.setdefault(("udp", port), OverlayFlow("geneve", "udp", port, ev))
        elif kind == "wireguard":
            port = _DEFAULT_PORT["wireguard"]
            ev = _kind_evidence(src, node, i.ifname, kind)
            out.setdefault(("udp", port), OverlayFlow("wireguard", "udp", port, ev))
        elif kind == "ipip" and i.up:
            ev = _kind_evidence(src, node, i.ifname, kind)
            out.setdefault(("ipip", None), OverlayFlow("ipip", "ipip", None, ev))
    for pool in snap.ippools or ():
        if pool.spec.disabled:
            continue
        ev = Evidence(
            source=snap.source("k8s.ippools"),
            object=f"IPPool/{pool.metadata.name}",
            field="spec.ipipMode",
            value=pool.spec.ipip_mode,
        )
        if pool.spec.ipip_mode != "Never":
            out.setdefault(("ipip", None), OverlayFlow("ipip", "ipip", None, ev))
        if pool.spec.vxlan_mode != "Never":
            vev = Evidence(
                source=ev.source,
                object=ev.object,
                field="spec.vxlanMode",
                value=pool.spec.vxlan_mode,
            )
            if not any(f.name == "vxlan" for f in out.values()):
                out.setdefault(("udp", 4789), OverlayFlow("vxlan", "udp", 4789, vev))
    for r in (facts.routes if facts else None) or ():
        if r.protocol == "bird":
            ev = Evidence(
                source=snap.node_source(node, "ip_route"),
                object=f"Node/{node}",
                field=f"route {r.dst}.protocol",
                value="bird",
                node=node,
            )
            out.setdefault(("tcp", 179), OverlayFlow("bgp", "tcp", 179, ev))
            break
    return list(out.values())


def _node_addresses(snap: Snapshot, node: str) -> list[str]:
    """The addresses a node's overlay speaks from: InternalIP, the CNI's own annotations."""
    n = snap.node_by_name.get(node)
    if n is None:
        return []
    out: list[str] = []
    for text in [
        *n.internal_ips,
        n.metadata.annotations.get(FLANNEL_PUBLIC_IP, ""),
        n.metadata.annotations.get(CALICO_ADDRESS, ""),
    ]:
        addr = parse_ip(text)
        if addr is not None and addr.version == 4 and str(addr) not in out:
            out.append(str(addr))
    return out


# Matches on the source address that _source_cells does not read: with one of them in the
# filter table every peer is evaluated on its own.
_OPAQUE_SOURCE_MATCHES = frozenset({"iprange", "geoip", "u32", "bpf", "policy", "recent"})


def _net_list(texts: Iterable[str]) -> list[ipaddress.IPv4Network] | None:
    out = []
    for t in texts:
        try:
            net = ipaddress.ip_network(t.strip(), strict=False)
        except ValueError:
            return None
        if isinstance(net, ipaddress.IPv4Network):
            out.append(net)
    return out


def _nft_source_nets(rs: NftRuleset) -> list[ipaddress.IPv4Network] | None:
    """Every address, prefix or range (as covering prefixes) an ``ip saddr`` match names,
    named sets included; None when a source is matched in a way not read here."""
    texts: list[str] = []

    def add(e: object) -> bool:
        if isinstance(e, dict) and isinstance(e.get("elem"), dict):
            e = e["elem"].get("val")
        if isinstance(e, str) and not e.startswith("@"):
            texts.append(e)
            return True
        if isinstance(e, dict) and isinstance(e.get("prefix"), dict):
            texts.append(f"{e['prefix'].get('addr')}/{e['prefix'].get('len')}")
            return True
        if isinstance(e, dict) and isinstance(e.get("range"), list) and len(e["range"]) == 2:
            try:
                lo, hi = (ipaddress.IPv4Address(str(x)) for x in e["range"])
            except ValueError:
                return False
            texts.extend(str(n) for n in ipaddress.summarize_address_range(lo, hi))
            return True
        return False

    for (fam, table, _), rules in rs.rules.items():
        for rule in rules:
            for stmt in rule.expr:
                m = stmt.get("match")
                if not isinstance(m, dict):
                    continue
                left, right = m.get("left"), m.get("right")
                if "saddr" not in str(left):
                    continue
                if left != {"payload": {"protocol": "ip", "field": "saddr"}}:
                    if left == {"payload": {"protocol": "ip6", "field": "saddr"}}:
                        continue
                    return None  # a concatenation, a map key: not read here
                if isinstance(right, str) and right.startswith("@"):
                    named = rs.sets.get((fam, table, right[1:]))
                    if named is None:
                        return None
                    items: list[object] = list(named.elem)
                elif isinstance(right, dict) and "set" in right:
                    items = right["set"] if isinstance(right["set"], list) else [right["set"]]
                else:
                    items = [right]
                if not all(add(e) for e in items):
                    return None
    return _net_list(texts)


_SRC_OPT = re.compile(r"(?:^|\s)(?:-s|--source|--src)\s+(\S+)")


_MATCH_OPT = re.compile(r"(?:^|\s)(?:-m|--match)\s+(\S+)")


IPSetGroups = list[tuple[frozenset[int], list[tuple[int, int]]]]


def ipset_groups(ipsets: tuple[tuple[str, tuple[str, ...]], ...]) -> IPSetGroups:
    """Each ipset as its host addresses (a hash lookup) and its wider (network, mask)s."""
    groups: IPSetGroups = []
    for _, cidrs in ipsets:
        members = _net_list(cidrs) or []
        hosts = frozenset(int(n.network_address) for n in members if n.prefixlen == 32)
        wide = [(int(n.network_address), int(n.netmask)) for n in members if n.prefixlen < 32]
        groups.append((hosts, wide))
    return groups


@lru_cache(maxsize=1 << 16)
def _line_sources(line: str) -> tuple[str, ...] | None:
    """The source prefixes one iptables-save line names; None if it matches the source in a
    way not read here. Cached: the same rule lines recur on every node of a cluster."""
    if _OPAQUE_SOURCE_MATCHES.intersection(_MATCH_OPT.findall(line)):
        return None
    return tuple(t for m in _SRC_OPT.findall(line) for t in m.split(","))


CellMemo = dict[tuple[tuple[int, int], ...], dict[str, tuple[bool, ...]]]


def _source_cells(
    facts: NetFacts, groups: IPSetGroups, nft: NftRuleset | None, memo: CellMemo | None = None
) -> Callable[[str], tuple[bool, ...]] | None:
    """A key per source address such that two peers with the same key (and the same arrival
    interface) get the same verdict from the node's filter rules: whether the address lies in
    each prefix the rules name, and in each known ipset. It lets a 5,000-node cluster evaluate
    a handful of packets per node instead of one per peer. None when a rule matches the source
    in a way not read here (then each peer is evaluated on its own)."""
    texts: list[str] = []
    if facts.iptables is not None:
        table = facts.iptables.tables.get("filter")
        for chain in table.chains.values() if table else ():
            for line in chain.texts():
                found = _line_sources(line)
                if found is None:
                    return None
                texts.extend(found)
    nets = _net_list(texts)
    if nets is None:
        return None
    if nft is not None:
        more = _nft_source_nets(nft)
        if more is None:
            return None
        nets += more
    ordered = tuple(sorted({(int(n.network_address), int(n.netmask)) for n in nets}))
    # Nodes whose rules name the same prefixes share one cache (``memo``, one per run: the
    # ipset groups are fixed within it), so each peer's key is computed once per distinct
    # set of prefixes rather than once per node.
    known = memo.setdefault(ordered, {}) if memo is not None else {}

    def key(ip: str) -> tuple[bool, ...]:
        got = known.get(ip)
        if got is None:
            a = _v4int(ip)
            got = known[ip] = (
                *(a & m == n for n, m in ordered),
                *(a in hosts or any(a & m == n for n, m in wide) for hosts, wide in groups),
            )
        return got

    return key


@lru_cache(maxsize=1 << 16)
def _v4int(ip: str) -> int:
    """An IPv4 address as an integer; each peer's address is asked about once per node, so a
    5,000-node cluster parses it once instead of 5,000 times."""
    return int(ipaddress.IPv4Address(ip))


class _Arrival:
    """``arrival_iface`` for many peers of one node: its subnets and routes indexed once."""

    def __init__(self, facts: NetFacts) -> None:
        self.subnets = [
            (int(net.network_address), int(net.netmask), i.ifname)
            for i in facts.interfaces or ()
            for a in i.addresses("inet")
            if a.scope in ("", "global") and a.prefixlen < 32
            for net in (a.interface.network,)
            if net.version == 4
        ]
        self.facts = facts
        self.routes: RouteIndex | None = None  # built on the first peer off every subnet

    def __call__(self, peer_ip: str) -> str | None:
        addr = _v4int(peer_ip)
        for net, mask, name in self.subnets:
            if addr & mask == net:
                return name
        if self.routes is None:
            self.routes = RouteIndex(self.facts.routes or ())
        return dev_to(self.routes, peer_ip)


def _peer_text(peers: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{p} ({ip})" for p, ip in peers)


@check("overlay-port-blocked", code="NET-203", needs=("k8s.nodes",))
def overlay_port_blocked(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    skip = no_firewall_skip(snap)
    if skip is not None:
        yield skip
        return
    names = sorted(snap.node_by_name)
    ipsets = felix_ipsets(snap)
    nft_cache: dict[int, NftRuleset | None] = {}
    addresses = {n: _node_addresses(snap, n) for n in names}
    groups = ipset_groups(ipsets)
    cells: CellMemo = {}
    for node in names:
        facts = snap.node_facts.get(node)
        if facts is None or (facts.iptables is None and facts.nft is None):
            yield no_firewall_note(snap, node)
            continue
        flows = overlay_flows(snap, node)
        mine = addresses[node]
        if not flows or not mine:
            continue
        local = local_addresses(facts)
        dst = next((a for a in mine if a in local), mine[0])
        cell = _source_cells(facts, groups, nft_of(facts, nft_cache), cells)
        verdicts: dict[tuple[object, ...], Blocked | None] = {}
        arrival = _Arrival(facts)
        # (flow, the dropping rule or policy) -> the peers it drops
        blocked: dict[tuple[str, int | None, str], list[tuple[str, str]]] = defaultdict(list)
        found: dict[tuple[str, int | None, str], tuple[OverlayFlow, Blocked]] = {}
        for peer in names:
            if peer == node:
                continue
            for peer_ip in addresses[peer]:
                if peer_ip in local:
                    continue
                iif = arrival(peer_ip)
                where = (cell(peer_ip), iif) if cell else None
                for flow in flows:
                    memo = (*where, flow.name, flow.dport) if where is not None else None
                    if memo is not None and memo in verdicts:
                        b = verdicts[memo]
                    else:
                        pkt = Packet(
                            src=peer_ip,
                            dst=dst,
                            proto=flow.proto,
                            dport=flow.dport,
                            in_iface=iif,
                            local_addresses=local,
                            ipsets=ipsets,
                        )
                        b = firewall_drop(snap, node, facts, "INPUT", pkt, nft_cache)
                        if memo is not None:
                            verdicts[memo] = b
                    if b is None:
                        continue
                    key = (flow.name, flow.dport, b.key)
                    blocked[key].append((peer, peer_ip))
                    found[key] = (flow, b)
        for key, peers in blocked.items():
            flow, b = found[key]
            what = f"{flow.proto} {flow.dport}" if flow.dport else "IP protocol 4 (IPIP)"
            params = {"line": "", "handle": "", "table": "", **b.params}
            fixes: list[Action] = []
            if b.delete is not None:
                fixes.append(
                    Action(
                        message=Message(
                            "fix.overlay_delete_nft_rule" if b.nft else "fix.overlay_delete_rule",
                            {"node": node, **params},
                        ),
                        command=b.delete,
                    )
                )
            for _peer, ip in peers:
                if b.nft:
                    match = (
                        f"ip saddr {ip} {flow.proto} dport {flow.dport}"
                        if flow.dport
                        else f"ip saddr {ip} ip protocol ipencap"
                    )
                    command = f"{b.insert_at} {match} accept"
                else:
                    match = (
                        f"-s {ip}/32 -p {flow.proto} --dport {flow.dport}"
                        if flow.dport
                        else f"-s {ip}/32 -p 4"
                    )
                    command = f"{b.insert_at} {match} -j ACCEPT"
                fixes.append(
                    Action(
                        message=Message(
                            "fix.overlay_insert_accept", {"node": node, "peer": ip, "what": what}
                        ),
                        command=command,
                    )
                )
            if b.nft:
                verify_cmd = f"nft -a list ruleset | grep -E '{flow.dport or 'ipencap'}'"
            elif flow.dport:
                verify_cmd = f"iptables -S INPUT | grep -- '{flow.dport}'"
            else:
                verify_cmd = "iptables -S INPUT | grep -E -- '-p (4|ipencap|ipip)'"
            yield Finding(
                id="overlay-port-blocked",
                subject=Subject(kind="Node", name=node),
                params={
                    "node": node,
                    "overlay": _OVERLAY_NAMES.get(flow.name, flow.name),
                    "what": what,
                    "peers": _peer_text(peers),
                    **params,
                },
                variant=b.variant,
                evidence=(b.evidence, flow.why),
                fix=tuple(fixes),
                verify=(
                    Action(
                        message=Message("verify.overlay_rule", {"node": node, "what": what}),
                        command=verify_cmd,
                    ),
                ),
                nodes=(node, *(p for p, _ in peers)),
            )
