"""Follow one packet and its reply over the node facts, hop by hop, as the kernel would.

Where it sits: the analysis layer, beside the checks. It reads only the ``Snapshot`` (pod and
node network facts, Pod and Node objects) and never the probes: the path is computed from
routes, addresses, rules, sysctls and firewall rules, so that measured probes can be set beside
it. Words come from the catalog (``catalog/trace.yaml``, keys ``hop.<stage>.<outcome>``).

A ``Path`` is the request (source pod to target) followed by its reply (target back to the
source, conntrack state ESTABLISHED). Its verdict is for the round trip: ``delivered`` when
every hop passes, ``dropped`` when some hop drops (``drop_at`` = the first), else ``unknown``.
A hop is ``unknown`` when a fact it needs is missing (it names the file or key) or lies outside
the facts (a router that is not a node of the snapshot); the walk then goes on where the
packet can only be going (e.g. to the node holding an outer destination), so a later certain
drop still decides the verdict.

Stages, in order of travel (``Hop.stage``):

- ``pod-route``: the route lookup in the sending namespace (policy rules, tables, longest
  prefix, metric); ``pod-egress``: the egress interface's MTU for a don't-fragment packet.
- ``veth``: the pod's ``eth0`` to its host peer (``link_index`` = the host ifindex, else the
  host ``/32`` route, else the bridge whose subnet holds the pod), the next hop's ARP
  (an address on the host side, or ``proxy_arp``).
- ``bridge``: a frame switched between two ports of a bridge (flannel's ``cni0``); with
  ``net.bridge.bridge-nf-call-iptables = 1`` it also traverses ``filter FORWARD``.
- ``node-route``: the node's lookup (rules + tables; the ``local`` table delivers to the node);
  ``node-forwarding``: ``net.ipv4.conf.<in>.forwarding``; ``rp-filter``: reverse-path
  filtering (effective value max(all, <in>); strict: the route back to the source must leave
  by the arrival interface, loose: any unicast route); ``filter-forward`` / ``filter-input`` /
  ``filter-output``: the iptables chains (``netdoctor.netfilter``); ``egress-mtu``.
- ``encap``: VXLAN (next hop, neighbour entry, FDB entry, VNI, port, outer addresses, inner
  size vs the device MTU) or IP-in-IP (``tunl0``: outer destination = the onlink gateway,
  protocol 4, 20 bytes); ``outer-route``: the outer packet's own lookup (a local destination
  means the node sends the packet to itself); ``underlay``: the next hop must be an address
  of a node on a subnet of the egress interface (the same segment); a router that is no node
  of the snapshot is outside the facts (unknown).
- ``decap``: a VXLAN device with that VNI and UDP port (or an IP-in-IP device) on the receiver.
- ``delivery``: into the pod (host veth or bridge port, the pod's MTU) or to the node itself;
  ``pod-ingress``: the pod's interface holds the destination; ``port``: a container declares
  the TCP/UDP port (else unknown: a listener is never guessed).

Not modelled: NAT (DNAT, Services, MASQUERADE rewriting the source), IPv6, conntrack beyond the
given state (request NEW, reply ESTABLISHED), tc and eBPF programs, IPsec/WireGuard, routers
that are not nodes of the snapshot, NetworkPolicy objects (their iptables rules are evaluated).
"""

from __future__ import annotations

import ipaddress
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

from netdoctor.model.cni import CALICO_ADDRESS, FLANNEL_PUBLIC_IP
from netdoctor.model.findings import Evidence, Message
from netdoctor.model.k8s import Node, Pod
from netdoctor.model.layout import pod_path
from netdoctor.model.nftables import decode_ruleset
from netdoctor.model.nodefacts import (
    FdbEntry,
    Interface,
    IptRule,
    Neighbour,
    NetFacts,
    Route,
    RoutingRule,
)
from netdoctor.model.snapshot import Snapshot
from netdoctor.netfilter import Packet, evaluate
from netdoctor.netfilter.felix import felix_ipsets, ipv4
from netdoctor.netfilter.nft import evaluate_hook
from netdoctor.netfilter.nft import rule_text as nft_rule_text

# iptables-nft's own tables: iptables-save shows them, so the nft walk leaves them out
_IPT_NFT_TABLES = frozenset(("ip", t) for t in ("filter", "nat", "mangle", "raw", "security"))

__all__ = ["STAGES", "Hop", "Path", "trace"]

STAGES = (
    "pod-route",
    "pod-egress",
    "veth",
    "bridge",
    "node-route",
    "node-forwarding",
    "rp-filter",
    "filter-forward",
    "filter-input",
    "filter-output",
    "egress-mtu",
    "encap",
    "outer-route",
    "underlay",
    "decap",
    "delivery",
    "pod-ingress",
    "port",
)

_VXLAN_OVERHEAD = 50
_IPIP_OVERHEAD = 20
_POLICY_CHAINS = ("cali-tw-", "cali-fw-", "cali-pi-", "cali-po-", "KUBE-POD-FW-", "KUBE-NWPLCY-")
_DEFAULT_RULES = (
    RoutingRule(priority=0, src="all", table="local"),
    RoutingRule(priority=32766, src="all", table="main"),
    RoutingRule(priority=32767, src="all", table="default"),
)
_MAX_STEPS = 40  # forwarding loops (a packet sent back and forth) end here

IP = ipaddress.IPv4Address


@dataclass(frozen=True)
class Hop:
    """One step of the packet: where, what decided, and the verdict."""

    index: int
    node: str | None  # the node, or None inside a pod / on the underlay
    stage: str  # one of STAGES
    direction: str  # "request" | "reply"
    verdict: str  # "pass" | "drop" | "unknown"
    message: Message
    evidence: tuple[Evidence, ...]
    cause: str | None = None  # root-cause id a drop (or an unknown, if it drops) points at


@dataclass(frozen=True)
class Path:
    verdict: str  # "delivered" | "dropped" | "unknown" (the round trip)
    drop_at: int | None
    hops: tuple[Hop, ...]


@dataclass(frozen=True)
class _Pkt:
    src: str
    dst: str
    proto: str  # "icmp" | "tcp" | "udp" | "4" (IP-in-IP)
    size: int
    df: bool
    ctstate: str
    sport: int | None = None
    dport: int | None = None
    inner: _Pkt | None = None  # the encapsulated packet of an outer one
    encap: str | None = None  # "vxlan" | "ipip" for an outer packet
    vni: int | None = None  # an outer VXLAN packet's VNI
    origin: tuple[Evidence, ...] = ()  # an outer packet: the route that chose its destination


class _Stop(Exception):
    """The walk of one direction ends (delivered, dropped, or nothing more can be known)."""


@dataclass
class _Index:
    """Per-snapshot lookups built once: who holds an address, pods by IP."""

    holders: dict[str, list[tuple[str, Interface, int]]] = field(default_factory=dict)
    felix_sets: tuple[tuple[str, tuple[str, ...]], ...] = ()


_INDEXES: weakref.WeakKeyDictionary[Snapshot, _Index] = weakref.WeakKeyDictionary()


def _index(snap: Snapshot) -> _Index:
    idx = _INDEXES.get(snap)
    if idx is None:
        idx = _Index()
        for node, facts in snap.node_facts.items():
            for iface in facts.interfaces or ():
                for a in iface.addresses("inet"):
                    idx.holders.setdefault(a.local, []).append((node, iface, a.prefixlen))
        idx.felix_sets = _felix_sets(snap)
        _INDEXES[snap] = idx
    return idx


_felix_sets = felix_ipsets  # shared with the checks: netdoctor.netfilter.felix


def _net(text: str, length: int | None = None) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(text if length is None else f"{text}/{length}", strict=False)
    except ValueError:
        return None
    return net if isinstance(net, ipaddress.IPv4Network) else None


def _sysctl_name(iface: str) -> str:
    return iface.replace(".", "/")  # sysctl prints flannel.1 as flannel/1


# --- routing ---------------------------------------------------------------------------------


def _rule_matches(rule: RoutingRule, src: IP | None, dst: IP, iif: str | None) -> bool:
    ok = True
    if rule.src and rule.src != "all":
        net = _net(rule.src, rule.srclen)
        ok = ok and src is not None and net is not None and src in net
    if rule.dst and rule.dst != "all":
        net = _net(rule.dst, rule.dstlen)
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


def _lookup(
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


def _route_dev(route: Route) -> str | None:
    if route.dev:
        return route.dev
    return route.nexthops[0].dev if route.nexthops else None


def _route_gw(route: Route) -> str | None:
    if route.gateway:
        return route.gateway
    return route.nexthops[0].gateway if route.nexthops else None


# --- the walk --------------------------------------------------------------------------------


class _Walk:
    def __init__(self, snap: Snapshot, direction: str, hops: list[Hop]) -> None:
        self.snap = snap
        self.direction = direction
        self.hops = hops
        self.idx = _index(snap)
        self.steps = 0

    # hops and evidence

    def hop(
        self,
        stage: str,
        verdict: str,
        outcome: str,
        params: dict[str, str],
        evidence: Iterable[Evidence] = (),
        *,
        node: str | None = None,
        cause: str | None = None,
    ) -> None:
        self.hops.append(
            Hop(
                index=len(self.hops),
                node=node,
                stage=stage,
                direction=self.direction,
                verdict=verdict,
                message=Message(f"hop.{stage}.{outcome}", params),
                evidence=tuple(evidence),
                cause=cause,
            )
        )
        if verdict == "drop":
            raise _Stop

    def unknown_stop(
        self,
        stage: str,
        outcome: str,
        params: dict[str, str],
        evidence: Iterable[Evidence] = (),
        *,
        node: str | None = None,
        cause: str | None = None,
    ) -> None:
        self.hop(stage, "unknown", outcome, params, evidence, node=node, cause=cause)
        raise _Stop

    def missing(self, stage: str, path: str, node: str | None) -> None:
        self.unknown_stop(stage, "missing", {"path": path}, node=node)

    def route_ev(
        self, where: str, route: Route | None, dst: str, pod: str | None = None
    ) -> Evidence:
        src = self.pod_src(pod, "ip_route") if pod else self.snap.node_source(where, "ip_route")
        return Evidence(
            source=src,
            object=f"Pod/{pod}" if pod else f"Node/{where}",
            field=f"route to {dst}",
            value=route.text() if route else "none",
            node=None if pod else where,
        )

    def rule_ev(self, node: str | None, rule: RoutingRule, pod: str | None = None) -> Evidence:
        return Evidence(
            source=self.pod_src(pod, "ip_rule")
            if pod
            else self.snap.node_source(node or "", "ip_rule"),
            object=f"Pod/{pod}" if pod else f"Node/{node}",
            field=f"rule {rule.priority}",
            value=f"{rule.action or 'lookup'} {rule.table or ''}".strip(),
            node=node,
        )

    def fact_ev(self, node: str, part: str, field: str, value: str) -> Evidence:
        """A node fact quoted from its file (``part`` as in the bundle layout: ip_neigh, ...)."""
        return Evidence(
            source=self.snap.node_source(node, part),
            object=f"Node/{node}",
            field=field,
            value=value,
            node=node,
        )

    def sysctl_ev(self, node: str, key: str, value: str) -> Evidence:
        return self.fact_ev(node, "sysctl", key, value)

    def iface_ev(
        self, node: str | None, iface: Interface, fld: str, value: str, pod: str | None = None
    ) -> Evidence:
        return Evidence(
            source=self.pod_src(pod, "ip_addr")
            if pod
            else self.snap.node_source(node or "", "ip_addr"),
            object=f"Interface/{iface.ifname}",
            field=fld,
            value=value,
            node=node,
        )

    def pod_src(self, ref: str | None, part: str) -> str:
        ref = ref or ""
        return self.snap.provenance.get(f"pod:{ref}:{part}") or pod_path(ref, part)

    def node_addresses(self, facts: NetFacts) -> frozenset[str]:
        return frozenset(a.local for i in facts.interfaces or () for a in i.addresses("inet"))

    def tick(self) -> None:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            self.hop("node-route", "drop", "loop", {"steps": str(_MAX_STEPS)})

    # --- in the sending pod -----------------------------------------------------------------

    def from_pod(self, pod: Pod, pkt: _Pkt) -> None:
        ref = pod.ref
        facts = self.snap.pod_facts.get(ref)
        if facts is None or facts.routes is None or facts.interfaces is None:
            # Without the pod's own facts its route is unknown; its packets can only leave by
            # its interface to the node, so go on there: a certain drop further on decides.
            part = "ip_route" if facts is None or facts.routes is None else "ip_addr"
            self.hop("pod-route", "unknown", "missing", {"path": self.pod_src(ref, part)})
            self.pod_to_node(pod, None, None, pkt)
            return
        route, rule = _lookup(facts, pkt.dst, pkt.src)
        if route is None or route.type not in (None, "unicast"):
            ev = (
                [self.rule_ev(None, rule, ref)]
                if rule
                else [self.route_ev("", route, pkt.dst, ref)]
            )
            self.hop("pod-route", "drop", "none", {"pod": ref, "dst": pkt.dst}, ev)
            return
        dev = _route_dev(route) or ""
        gw = _route_gw(route)
        self.hop(
            "pod-route",
            "pass",
            "via" if gw else "direct",
            {"pod": ref, "dst": pkt.dst, "dev": dev, "gateway": gw or ""},
            [self.route_ev("", route, pkt.dst, ref)],
        )
        eth = facts.interface(dev)
        if eth is None:
            self.unknown_stop("pod-egress", "no_device", {"pod": ref, "dev": dev})
            return
        mtu_ev = self.iface_ev(None, eth, "mtu", str(eth.mtu), ref)
        if pkt.df and eth.mtu and pkt.size > eth.mtu:
            self.hop(
                "pod-egress",
                "drop",
                "mtu",
                {"pod": ref, "dev": dev, "mtu": str(eth.mtu), "size": str(pkt.size)},
                [mtu_ev],
                cause="mtu-mismatch",
            )
        self.hop(
            "pod-egress",
            "pass",
            "ok",
            {"pod": ref, "dev": dev, "mtu": str(eth.mtu), "size": str(pkt.size)},
            [mtu_ev],
        )
        self.pod_to_node(pod, eth, gw, pkt)

    def host_peer(
        self, pod: Pod, eth: Interface | None, nfacts: NetFacts
    ) -> tuple[Interface | None, str]:
        """The host side of a pod's interface, and how it was found."""
        ifaces = nfacts.interfaces or ()
        if eth is not None and eth.link_index is not None:
            for i in ifaces:
                if i.ifindex == eth.link_index and i.kind in (None, "veth"):
                    return i, "link_index"
        for ip in pod.ips:
            for r in nfacts.routes or ():
                if r.dst in (ip, f"{ip}/32") and r.table_name == "main" and r.dev:
                    peer = nfacts.interface(r.dev)
                    if peer is not None:
                        return peer, "route"
            a = ipv4(ip)
            for i in ifaces:
                if i.kind == "bridge" and a is not None:
                    for ad in i.addresses("inet"):
                        net = _net(ad.local, ad.prefixlen)
                        if net is not None and a in net:
                            return i, "bridge"
        return None, ""

    def pod_to_node(self, pod: Pod, eth: Interface | None, gw: str | None, pkt: _Pkt) -> None:
        """From the pod's interface to the node. ``eth`` None: the pod's facts are missing
        (its next hop then follows from the node side: a pod on the bridge's subnet talks
        to it directly, any other destination goes to the node)."""
        node = pod.spec.node_name
        nfacts = self.snap.node_facts.get(node)
        if nfacts is None or nfacts.interfaces is None:
            self.missing("veth", self.snap.node_source(node, "ip_addr"), node)
            return
        host, how = self.host_peer(pod, eth, nfacts)
        if host is None:
            self.unknown_stop("veth", "no_peer", {"pod": pod.ref, "node": node}, node=node)
            return
        assert host is not None
        ev = [self.iface_ev(node, host, "ifindex", str(host.ifindex))]
        if host.kind != "bridge" and host.mtu and pkt.size > host.mtu:
            self.hop(
                "veth",
                "drop",
                "mtu",
                {"dev": host.ifname, "mtu": str(host.mtu), "size": str(pkt.size)},
                [*ev, self.iface_ev(node, host, "mtu", str(host.mtu))],
                node=node,
                cause="mtu-mismatch",
            )
        bridge = (
            nfacts.interface(host.master) if host.master else (host if how == "bridge" else None)
        )
        in_iface = bridge.ifname if bridge else host.ifname
        if eth is None:
            d = ipv4(pkt.dst)
            on_bridge = bridge is not None and any(
                d is not None and (n := _net(a.local, a.prefixlen)) is not None and d in n
                for a in bridge.addresses("inet")
            )
            self.hop("veth", "pass", "host_side", {"pod": pod.ref, "dev": in_iface}, ev, node=node)
            if on_bridge:
                assert bridge is not None
                self.bridged(node, nfacts, bridge, host, pkt)
            else:
                self.node_input(node, in_iface, pkt)
            return
        if gw is None:
            if bridge is None:
                self.unknown_stop(
                    "veth", "direct_no_bridge", {"dev": host.ifname, "dst": pkt.dst}, ev, node=node
                )
            self.hop(
                "veth",
                "pass",
                "to_bridge",
                {"pod": pod.ref, "dev": host.ifname, "bridge": in_iface},
                ev,
                node=node,
            )
            assert bridge is not None
            self.bridged(node, nfacts, bridge, host, pkt)
            return
        # Who answers ARP for the gateway: an address on the host side, or proxy ARP.
        holder = nfacts.interface_with_address(gw)
        if holder is not None and holder[0].ifname in (host.ifname, in_iface):
            ev.append(self.iface_ev(node, holder[0], "addr_info[].local", gw))
            self.hop(
                "veth",
                "pass",
                "gateway_address",
                {"pod": pod.ref, "dev": in_iface, "gateway": gw},
                ev,
                node=node,
            )
        else:
            if nfacts.sysctl is None:
                self.missing("veth", self.snap.node_source(node, "sysctl"), node)
                return
            key = f"net.ipv4.conf.{_sysctl_name(host.ifname)}.proxy_arp"
            val = nfacts.sysctl.get(key)
            if val is None:
                self.unknown_stop("veth", "key_missing", {"key": key}, ev, node=node)
                return
            ev.append(self.sysctl_ev(node, key, val))
            if val == "0":
                self.hop(
                    "veth",
                    "drop",
                    "no_arp",
                    {"pod": pod.ref, "dev": host.ifname, "gateway": gw},
                    ev,
                    node=node,
                )
            self.hop(
                "veth",
                "pass",
                "proxy_arp",
                {"pod": pod.ref, "dev": host.ifname, "gateway": gw},
                ev,
                node=node,
            )
        self.node_input(node, in_iface, pkt)

    # --- bridged (same L2) -------------------------------------------------------------------

    def pod_on_port(
        self, node: str, nfacts: NetFacts, dst: str, master: str
    ) -> tuple[Pod, Interface] | None:
        for pod in self.snap.pods_by_ip.get(dst, ()):
            if pod.spec.node_name != node:
                continue
            pf = self.snap.pod_facts.get(pod.ref)
            eth = None
            if pf is not None:
                held = pf.interface_with_address(dst)
                eth = held[0] if held else None
            for i in nfacts.interfaces or ():
                if i.master == master and eth is not None and i.ifindex == eth.link_index:
                    return pod, i
        return None

    def bridged(
        self, node: str, nfacts: NetFacts, bridge: Interface, port_in: Interface, pkt: _Pkt
    ) -> None:
        found = self.pod_on_port(node, nfacts, pkt.dst, bridge.ifname)
        if found is None:
            self.unknown_stop(
                "bridge", "no_port", {"bridge": bridge.ifname, "dst": pkt.dst}, node=node
            )
            return
        pod, port = found
        if nfacts.sysctl is None:
            self.missing("bridge", self.snap.node_source(node, "sysctl"), node)
            return
        key = "net.bridge.bridge-nf-call-iptables"
        val = nfacts.sysctl.get(key)
        ev = [self.iface_ev(node, port, "master", bridge.ifname)]
        if val == "1":
            self.hop(
                "bridge",
                "pass",
                "nf",
                {"bridge": bridge.ifname, "port": port.ifname},
                [*ev, self.sysctl_ev(node, key, val)],
                node=node,
            )
            self.chain(node, nfacts, "FORWARD", pkt, bridge.ifname, bridge.ifname)
        else:
            self.hop(
                "bridge",
                "pass",
                "no_nf",
                {"bridge": bridge.ifname, "port": port.ifname, "key": key},
                ev,
                node=node,
            )
        self.through_port(node, pod, port, pkt)

    # --- a node receives a packet on an interface --------------------------------------------

    def node_input(self, node: str, in_iface: str, pkt: _Pkt) -> None:
        self.tick()
        nfacts = self.snap.node_facts.get(node)
        if nfacts is None or nfacts.routes is None:
            self.missing("node-route", self.snap.node_source(node, "ip_route"), node)
            return
        assert nfacts is not None
        route, rule = _lookup(nfacts, pkt.dst, pkt.src, in_iface)
        if route is None:
            self.no_route(node, pkt, rule)
            return
        assert route is not None
        rev = self.route_ev(node, route, pkt.dst)
        if route.type == "local":
            self.hop(
                "node-route", "pass", "local", {"node": node, "dst": pkt.dst}, [rev], node=node
            )
            self.rp_filter(node, nfacts, in_iface, pkt)
            self.local_in(node, nfacts, in_iface, pkt)
            return
        if route.type not in (None, "unicast"):
            self.hop(
                "node-route",
                "drop",
                "type",
                {"node": node, "dst": pkt.dst, "type": route.type or ""},
                [rev],
                node=node,
                cause=self.pod_route_cause(node, pkt),
            )
        out = _route_dev(route) or ""
        gw = _route_gw(route)
        self.hop(
            "node-route",
            "pass",
            "via" if gw else "direct",
            {"node": node, "dst": pkt.dst, "dev": out, "gateway": gw or ""},
            [rev],
            node=node,
        )
        # ip_route_input_slow: forwarding is checked on the arrival device, then rp_filter.
        if nfacts.sysctl is None:
            self.missing("node-forwarding", self.snap.node_source(node, "sysctl"), node)
            return
        key = f"net.ipv4.conf.{_sysctl_name(in_iface)}.forwarding"
        val = nfacts.sysctl.get(key)
        if val is None:
            key = "net.ipv4.ip_forward"
            val = nfacts.sysctl.get(key)
        if val is None:
            self.unknown_stop("node-forwarding", "key_missing", {"key": key}, node=node)
            return
        ev = [self.sysctl_ev(node, key, val)]
        glob = nfacts.sysctl.get("net.ipv4.ip_forward")
        if glob is not None and key != "net.ipv4.ip_forward":
            ev.append(self.sysctl_ev(node, "net.ipv4.ip_forward", glob))
        if val != "1":
            self.hop(
                "node-forwarding",
                "drop",
                "off",
                {"node": node, "dev": in_iface, "key": key},
                ev,
                node=node,
                cause="node-ip-forward-disabled",
            )
        self.hop("node-forwarding", "pass", "on", {"node": node, "dev": in_iface}, ev, node=node)
        self.rp_filter(node, nfacts, in_iface, pkt)
        self.chain(node, nfacts, "FORWARD", pkt, in_iface, out)
        self.egress(node, nfacts, route, pkt, forwarded=True)

    def no_route(
        self, node: str, pkt: _Pkt, rule: RoutingRule | None, stage: str = "node-route"
    ) -> None:
        ev = [self.rule_ev(node, rule)] if rule else [self.route_ev(node, None, pkt.dst)]
        self.hop(
            stage,
            "drop",
            "none",
            {"node": node, "dst": pkt.dst},
            ev,
            node=node,
            cause=self.pod_route_cause(node, pkt),
        )

    def rp_filter(self, node: str, nfacts: NetFacts, in_iface: str, pkt: _Pkt) -> None:
        sysctl = nfacts.sysctl
        if sysctl is None:
            self.missing("rp-filter", self.snap.node_source(node, "sysctl"), node)
            return
        assert sysctl is not None
        k_all = "net.ipv4.conf.all.rp_filter"
        k_dev = f"net.ipv4.conf.{_sysctl_name(in_iface)}.rp_filter"
        v_all, v_dev = sysctl.get(k_all), sysctl.get(k_dev)
        if v_all is None or v_dev is None:
            self.unknown_stop(
                "rp-filter", "key_missing", {"key": k_all if v_all is None else k_dev}, node=node
            )
            return
        assert v_all is not None
        assert v_dev is not None
        if not (v_all.isdigit() and v_dev.isdigit()):
            self.unknown_stop("rp-filter", "key_missing", {"key": k_dev}, node=node)
        mode = max(int(v_all), int(v_dev))
        ev = [self.sysctl_ev(node, k_all, v_all), self.sysctl_ev(node, k_dev, v_dev)]
        params = {"node": node, "dev": in_iface, "src": pkt.src, "mode": str(mode)}
        if mode == 0:
            self.hop("rp-filter", "pass", "off", params, ev, node=node)
            return
        back, _ = _lookup(nfacts, pkt.src, pkt.dst, in_iface)
        ev.append(self.route_ev(node, back, pkt.src))
        params["back"] = _route_dev(back) or "" if back else ""
        if back is None or back.type not in (None, "unicast"):
            self.hop(
                "rp-filter",
                "drop",
                "no_route",
                params,
                ev,
                node=node,
                cause="node-rp-filter-strict" if mode == 1 else None,
            )
            return
        assert back is not None
        if mode == 2:
            self.hop("rp-filter", "pass", "loose", params, ev, node=node)
            return
        devs = {_route_dev(back)} | {nh.dev for nh in back.nexthops}
        if in_iface in devs:
            self.hop("rp-filter", "pass", "strict", params, ev, node=node)
            return
        self.hop(
            "rp-filter", "drop", "strict", params, ev, node=node, cause="node-rp-filter-strict"
        )

    def chain(
        self,
        node: str,
        nfacts: NetFacts,
        chain: str,
        pkt: _Pkt,
        in_iface: str | None,
        out_iface: str | None,
    ) -> None:
        stage = {"FORWARD": "filter-forward", "INPUT": "filter-input", "OUTPUT": "filter-output"}[
            chain
        ]
        if nfacts.iptables is None and nfacts.nft is None:
            self.missing(stage, self.snap.node_source(node, "iptables"), node)
            return
        packet = Packet(
            src=pkt.src,
            dst=pkt.dst,
            proto=pkt.proto,
            sport=pkt.sport,
            dport=pkt.dport,
            in_iface=in_iface,
            out_iface=out_iface,
            ctstate=pkt.ctstate,
            local_addresses=self.node_addresses(nfacts),
            ipsets=self.idx.felix_sets,
        )
        if nfacts.iptables is None:
            self.nft_chain(node, nfacts, stage, chain, packet, pkt, accept_hop=True)
            return
        d = evaluate(nfacts.iptables, "filter", chain, packet)
        ev: list[Evidence] = []
        src = self.snap.node_source(node, "iptables")
        if d.deciding is not None:
            ev.append(_rule_ev(src, node, d.deciding))
        elif d.policy is not None:
            ev.append(
                Evidence(
                    source=src,
                    object=f"Chain/filter/{d.chain}",
                    field="policy",
                    value=d.policy,
                    node=node,
                )
            )
        params = {
            "node": node,
            "chain": chain,
            "in": in_iface or "",
            "out": out_iface or "",
            "rule": d.deciding.text if d.deciding else "",
            "policy": d.policy or "",
        }
        if d.verdict == "accept":
            self.hop(stage, "pass", "accept", params, ev, node=node)
            self.nft_chain(node, nfacts, stage, chain, packet, pkt, accept_hop=False)
            return
        if d.verdict == "drop":
            self.hop(
                stage,
                "drop",
                "rule" if d.deciding else "policy",
                params,
                ev,
                node=node,
                cause=_chain_cause(chain, d.deciding, pkt),
            )
            return
        # Cannot tell (an ipset, a physdev match): go on as if accepted, so that a certain
        # drop further on still decides; the path stays unknown otherwise.
        self.hop(
            stage,
            "unknown",
            "unknown",
            params,
            ev,
            node=node,
            cause=_chain_cause(chain, d.deciding, pkt),
        )

    def nft_chain(
        self,
        node: str,
        nfacts: NetFacts,
        stage: str,
        chain: str,
        packet: Packet,
        pkt: _Pkt,
        *,
        accept_hop: bool,
    ) -> None:
        """The nftables base chains on the same hook that iptables-save does not show: the
        packet must get through them too (netdoctor.netfilter.nft)."""
        if nfacts.nft is None:
            return
        try:
            rs = decode_ruleset(nfacts.nft)
        except ValueError:
            return  # the bundle reader refuses such a file
        legacy = nfacts.iptables is not None and nfacts.iptables.backend == "legacy"
        skip = _IPT_NFT_TABLES if nfacts.iptables is not None and not legacy else frozenset()
        d = evaluate_hook(rs, chain.lower(), packet, skip_tables=skip)
        if d.chain is None and d.verdict == "accept":
            return  # no base chain of its own on this hook
        src = self.snap.node_source(node, "nft")
        base = d.chain
        where = f"table {base.family} {base.table} chain {base.name}" if base else ""
        ev = []
        rule = d.deciding
        if rule is not None:
            ev.append(
                Evidence(
                    source=src,
                    object=f"Node/{node}",
                    field=(
                        f"table {rule.family} {rule.table} chain {rule.chain} handle {rule.handle}"
                    ),
                    value=nft_rule_text(rule),
                    node=node,
                )
            )
        elif d.policy is not None:
            ev.append(
                Evidence(
                    source=src,
                    object=f"Node/{node}",
                    field=where,
                    value=f"policy {d.policy}",
                    node=node,
                )
            )
        params = {
            "node": node,
            "chain": chain,
            "in": packet.in_iface or "",
            "out": packet.out_iface or "",
            "table": f"{base.family} {base.table} {base.name}" if base else "",
            "rule": nft_rule_text(rule) if rule else f"policy {d.policy or ''}",
        }
        if d.verdict == "accept":
            if accept_hop:
                self.hop(stage, "pass", "nft_accept", params, ev, node=node)
            return
        self.hop(
            stage,
            "drop" if d.verdict == "drop" else "unknown",
            "nft_drop" if d.verdict == "drop" else "nft_unknown",
            params,
            ev,
            node=node,
            cause=_chain_cause(chain, None, pkt),
        )

    # --- delivered to the node itself --------------------------------------------------------

    def local_in(self, node: str, nfacts: NetFacts, in_iface: str, pkt: _Pkt) -> None:
        self.chain(node, nfacts, "INPUT", pkt, in_iface, None)
        if pkt.inner is None:
            self.hop("delivery", "pass", "node", {"node": node, "dst": pkt.dst}, node=node)
            if pkt.dport is not None and self.direction == "request":
                self.hop(
                    "port", "unknown", "node", {"node": node, "port": str(pkt.dport)}, node=node
                )
            return
        self.decap(node, nfacts, pkt)

    def decap(self, node: str, nfacts: NetFacts, pkt: _Pkt) -> None:
        inner = pkt.inner
        assert inner is not None
        for i in nfacts.interfaces or ():
            data = i.linkinfo.info_data if i.linkinfo else None
            if (
                pkt.encap == "vxlan"
                and i.kind == "vxlan"
                and data
                and data.get("port") == pkt.dport
                and data.get("id") == pkt.vni
            ):
                self.hop(
                    "decap",
                    "pass",
                    "vxlan",
                    {
                        "node": node,
                        "dev": i.ifname,
                        "vni": str(data.get("id")),
                        "port": str(pkt.dport),
                    },
                    [
                        self.iface_ev(
                            node,
                            i,
                            "linkinfo.info_data",
                            f"id {data.get('id')} port {data.get('port')}",
                        )
                    ],
                    node=node,
                )
                self.node_input(node, i.ifname, inner)
                return
            if pkt.encap == "ipip" and i.kind == "ipip":
                self.hop(
                    "decap",
                    "pass",
                    "ipip",
                    {"node": node, "dev": i.ifname},
                    [self.iface_ev(node, i, "linkinfo.info_kind", "ipip")],
                    node=node,
                )
                self.node_input(node, i.ifname, inner)
                return
        self.hop(
            "decap",
            "drop",
            "no_device",
            {"node": node, "encap": pkt.encap or "", "port": str(pkt.dport or "")},
            node=node,
            cause="overlay-port-blocked" if pkt.encap == "vxlan" else None,
        )

    # --- sending out of a node ---------------------------------------------------------------

    def node_output(self, node: str, pkt: _Pkt, stage: str = "node-route") -> None:
        """A packet the node itself sends (an outer packet, a reply from the node)."""
        self.tick()
        nfacts = self.snap.node_facts.get(node)
        if nfacts is None or nfacts.routes is None:
            self.missing(stage, self.snap.node_source(node, "ip_route"), node)
            return
        assert nfacts is not None
        route, rule = _lookup(nfacts, pkt.dst, pkt.src)
        if route is None:
            self.no_route(node, pkt, rule, stage)
            return
        assert route is not None
        rev = self.route_ev(node, route, pkt.dst)
        if route.type == "local":
            if pkt.inner is not None:
                cause = self.duplicate_cause(pkt)
                self.hop(
                    stage,
                    "drop",
                    "self",
                    {"node": node, "dst": pkt.dst},
                    [*pkt.origin, rev],
                    node=node,
                    cause=cause,
                )
            self.hop(stage, "pass", "local", {"node": node, "dst": pkt.dst}, [rev], node=node)
            self.local_in(node, nfacts, "lo", pkt)
            return
        if route.type not in (None, "unicast"):
            self.hop(
                stage,
                "drop",
                "type",
                {"node": node, "dst": pkt.dst, "type": route.type or ""},
                [rev],
                node=node,
            )
        gw = _route_gw(route)
        self.hop(
            stage,
            "pass",
            "via" if gw else "direct",
            {"node": node, "dst": pkt.dst, "dev": _route_dev(route) or "", "gateway": gw or ""},
            [rev],
            node=node,
        )
        self.chain(node, nfacts, "OUTPUT", pkt, None, _route_dev(route))
        self.egress(node, nfacts, route, pkt, forwarded=False)

    def egress(
        self, node: str, nfacts: NetFacts, route: Route, pkt: _Pkt, *, forwarded: bool
    ) -> None:
        out = _route_dev(route) or ""
        dev = nfacts.interface(out)
        if dev is None:
            self.unknown_stop("egress-mtu", "no_device", {"node": node, "dev": out}, node=node)
            return
        assert dev is not None
        if dev.mtu and pkt.size > dev.mtu:
            ev = [self.iface_ev(node, dev, "mtu", str(dev.mtu))]
            params = {"node": node, "dev": out, "mtu": str(dev.mtu), "size": str(pkt.size)}
            if pkt.df:
                self.hop(
                    "egress-mtu", "drop", "frag_needed", params, ev, node=node, cause="mtu-mismatch"
                )
            self.hop("egress-mtu", "pass", "fragmented", params, ev, node=node)
        if dev.kind == "vxlan":
            self.encap_vxlan(node, nfacts, route, dev, pkt)
        elif dev.kind == "ipip" or dev.link_type == "ipip":
            self.encap_ipip(node, nfacts, route, dev, pkt)
        elif dev.kind == "bridge":
            found = self.pod_on_port(node, nfacts, pkt.dst, dev.ifname)
            if found is None:
                self.unknown_stop(
                    "delivery", "no_pod", {"node": node, "dev": out, "dst": pkt.dst}, node=node
                )
                return
            pod, port = found
            self.through_port(node, pod, port, pkt)
        elif dev.kind == "veth" and (behind := self.pod_behind(node, dev, route, pkt)) is not None:
            self.into_pod(node, behind, dev, pkt)
        else:
            self.underlay(node, nfacts, route, dev, pkt)

    def through_port(self, node: str, pod: Pod, port: Interface, pkt: _Pkt) -> None:
        """Out of the bridge port (or veth) towards the pod: its MTU, then into the pod."""
        if port.mtu and pkt.size > port.mtu:
            self.hop(
                "delivery",
                "drop",
                "port_mtu",
                {"dev": port.ifname, "mtu": str(port.mtu), "size": str(pkt.size)},
                [self.iface_ev(node, port, "mtu", str(port.mtu))],
                node=node,
                cause="mtu-mismatch",
            )
        self.into_pod(node, pod, port, pkt)

    def pod_behind(self, node: str, dev: Interface, route: Route, pkt: _Pkt) -> Pod | None:
        """The pod on the other end of a host veth: by the pod's own facts (its eth0 points at
        this ifindex), else by the node's route, which says it (a link route, no gateway, to
        a pod address of this node: what Calico installs per workload)."""
        for pod in self.snap.pods_by_node.get(node, ()):
            if pod.spec.host_network:
                continue
            pf = self.snap.pod_facts.get(pod.ref)
            for i in (pf.interfaces or ()) if pf else ():
                if i.link_index == dev.ifindex and i.addresses("inet"):
                    return pod
        if _route_gw(route) is None:
            for pod in self.snap.pods_by_ip.get(pkt.dst, ()):
                if pod.spec.node_name == node and self.snap.pod_facts.get(pod.ref) is None:
                    return pod
        return None

    # --- encapsulation -----------------------------------------------------------------------

    def encap_vxlan(
        self, node: str, nfacts: NetFacts, route: Route, dev: Interface, pkt: _Pkt
    ) -> None:
        data = (dev.linkinfo.info_data if dev.linkinfo else None) or {}
        nh = _route_gw(route) or pkt.dst
        if nfacts.neighbours is None:
            self.missing("encap", self.snap.node_source(node, "ip_neigh"), node)
            return
        neigh = _find_neigh(nfacts.neighbours or (), nh, dev.ifname)
        if neigh is None or not neigh.lladdr:
            self.hop(
                "encap",
                "drop",
                "no_neigh",
                {"node": node, "dev": dev.ifname, "nexthop": nh},
                [self.fact_ev(node, "ip_neigh", f"neighbour {nh} dev {dev.ifname}", "none")],
                node=node,
                cause="overlay-fdb-missing",
            )
            return
        assert neigh is not None
        assert neigh.lladdr is not None
        if nfacts.fdb is None:
            self.missing("encap", self.snap.node_source(node, "bridge_fdb"), node)
            return
        fdb = _find_fdb(nfacts.fdb or (), neigh.lladdr, dev.ifname)
        nev = self.fact_ev(node, "ip_neigh", f"neighbour {nh} dev {dev.ifname}", neigh.lladdr)
        if fdb is None or not fdb.dst:
            self.hop(
                "encap",
                "drop",
                "no_fdb",
                {"node": node, "dev": dev.ifname, "mac": neigh.lladdr},
                [
                    nev,
                    self.fact_ev(
                        node, "bridge_fdb", f"fdb {neigh.lladdr} dev {dev.ifname}", "none"
                    ),
                ],
                node=node,
                cause="overlay-fdb-missing",
            )
            return
        assert fdb is not None
        assert fdb.dst is not None
        fev = self.fact_ev(node, "bridge_fdb", f"fdb {fdb.mac} dev {dev.ifname}", f"dst {fdb.dst}")
        local = str(data.get("local") or "")
        port = data.get("port")
        vni = data.get("id")
        if not local:
            local = _select_src(nfacts, fdb.dst)
        outer_size = pkt.size + _VXLAN_OVERHEAD
        df = data.get("df") == "set" or (data.get("df") == "inherit" and pkt.df)
        self.hop(
            "encap",
            "pass",
            "vxlan",
            {
                "node": node,
                "dev": dev.ifname,
                "vni": str(vni),
                "src": local,
                "dst": fdb.dst,
                "port": str(port),
                "size": str(outer_size),
            },
            [
                self.route_ev(node, route, pkt.dst),
                nev,
                fev,
                self.iface_ev(
                    node, dev, "linkinfo.info_data", f"id {vni} local {local} port {port}"
                ),
            ],
            node=node,
        )
        outer = _Pkt(
            src=local,
            dst=fdb.dst,
            proto="udp",
            size=outer_size,
            df=df,
            ctstate="NEW",
            dport=int(port) if isinstance(port, int) else None,
            inner=pkt,
            encap="vxlan",
            origin=(self.route_ev(node, route, pkt.dst),),
            vni=int(vni) if isinstance(vni, int) else None,
        )
        self.node_output(node, outer, "outer-route")

    def encap_ipip(
        self, node: str, nfacts: NetFacts, route: Route, dev: Interface, pkt: _Pkt
    ) -> None:
        gw = _route_gw(route)
        if not gw:
            self.unknown_stop(
                "encap", "ipip_no_gateway", {"node": node, "dev": dev.ifname}, node=node
            )
            return
        assert gw is not None
        data = (dev.linkinfo.info_data if dev.linkinfo else None) or {}
        local = str(data.get("local") or "")
        if local in ("", "any"):
            local = _select_src(nfacts, gw)
        outer_size = pkt.size + _IPIP_OVERHEAD
        self.hop(
            "encap",
            "pass",
            "ipip",
            {"node": node, "dev": dev.ifname, "src": local, "dst": gw, "size": str(outer_size)},
            [self.route_ev(node, route, pkt.dst)],
            node=node,
        )
        outer = _Pkt(
            src=local,
            dst=gw,
            proto="4",
            size=outer_size,
            df=bool(data.get("pmtudisc", True)),
            ctstate="NEW",
            inner=pkt,
            encap="ipip",
            origin=(self.route_ev(node, route, pkt.dst),),
        )
        self.node_output(node, outer, "outer-route")

    # --- the underlay ------------------------------------------------------------------------

    def underlay(
        self, node: str, nfacts: NetFacts, route: Route, dev: Interface, pkt: _Pkt
    ) -> None:
        gw = _route_gw(route)
        nh = gw or pkt.dst
        nh_ip = ipv4(nh)
        on_link = "onlink" in route.flags or any(
            nh_ip is not None and (n := _net(a.local, a.prefixlen)) is not None and nh_ip in n
            for a in dev.addresses("inet")
        )
        rev = [*pkt.origin, self.route_ev(node, route, pkt.dst)]
        params = {"node": node, "dev": dev.ifname, "nexthop": nh, "dst": pkt.dst}
        if not on_link:
            self.hop(
                "underlay",
                "drop",
                "not_onlink",
                params,
                rev,
                node=node,
                cause=self.pod_route_cause(node, pkt),
            )
        holders = [(n, i) for n, i, _ in self.idx.holders.get(nh, ()) if n != node]
        if len(holders) > 1:
            self.unknown_stop(
                "underlay",
                "ambiguous",
                {**params, "nodes": ", ".join(sorted(n for n, _ in holders))},
                rev,
                node=node,
            )
        if holders:
            peer, iface = holders[0]
            ev = [*rev, self.iface_ev(peer, iface, "addr_info[].local", nh)]
            self.hop(
                "underlay",
                "pass",
                "arp",
                {**params, "peer": peer, "peer_dev": iface.ifname},
                ev,
                node=node,
            )
            self.node_input(peer, iface.ifname, pkt)
            return
        # The next hop is no node of the snapshot: a router (or host) outside the facts.
        missing = [n for n in self.snap.node_facts if self.snap.node_facts[n].interfaces is None]
        if missing:
            self.unknown_stop(
                "underlay",
                "missing",
                {"path": self.snap.node_source(missing[0], "ip_addr")},
                rev,
                node=node,
            )
        cause = self.outer_cause(pkt) if pkt.inner is not None else self.pod_route_cause(node, pkt)
        if gw is None:
            self.unknown_stop("underlay", "outside", params, rev, node=node, cause=cause)
        dst_holders = [(n, i) for n, i, _ in self.idx.holders.get(pkt.dst, ()) if n != node]
        # What the default gateway does is outside the facts, except in the two cases the
        # trace's definition settles: a tunnel's outer destination must be an address of the
        # peer on an underlay this node shares with it, and a pod network is routed by the
        # CNI, never by the default route.
        if pkt.inner is not None and len(dst_holders) == 1:
            peer = dst_holders[0][0]
            shared = self.shared_address(node, dev, peer)
            if shared is not None:
                self.hop(
                    "underlay",
                    "drop",
                    "off_underlay",
                    {**params, "peer": peer, "shared": shared},
                    rev,
                    node=node,
                    cause=cause,
                )
        if pkt.inner is None and self.snap.pods_by_ip.get(pkt.dst):
            self.hop("underlay", "drop", "pod_via_gateway", params, rev, node=node, cause=cause)
        self.hop("underlay", "unknown", "gateway", params, rev, node=node, cause=cause)
        # The packet can only be going to the node holding its destination, if any: follow it
        # there, so that a certain drop further on still decides.
        if len(dst_holders) == 1:
            self.node_input(dst_holders[0][0], dst_holders[0][1].ifname, pkt)
            return
        raise _Stop

    def shared_address(self, node: str, dev: Interface, peer: str) -> str | None:
        """An address of ``peer`` on a subnet of ``dev``: the underlay the two nodes share."""
        pfacts = self.snap.node_facts.get(peer)
        nets = [n for a in dev.addresses("inet") if (n := _net(a.local, a.prefixlen)) is not None]
        for iface in (pfacts.interfaces or ()) if pfacts else ():
            for a in iface.addresses("inet"):
                ip = ipv4(a.local)
                if ip is not None and any(ip in n for n in nets):
                    return a.local
        return None

    # --- into the pod ------------------------------------------------------------------------

    def into_pod(self, node: str, pod: Pod, host: Interface, pkt: _Pkt) -> None:
        pf = self.snap.pod_facts.get(pod.ref)
        if pf is None or pf.interfaces is None:
            self.missing("pod-ingress", self.pod_src(pod.ref, "ip_addr"), None)
            return
        assert pf is not None
        held = pf.interface_with_address(pkt.dst)
        eth = next((i for i in pf.interfaces or () if i.link_index == host.ifindex), None)
        if eth is not None and eth.mtu and pkt.size > eth.mtu:
            self.hop(
                "delivery",
                "drop",
                "pod_mtu",
                {"pod": pod.ref, "dev": eth.ifname, "mtu": str(eth.mtu), "size": str(pkt.size)},
                [self.iface_ev(None, eth, "mtu", str(eth.mtu), pod.ref)],
                node=node,
                cause="mtu-mismatch",
            )
        self.hop(
            "delivery",
            "pass",
            "pod",
            {"node": node, "pod": pod.ref, "dev": host.ifname},
            [self.iface_ev(node, host, "ifindex", str(host.ifindex))],
            node=node,
        )
        if held is None:
            self.hop("pod-ingress", "drop", "not_held", {"pod": pod.ref, "dst": pkt.dst}, node=None)
            return
        assert held is not None
        self.hop(
            "pod-ingress",
            "pass",
            "ok",
            {"pod": pod.ref, "dst": pkt.dst, "dev": held[0].ifname},
            [self.iface_ev(None, held[0], "addr_info[].local", pkt.dst, pod.ref)],
        )
        if self.direction == "request" and pkt.dport is not None and pkt.proto in ("tcp", "udp"):
            self.port(pod, pkt)

    def port(self, pod: Pod, pkt: _Pkt) -> None:
        for c in pod.spec.containers:
            for p in c.ports:
                if p.container_port == pkt.dport and p.protocol.lower() == pkt.proto:
                    ev = Evidence(
                        source=self.snap.source("k8s.pods"),
                        object=f"Pod/{pod.ref}",
                        field=f"spec.containers[{c.name}].ports[].containerPort",
                        value=f"{p.container_port}/{p.protocol}",
                        node=pod.spec.node_name or None,
                    )
                    self.hop(
                        "port",
                        "pass",
                        "declared",
                        {"pod": pod.ref, "port": str(pkt.dport), "container": c.name},
                        [ev],
                    )
                    return
        self.hop("port", "unknown", "undeclared", {"pod": pod.ref, "port": str(pkt.dport)})

    # --- causes ------------------------------------------------------------------------------

    def cni_address_mismatch(self, node: Node) -> str | None:
        ann = node.metadata.annotations
        internal = set(node.internal_ips)
        calico = ann.get(CALICO_ADDRESS)
        if calico and ipv4(calico) is not None and str(ipv4(calico)) not in internal:
            return "calico-node-address-mismatch"
        flannel = ann.get(FLANNEL_PUBLIC_IP)
        if flannel and flannel not in internal:
            return "flannel-public-ip-mismatch"
        return None

    def pod_route_cause(self, node: str, pkt: _Pkt) -> str | None:
        """Why a node has no usable route to a pod: an agent on the wrong address, else the
        route is missing."""
        target = pkt.inner.dst if pkt.inner else pkt.dst
        pods = self.snap.pods_by_ip.get(target)
        if not pods:
            return None
        owner = pods[0].spec.node_name
        for name in (owner, node):
            n = self.snap.node_by_name.get(name)
            cause = self.cni_address_mismatch(n) if n else None
            if cause:
                return cause
        return "node-missing-pod-route"

    def outer_cause(self, pkt: _Pkt) -> str | None:
        for n, _, _ in self.idx.holders.get(pkt.dst, ()):
            node = self.snap.node_by_name.get(n)
            if node is not None and pkt.dst not in node.internal_ips:
                return self.cni_address_mismatch(node) or "node-missing-pod-route"
        return None

    def duplicate_cause(self, pkt: _Pkt) -> str:
        flannel = [
            n
            for n in self.snap.nodes or ()
            if n.metadata.annotations.get(FLANNEL_PUBLIC_IP) == pkt.dst
        ]
        return "flannel-public-ip-duplicate" if flannel else "calico-duplicate-node-address"


def _select_src(nfacts: NetFacts, dst: str) -> str:
    """The source address the kernel picks for a packet the node sends to ``dst``: the
    route's ``src``, else the egress device's first global address (on the gateway's
    subnet when it has several)."""
    route, _ = _lookup(nfacts, dst)
    if route is None:
        return ""
    if route.prefsrc:
        return route.prefsrc
    dev = nfacts.interface(_route_dev(route) or "")
    if dev is None:
        return ""
    addrs = [a for a in dev.addresses("inet") if a.scope in ("", "global")]
    nh = ipv4(_route_gw(route) or dst)
    for a in addrs:
        net = _net(a.local, a.prefixlen)
        if nh is not None and net is not None and nh in net:
            return a.local
    return addrs[0].local if addrs else ""


def _find_neigh(neighbours: Iterable[Neighbour], ip: str, dev: str) -> Neighbour | None:
    for n in neighbours:
        if n.dst == ip and n.dev == dev and "FAILED" not in n.state and "INCOMPLETE" not in n.state:
            return n
    return None


def _find_fdb(fdb: Iterable[FdbEntry], mac: str, dev: str) -> FdbEntry | None:
    for e in fdb:
        if e.mac.lower() == mac.lower() and e.ifname == dev and e.dst:
            return e
    return None


def _rule_ev(source: str, node: str, rule: IptRule) -> Evidence:
    return Evidence(
        source=source,
        object=f"Chain/filter/{rule.chain}",
        field=f"line {rule.line}",
        value=rule.text,
        node=node,
    )


def _chain_cause(chain: str, rule: IptRule | None, pkt: _Pkt) -> str:
    if rule is not None and (
        rule.chain.startswith(_POLICY_CHAINS)
        or "policy" in (rule.comment or "").lower()
        or "drop traffic from" in (rule.comment or "")
    ):
        return "networkpolicy-denies"
    if chain == "INPUT" and pkt.inner is not None:
        return "overlay-port-blocked"
    if chain == "FORWARD":
        return "node-forward-policy-drop"
    return "overlay-port-blocked" if pkt.inner is not None else "node-forward-policy-drop"


# --- entry point -----------------------------------------------------------------------------


def _resolve(snap: Snapshot, target: str) -> tuple[str, Pod | None]:
    if "/" in target and ipv4(target) is None:
        pod = snap.pod_by_ref.get(target)
        if pod is None:
            raise ValueError(f"no pod {target!r} in the snapshot")
        ips = [ip for ip in pod.ips if ipv4(ip) is not None]
        if not ips:
            raise ValueError(f"pod {target!r} has no IPv4 address")
        return ips[0], pod
    addr = ipv4(target)
    if addr is None:
        raise ValueError(f"{target!r} is neither a pod (ns/name) nor an IPv4 address")
    pods = snap.pods_by_ip.get(str(addr), [])
    return str(addr), pods[0] if len(pods) == 1 else None


def _walk(snap: Snapshot, direction: str, hops: list[Hop], start: Pod | str, pkt: _Pkt) -> None:
    w = _Walk(snap, direction, hops)
    try:
        if isinstance(start, str):
            w.node_output(start, pkt)
        else:
            w.from_pod(start, pkt)
    except _Stop:
        pass


def trace(
    snap: Snapshot,
    source: str,
    target: str,
    *,
    port: int | None = None,
    protocol: str = "ICMP",
    size: int = 84,
) -> Path:
    """The round trip of one packet from the pod ``source`` (``ns/pod``) to ``target`` (a pod
    ref or an IPv4 address) and back. ``protocol``: ICMP (echo request and reply), TCP (SYN,
    then SYN-ACK) or UDP; ``size``: the IP packet size, sent with don't-fragment."""
    proto = protocol.lower()
    if proto not in ("icmp", "tcp", "udp"):
        raise ValueError(f"protocol {protocol!r}: expected ICMP, TCP or UDP")
    src_pod = snap.pod_by_ref.get(source)
    if src_pod is None:
        raise ValueError(f"no pod {source!r} in the snapshot")
    src_ips = [ip for ip in src_pod.ips if ipv4(ip) is not None]
    if not src_ips:
        raise ValueError(f"pod {source!r} has no IPv4 address")
    dst_ip, dst_pod = _resolve(snap, target)
    dport = port if proto != "icmp" else None
    sport = 40000 if proto != "icmp" else None
    request = _Pkt(
        src=src_ips[0],
        dst=dst_ip,
        proto=proto,
        size=size,
        df=True,
        ctstate="NEW",
        sport=sport,
        dport=dport,
    )
    hops: list[Hop] = []
    _walk(snap, "request", hops, src_pod, request)
    if not any(h.verdict == "drop" for h in hops):
        reply = _Pkt(
            src=dst_ip,
            dst=src_ips[0],
            proto=proto,
            size=size,
            df=proto != "icmp",
            ctstate="ESTABLISHED",
            sport=dport,
            dport=sport,
        )
        start: Pod | str | None = dst_pod
        if start is None:
            holders = _index(snap).holders.get(dst_ip, [])
            start = holders[0][0] if len(holders) == 1 else None
        if start is not None:
            _walk(snap, "reply", hops, start, reply)
    drop = next((h.index for h in hops if h.verdict == "drop"), None)
    reached = _reply_delivered(hops)
    if drop is not None:
        verdict = "dropped"
    elif reached and all(h.verdict == "pass" for h in hops):
        verdict = "delivered"
    else:
        verdict = "unknown"
    return Path(verdict=verdict, drop_at=drop, hops=tuple(hops))


def _reply_delivered(hops: list[Hop]) -> bool:
    return any(
        h.direction == "reply" and h.stage == "pod-ingress" and h.verdict == "pass" for h in hops
    )
