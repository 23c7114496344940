"""NET-204 node-missing-pod-route: every node has a route to every other node's pod network, via
that node.

Checks layer: a pure function over the Snapshot. The route each node must hold comes from what
its peers announce (flannel's public-ip and backend annotations, ``spec.podCIDR``, Calico's
blocks as the owner's blackhole route, the IPPool's encapsulation); a node's ``ip route`` is
compared with it, and only a route the data proves missing or wrong is a finding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from netdoctor.checks._support.common import (
    IPNet,
    annotation_evidence,
    ip_only,
    node_file_note,
    parse_ip,
    route_to,
)
from netdoctor.checks._support.registry import Context, NotApplicable, Yielded, check
from netdoctor.checks.overlay._common import (
    CNI_IFACE,
    calico_addresses,
    flannel_backend,
    flannel_public_ip,
    main_routes,
    node_pod_cidrs,
    parse_net,
    podcidr_evidence,
    restart_agent,
    route_evidence,
    route_line,
    routing_cni,
)
from netdoctor.model.cni import CALICO_ADDRESS, FLANNEL_PUBLIC_IP, FLANNEL_PUBLIC_IP_OVERWRITE
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.k8s import Node, Pod
from netdoctor.model.nodefacts import NetFacts, Route
from netdoctor.model.snapshot import Snapshot

__all__ = ["missing_pod_route"]


def _iface_on_subnet(facts: NetFacts | None, ip: str) -> str | None:
    """The interface of a node whose subnet holds ``ip`` (where a host-gw route must go)."""
    addr = parse_ip(ip)
    if facts is None or addr is None:
        return None
    for i in facts.interfaces or ():
        for a in i.addr_info:
            if a.local and a.scope in ("", "global"):
                try:
                    if addr.version == a.interface.version and addr in a.interface.network:
                        return i.ifname
                except ValueError:
                    continue
    return None


def _pod_in(snap: Snapshot, node: str, net: IPNet) -> Pod | None:
    for p in snap.pods_by_node.get(node, ()):
        if p.spec.host_network:
            continue
        for ip in p.ips:
            a = parse_ip(ip)
            if a is not None and a.version == net.version and a in net:
                return p
    return None


def _calico_blocks(facts: NetFacts | None) -> list[Route]:
    """The Calico blocks a node owns: Calico installs a blackhole route for each."""
    if facts is None or facts.routes is None:
        return []
    return [
        r
        for r in main_routes(facts)
        if r.type == "blackhole" and r.protocol in ("bird", "80") and parse_net(r.dst) is not None
    ]


@dataclass(frozen=True)
class _Expected:
    """A route every other node must have to one peer's pod network."""

    prefix: IPNet
    gateways: frozenset[str]  # any of these is the peer
    preferred: str  # the gateway the agent installs
    tunnel: str | None  # the device of an onlink tunnel route; None: the underlay
    evidence: tuple[Evidence, ...]  # where the prefix and the gateway come from

    @cached_property
    def key(self) -> str:
        """The prefix as ``ip -j route`` writes ``dst``: a host route without /32 or /128."""
        net = self.prefix
        return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)

    def add(self, facts: NetFacts | None) -> str:
        """The ``ip route replace`` that restores the route on a node with these facts."""
        head = f"ip route replace {self.prefix} via {self.preferred}"
        if self.tunnel:
            return f"{head} dev {self.tunnel} onlink"
        dev = _iface_on_subnet(facts, self.preferred)
        return f"{head} dev {dev}" if dev else head


def _held(facts: NetFacts | None) -> set[str]:
    """Every global address a node holds: a route via any of them reaches that node (BGP or a
    second NIC may carry it; whether replies come back is rp_filter's question, NET-104)."""
    ifaces = (facts.interfaces or ()) if facts is not None else ()
    return {
        a.local
        for i in ifaces
        for a in i.addr_info
        if a.local and a.scope in ("", "global") and not CNI_IFACE.match(i.ifname)
    }


def _flannel_expected(ctx: Context, peer: Node) -> list[_Expected]:
    snap = ctx.snapshot
    pub = flannel_public_ip(peer)
    backend = flannel_backend(ctx, peer)
    out: list[_Expected] = []
    if pub is None:
        return out  # the peer never registered with flannel: nobody routes to it yet
    for net in node_pod_cidrs(peer):
        if net.version != 4:
            continue
        ev = (podcidr_evidence(snap, peer), annotation_evidence(snap, peer, pub[0]))
        if backend == "vxlan":
            vtep = str(net.network_address)  # flannel.1 holds the subnet's first address
            gws = {vtep, pub[1]}  # DirectRouting: via the public IP when on one subnet
            out.append(_Expected(net, frozenset(gws), vtep, "flannel.1", ev))
        elif backend == "host-gw":
            gws = {pub[1], *_held(snap.node_facts.get(peer.metadata.name))}
            out.append(_Expected(net, frozenset(gws), pub[1], None, ev))
    return out


def _calico_expected(ctx: Context, peer: Node) -> list[_Expected] | None:
    """None when the peer's blocks are unknown (its ip-route.json is missing)."""
    snap = ctx.snapshot
    pname = peer.metadata.name
    pfacts = snap.node_facts.get(pname)
    if pfacts is None or pfacts.routes is None:
        return None
    addrs = calico_addresses(snap, peer)
    gws = {*peer.internal_ips, *(v for k, v in addrs.items() if k != "vxlan_mac")}
    gws.update(_held(pfacts))
    peer_ip = addrs.get("address") or (peer.internal_ips[0] if peer.internal_ips else None)
    tunnel: str | None
    if "vxlan" in addrs:
        gw, tunnel = addrs["vxlan"], "vxlan.calico"
    elif peer_ip and "ipip" in addrs:
        gw, tunnel = peer_ip, "tunl0"
    elif peer_ip:
        gw, tunnel = peer_ip, None
    else:
        return []
    out = []
    for r in _calico_blocks(pfacts):
        net = parse_net(r.dst)
        if net is None or net.version != 4:
            continue
        ev = Evidence(
            source=snap.node_source(pname, "ip_route"),
            object=f"Node/{pname}",
            field="Calico block (blackhole route)",
            value=route_line(r),
            node=pname,
        )
        block_gw, block_tunnel = gw, tunnel
        if peer_ip and _pool_unencapsulated(snap, net):
            # The pool says Never/Never: routes go straight to the peer, whatever tunnel
            # address an earlier encapsulated setup left in the node's annotations.
            block_gw, block_tunnel = peer_ip, None
        out.append(_Expected(net, frozenset(gws), block_gw, block_tunnel, (ev,)))
    return out


def _pool_unencapsulated(snap: Snapshot, block: IPNet) -> bool:
    """Whether the IPPool holding ``block`` uses neither IPIP nor VXLAN (False if unknown)."""
    for pool in snap.ippools or ():
        net = parse_net(pool.spec.cidr)
        if net is not None and net.version == block.version and block.subnet_of(net):  # type: ignore[arg-type]  # same version
            return (pool.spec.ipip_mode or "Never") == "Never" and (
                pool.spec.vxlan_mode or "Never"
            ) == "Never"
    return False


def _off_link(facts: NetFacts, want: _Expected) -> bool:
    """An underlay route (no tunnel) whose gateway is on none of the node's subnets."""
    return (
        want.tunnel is None
        and facts.interfaces is not None
        and _iface_on_subnet(facts, want.preferred) is None
    )


def _route_problem(
    main: list[Route], exact: dict[str, list[Route]], want: _Expected
) -> tuple[str, Route | None] | None:
    """("missing" | "wrong", the route found) when the node cannot reach the prefix rightly."""
    for r in exact.get(want.key, ()):
        if r.type not in (None, "unicast"):
            return "wrong", r
        if r.gateway in want.gateways or any(h.gateway in want.gateways for h in r.nexthops):
            return None
        return "wrong", r
    cover = route_to(main, str(want.prefix.network_address))
    net = cover.network if cover is not None else None
    if net is not None and 0 < net.prefixlen < want.prefix.prefixlen:
        return None  # an aggregate (e.g. learnt from a router): cannot prove it wrong
    return "missing", cover


@check(
    "node-missing-pod-route",
    code="NET-204",
    needs=("k8s.nodes", "node.ip_route"),
    cni=("flannel", "calico"),
)
def missing_pod_route(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    cni = routing_cni(ctx)
    if cni not in ("flannel", "calico"):
        yield NotApplicable()
        return
    nodes = sorted(snap.node_by_name.values(), key=lambda n: n.metadata.name)
    # What each peer needs from the others, worked out once (a 5,000-node cluster has 25
    # million node pairs: each pair must cost a dictionary lookup, not a scan).
    needed: dict[str, list[_Expected] | None] = {
        n.metadata.name: (_flannel_expected if cni == "flannel" else _calico_expected)(ctx, n)
        for n in nodes
    }
    # None: the peer's own facts are missing (its note says so); it is not compared.
    flat = [(n, w) for n, wants in needed.items() for w in wants or ()]
    ready = _agent_ready_nodes(ctx, cni)
    for node in nodes:
        name = node.metadata.name
        facts = snap.node_facts.get(name)
        if facts is None or facts.routes is None:
            yield node_file_note(snap, name, "ip_route")
            continue
        if ready is not None and name not in ready:
            continue  # the agent writes these routes: its absence is NET-202's finding
        main = main_routes(facts)
        exact: dict[str, list[Route]] = defaultdict(list)
        for r in main:
            exact[r.dst].append(r)  # ip prints prefixes canonically: compare the text
        by_peer: dict[str, list[tuple[_Expected, tuple[str, Route | None]]]] = {}
        for pname, w in flat:
            if pname == name or (p := _route_problem(main, exact, w)) is None:
                continue
            # Unencapsulated and the peer is not on this node's subnets: flannel host-gw
            # cannot install such a route at all (NET-403 says why), and Calico's BIRD
            # resolves it via a router (whether the router knows pod routes is NET-304's
            # question). Only a route that could have been installed is judged here.
            if _off_link(facts, w) and (cni == "flannel" or p[0] == "wrong"):
                continue
            by_peer.setdefault(pname, []).append((w, p))
        for pname, problems in sorted(by_peer.items()):
            peer = snap.node_by_name[pname]
            kind = "wrong" if any(p[0] == "wrong" for _, p in problems) else "missing"
            prefixes = ", ".join(str(w.prefix) for w, _ in problems)
            ev: list[Evidence] = []
            for w, (_, found_route) in problems:
                ev.append(route_evidence(snap, name, str(w.prefix), found_route))
                ev.extend(w.evidence)
            first = problems[0][0]
            pod = _pod_in(snap, pname, first.prefix)
            probe_ip = pod.ips[0] if pod else str(first.prefix.network_address + 1)
            expected = first.preferred
            # A peer announcing an address other than its InternalIP (NET-301/NET-402) is the
            # likelier cause: the agent cannot route via an address it cannot reach.
            suspect = next(
                ((n, a) for n in (peer, node) if (a := _announced_elsewhere(n)) is not None), None
            )
            notes = (
                (
                    Message(
                        "note.overlay.route_peer_address",
                        {"peer": suspect[0].metadata.name, "address": suspect[1]},
                    ),
                )
                if suspect
                else ()
            )
            fix = [restart_agent(ctx, cni, name)]
            fix.append(
                Action(
                    message=Message("fix.overlay.route_add", {"node": name}),
                    command="; ".join(w.add(facts) for w, _ in problems),
                )
            )
            yield Finding(
                id="node-missing-pod-route",
                subject=Subject(kind="Node", name=name),
                variant=kind,
                params={
                    "node": name,
                    "peer": pname,
                    "prefix": prefixes,
                    "gateway": expected,
                    "route": ", ".join(route_line(r) for _, (_, r) in problems if r) or "none",
                },
                evidence=tuple(ev),
                fix=tuple(fix),
                verify=(
                    Action(
                        message=Message(
                            "verify.overlay.route", {"node": name, "gateway": expected}
                        ),
                        command=f"ip route get {probe_ip}",
                    ),
                ),
                notes=notes,
                nodes=(name, pname),
                pods=(pod.ref,) if pod else (),
                confidence=0.5 if suspect else 1.0,
            )


def _agent_ready_nodes(ctx: Context, cni: str) -> set[str] | None:
    """The nodes with a Ready pod of the CNI's agent; None when the agent is not known."""
    agent = ctx.cni.agent(cni)
    if agent is None or ctx.snapshot.pods is None:
        return None
    return {p.spec.node_name for p in agent.pods if p.ready}


def _announced_elsewhere(peer: Node) -> str | None:
    """The address a CNI agent announces for the peer when it is not one of its InternalIPs."""
    internal = set(peer.internal_ips)
    for key in (CALICO_ADDRESS, FLANNEL_PUBLIC_IP_OVERWRITE, FLANNEL_PUBLIC_IP):
        value = peer.metadata.annotations.get(key)
        if value:
            return None if ip_only(value) in internal else ip_only(value)
    return None
