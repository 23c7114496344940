"""Node firewalls: the FORWARD chain against pod traffic (NET-102) and the INPUT chain against
the overlay's own packets (NET-203).

Checks layer. Both checks build the packets the cluster really sends (a pod on one node to a
pod on another; VXLAN/IPIP/BGP/Geneve/WireGuard from each peer node's address) and ask the
iptables evaluator (``netdoctor.netfilter``) for the kernel's verdict, jumps included. Only a
certain drop is a finding; a match the evaluator cannot decide (an ipset whose contents the
bundle does not hold) is left alone, never guessed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from netdoctor.checks._support.common import ippool_evidence, parse_ip, route_to, smallest_supernet
from netdoctor.checks._support.oddone import odd_one_out
from netdoctor.checks._support.registry import Context, Note, Skip, Yielded, check
from netdoctor.model.cni import CALICO_ADDRESS, FLANNEL_PUBLIC_IP
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.nftables import NftRuleset, decode_ruleset
from netdoctor.model.nodefacts import IptRule, NetFacts, Route
from netdoctor.model.snapshot import Snapshot
from netdoctor.netfilter import Decision, Packet, evaluate
from netdoctor.netfilter.felix import felix_ipsets
from netdoctor.netfilter.nft import NftDecision, evaluate_hook, rule_text

__all__ = [
    "Blocked",
    "IPSetGroups",
    "OverlayFlow",
    "RouteIndex",
    "arrival_iface",
    "cluster_pod_cidrs",
    "firewall_drop",
    "forward_policy_drop",
    "ipset_groups",
    "overlay_flows",
    "overlay_port_blocked",
    "pod_sample",
]

# How many peer nodes one node's FORWARD chain is tried against: the rules name CIDRs and
# interfaces, not nodes, so two peers (both directions, ICMP and TCP) say as much as all.
_PEERS_TRIED = 2

# Chains that enforce NetworkPolicy (Calico's per-endpoint and per-policy chains, kube-router's,
# the lab's): a drop there is a policy's verdict on one flow (NET-701), not the node's FORWARD.
_POLICY_CHAINS = ("cali-tw-", "cali-fw-", "cali-pi-", "cali-po-", "KUBE-POD-FW-", "KUBE-NWPLCY-")


def _policy_drop(d: Decision) -> bool:
    rule = d.deciding
    if rule is not None and "policy" in (rule.comment or "").lower():
        return True
    return any(step.chain.startswith(_POLICY_CHAINS) for step in d.steps)


# --- the cluster's pod networks --------------------------------------------------------------


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


def _local_addresses(facts: NetFacts) -> frozenset[str]:
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


def _dev_to(routes: RouteIndex, ip: str) -> str | None:
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


def _nft_of(facts: NetFacts, cache: dict[int, NftRuleset | None]) -> NftRuleset | None:
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
    rs = _nft_of(facts, nft_cache)
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
    return any(step.chain.rsplit(" ", 1)[-1].startswith(_POLICY_CHAINS) for step in d.steps)


# --- NET-102 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FwdDrop:
    node: str
    blocked: Blocked
    src: str
    dst: str
    in_iface: str
    out_iface: str


def _no_firewall_note(snap: Snapshot, node: str) -> Note:
    paths = f"{snap.node_source(node, 'iptables')}, {snap.node_source(node, 'nft')}"
    return Note(Message("note.node_file_missing", {"node": node, "path": paths}))


def _no_firewall_skip(snap: Snapshot) -> Skip | None:
    if snap.has("node.iptables") or snap.has("node.nft"):
        return None
    paths = f"{snap.source('node.iptables')}, {snap.source('node.nft')}"
    return Skip(Message("skip.missing", {"path": paths}))


@check("node-forward-policy-drop", code="NET-102", needs=("k8s.nodes",))
def forward_policy_drop(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    skip = _no_firewall_skip(snap)
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
            yield _no_firewall_note(snap, node)
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
        local_addrs = _local_addresses(facts)
        for peer in peers:
            remote = samples[peer]
            assert remote is not None
            d_local, d_remote = _dev_to(routes, local), _dev_to(routes, remote)
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


# --- NET-203 ---------------------------------------------------------------------------------


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
        return _dev_to(self.routes, peer_ip)


def _peer_text(peers: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{p} ({ip})" for p, ip in peers)


@check("overlay-port-blocked", code="NET-203", needs=("k8s.nodes",))
def overlay_port_blocked(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    skip = _no_firewall_skip(snap)
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
            yield _no_firewall_note(snap, node)
            continue
        flows = overlay_flows(snap, node)
        mine = addresses[node]
        if not flows or not mine:
            continue
        local = _local_addresses(facts)
        dst = next((a for a in mine if a in local), mine[0])
        cell = _source_cells(facts, groups, _nft_of(facts, nft_cache), cells)
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
