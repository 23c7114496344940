"""The underlay between nodes: the outer (or plain) packet's next hop must be an address of
a node on a subnet of the egress interface; a router that is no node of the snapshot is
outside the facts (unknown), except where the trace's definition settles it.

Part of the trace (``netdoctor.trace.stages``); returns the peer node and its receiving
interface for the node stage to go on."""

from __future__ import annotations

from netdoctor.model.nodefacts import Interface, NetFacts, Route
from netdoctor.netfilter.felix import ipv4
from netdoctor.trace.causes import outer_cause, pod_route_cause
from netdoctor.trace.routing import route_gw, subnet
from netdoctor.trace.walk import Pkt, Stop, Walk

__all__ = ["shared_address", "underlay"]


def underlay(
    w: Walk, node: str, nfacts: NetFacts, route: Route, dev: Interface, pkt: Pkt
) -> tuple[str, str]:
    """Onto the underlay: the next hop must be a node's address on this segment; returns
    (the peer node, its receiving interface)."""
    gw = route_gw(route)
    nh = gw or pkt.dst
    nh_ip = ipv4(nh)
    on_link = "onlink" in route.flags or any(
        nh_ip is not None and (n := subnet(a.local, a.prefixlen)) is not None and nh_ip in n
        for a in dev.addresses("inet")
    )
    rev = [*pkt.origin, w.quote.route(node, route, pkt.dst)]
    params = {"node": node, "dev": dev.ifname, "nexthop": nh, "dst": pkt.dst}
    if not on_link:
        w.hop(
            "underlay",
            "drop",
            "not_onlink",
            params,
            rev,
            node=node,
            cause=pod_route_cause(w.snap, node, pkt),
        )
    holders = [(n, i) for n, i, _ in w.idx.holders.get(nh, ()) if n != node]
    if len(holders) > 1:
        w.unknown_stop(
            "underlay",
            "ambiguous",
            {**params, "nodes": ", ".join(sorted(n for n, _ in holders))},
            rev,
            node=node,
        )
    if holders:
        peer, iface = holders[0]
        ev = [*rev, w.quote.iface(peer, iface, "addr_info[].local", nh)]
        w.hop(
            "underlay",
            "pass",
            "arp",
            {**params, "peer": peer, "peer_dev": iface.ifname},
            ev,
            node=node,
        )
        return peer, iface.ifname
    # The next hop is no node of the snapshot: a router (or host) outside the facts.
    missing = [n for n in w.snap.node_facts if w.snap.node_facts[n].interfaces is None]
    if missing:
        w.unknown_stop(
            "underlay",
            "missing",
            {"path": w.snap.node_source(missing[0], "ip_addr")},
            rev,
            node=node,
        )
    cause = (
        outer_cause(w.snap, w.idx, pkt)
        if pkt.inner is not None
        else pod_route_cause(w.snap, node, pkt)
    )
    if gw is None:
        w.unknown_stop("underlay", "outside", params, rev, node=node, cause=cause)
    dst_holders = [(n, i) for n, i, _ in w.idx.holders.get(pkt.dst, ()) if n != node]
    # What the default gateway does is outside the facts, except in the two cases the
    # trace's definition settles: a tunnel's outer destination must be an address of the
    # peer on an underlay this node shares with it, and a pod network is routed by the
    # CNI, never by the default route.
    if pkt.inner is not None and len(dst_holders) == 1:
        peer = dst_holders[0][0]
        shared = shared_address(w, node, dev, peer)
        if shared is not None:
            w.hop(
                "underlay",
                "drop",
                "off_underlay",
                {**params, "peer": peer, "shared": shared},
                rev,
                node=node,
                cause=cause,
            )
    if pkt.inner is None and w.snap.pods_by_ip.get(pkt.dst):
        w.hop("underlay", "drop", "pod_via_gateway", params, rev, node=node, cause=cause)
    w.hop("underlay", "unknown", "gateway", params, rev, node=node, cause=cause)
    # The packet can only be going to the node holding its destination, if any: follow it
    # there, so that a certain drop further on still decides.
    if len(dst_holders) == 1:
        return dst_holders[0][0], dst_holders[0][1].ifname
    raise Stop


def shared_address(w: Walk, node: str, dev: Interface, peer: str) -> str | None:
    """An address of ``peer`` on a subnet of ``dev``: the underlay the two nodes share."""
    pfacts = w.snap.node_facts.get(peer)
    nets = [n for a in dev.addresses("inet") if (n := subnet(a.local, a.prefixlen)) is not None]
    for iface in (pfacts.interfaces or ()) if pfacts else ():
        for a in iface.addresses("inet"):
            ip = ipv4(a.local)
            if ip is not None and any(ip in n for n in nets):
                return a.local
    return None
