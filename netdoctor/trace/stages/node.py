"""A node's leg: the route lookup of a packet it receives or sends, forwarding, rp_filter,
the filter chains, the egress device's MTU, and where the packet goes next.

Part of the trace (``netdoctor.trace.stages``). Every leg passes through a node, so this stage
drives the walk on: into encapsulation (then the outer packet's own lookup), onto the underlay
(then the peer node), or into a pod (``delivery``)."""

from __future__ import annotations

from netdoctor.model.nodefacts import NetFacts, Route, RoutingRule
from netdoctor.trace.causes import duplicate_cause, pod_route_cause
from netdoctor.trace.firewall import filter_chain
from netdoctor.trace.routing import lookup, route_dev, route_gw, sysctl_name
from netdoctor.trace.stages.delivery import into_pod, pod_behind, pod_on_port, through_port
from netdoctor.trace.stages.encap import decap, ipip, vxlan
from netdoctor.trace.stages.underlay import underlay
from netdoctor.trace.walk import Pkt, Walk

__all__ = ["egress", "local_in", "no_route", "node_input", "node_output", "rp_filter"]


def node_input(w: Walk, node: str, in_iface: str, pkt: Pkt) -> None:
    w.tick()
    nfacts = w.snap.node_facts.get(node)
    if nfacts is None or nfacts.routes is None:
        w.missing("node-route", w.snap.node_source(node, "ip_route"), node)
        return
    assert nfacts is not None
    route, rule = lookup(nfacts, pkt.dst, pkt.src, in_iface)
    if route is None:
        no_route(w, node, pkt, rule)
        return
    assert route is not None
    rev = w.quote.route(node, route, pkt.dst)
    if route.type == "local":
        w.hop("node-route", "pass", "local", {"node": node, "dst": pkt.dst}, [rev], node=node)
        rp_filter(w, node, nfacts, in_iface, pkt)
        local_in(w, node, nfacts, in_iface, pkt)
        return
    if route.type not in (None, "unicast"):
        w.hop(
            "node-route",
            "drop",
            "type",
            {"node": node, "dst": pkt.dst, "type": route.type or ""},
            [rev],
            node=node,
            cause=pod_route_cause(w.snap, node, pkt),
        )
    out = route_dev(route) or ""
    gw = route_gw(route)
    w.hop(
        "node-route",
        "pass",
        "via" if gw else "direct",
        {"node": node, "dst": pkt.dst, "dev": out, "gateway": gw or ""},
        [rev],
        node=node,
    )
    # ip_route_input_slow: forwarding is checked on the arrival device, then rp_filter.
    if nfacts.sysctl is None:
        w.missing("node-forwarding", w.snap.node_source(node, "sysctl"), node)
        return
    key = f"net.ipv4.conf.{sysctl_name(in_iface)}.forwarding"
    val = nfacts.sysctl.get(key)
    if val is None:
        key = "net.ipv4.ip_forward"
        val = nfacts.sysctl.get(key)
    if val is None:
        w.unknown_stop("node-forwarding", "key_missing", {"key": key}, node=node)
        return
    ev = [w.quote.sysctl(node, key, val)]
    glob = nfacts.sysctl.get("net.ipv4.ip_forward")
    if glob is not None and key != "net.ipv4.ip_forward":
        ev.append(w.quote.sysctl(node, "net.ipv4.ip_forward", glob))
    if val != "1":
        w.hop(
            "node-forwarding",
            "drop",
            "off",
            {"node": node, "dev": in_iface, "key": key},
            ev,
            node=node,
            cause="node-ip-forward-disabled",
        )
    w.hop("node-forwarding", "pass", "on", {"node": node, "dev": in_iface}, ev, node=node)
    rp_filter(w, node, nfacts, in_iface, pkt)
    filter_chain(w, node, nfacts, "FORWARD", pkt, in_iface, out)
    egress(w, node, nfacts, route, pkt, forwarded=True)


def no_route(
    w: Walk, node: str, pkt: Pkt, rule: RoutingRule | None, stage: str = "node-route"
) -> None:
    ev = [w.quote.rule(node, rule)] if rule else [w.quote.route(node, None, pkt.dst)]
    w.hop(
        stage,
        "drop",
        "none",
        {"node": node, "dst": pkt.dst},
        ev,
        node=node,
        cause=pod_route_cause(w.snap, node, pkt),
    )


def rp_filter(w: Walk, node: str, nfacts: NetFacts, in_iface: str, pkt: Pkt) -> None:
    sysctl = nfacts.sysctl
    if sysctl is None:
        w.missing("rp-filter", w.snap.node_source(node, "sysctl"), node)
        return
    assert sysctl is not None
    k_all = "net.ipv4.conf.all.rp_filter"
    k_dev = f"net.ipv4.conf.{sysctl_name(in_iface)}.rp_filter"
    v_all, v_dev = sysctl.get(k_all), sysctl.get(k_dev)
    if v_all is None or v_dev is None:
        w.unknown_stop(
            "rp-filter", "key_missing", {"key": k_all if v_all is None else k_dev}, node=node
        )
        return
    assert v_all is not None
    assert v_dev is not None
    if not (v_all.isdigit() and v_dev.isdigit()):
        w.unknown_stop("rp-filter", "key_missing", {"key": k_dev}, node=node)
    mode = max(int(v_all), int(v_dev))
    ev = [w.quote.sysctl(node, k_all, v_all), w.quote.sysctl(node, k_dev, v_dev)]
    params = {"node": node, "dev": in_iface, "src": pkt.src, "mode": str(mode)}
    if mode == 0:
        w.hop("rp-filter", "pass", "off", params, ev, node=node)
        return
    back, _ = lookup(nfacts, pkt.src, pkt.dst, in_iface)
    ev.append(w.quote.route(node, back, pkt.src))
    params["back"] = route_dev(back) or "" if back else ""
    if back is None or back.type not in (None, "unicast"):
        w.hop(
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
        w.hop("rp-filter", "pass", "loose", params, ev, node=node)
        return
    devs = {route_dev(back)} | {nh.dev for nh in back.nexthops}
    if in_iface in devs:
        w.hop("rp-filter", "pass", "strict", params, ev, node=node)
        return
    w.hop("rp-filter", "drop", "strict", params, ev, node=node, cause="node-rp-filter-strict")


def local_in(w: Walk, node: str, nfacts: NetFacts, in_iface: str, pkt: Pkt) -> None:
    """Delivered to the node itself: its INPUT chain, then the node (or, for an outer
    packet, decapsulation and the inner packet's own lookup)."""
    filter_chain(w, node, nfacts, "INPUT", pkt, in_iface, None)
    if pkt.inner is None:
        w.hop("delivery", "pass", "node", {"node": node, "dst": pkt.dst}, node=node)
        if pkt.dport is not None and w.direction == "request":
            w.hop("port", "unknown", "node", {"node": node, "port": str(pkt.dport)}, node=node)
        return
    dev, inner = decap(w, node, nfacts, pkt)
    node_input(w, node, dev, inner)


def node_output(w: Walk, node: str, pkt: Pkt, stage: str = "node-route") -> None:
    """A packet the node itself sends (an outer packet, a reply from the node)."""
    w.tick()
    nfacts = w.snap.node_facts.get(node)
    if nfacts is None or nfacts.routes is None:
        w.missing(stage, w.snap.node_source(node, "ip_route"), node)
        return
    assert nfacts is not None
    route, rule = lookup(nfacts, pkt.dst, pkt.src)
    if route is None:
        no_route(w, node, pkt, rule, stage)
        return
    assert route is not None
    rev = w.quote.route(node, route, pkt.dst)
    if route.type == "local":
        if pkt.inner is not None:
            cause = duplicate_cause(w.snap, pkt)
            w.hop(
                stage,
                "drop",
                "self",
                {"node": node, "dst": pkt.dst},
                [*pkt.origin, rev],
                node=node,
                cause=cause,
            )
        w.hop(stage, "pass", "local", {"node": node, "dst": pkt.dst}, [rev], node=node)
        local_in(w, node, nfacts, "lo", pkt)
        return
    if route.type not in (None, "unicast"):
        w.hop(
            stage,
            "drop",
            "type",
            {"node": node, "dst": pkt.dst, "type": route.type or ""},
            [rev],
            node=node,
        )
    gw = route_gw(route)
    w.hop(
        stage,
        "pass",
        "via" if gw else "direct",
        {"node": node, "dst": pkt.dst, "dev": route_dev(route) or "", "gateway": gw or ""},
        [rev],
        node=node,
    )
    filter_chain(w, node, nfacts, "OUTPUT", pkt, None, route_dev(route))
    egress(w, node, nfacts, route, pkt, forwarded=False)


def egress(
    w: Walk, node: str, nfacts: NetFacts, route: Route, pkt: Pkt, *, forwarded: bool
) -> None:
    out = route_dev(route) or ""
    dev = nfacts.interface(out)
    if dev is None:
        w.unknown_stop("egress-mtu", "no_device", {"node": node, "dev": out}, node=node)
        return
    assert dev is not None
    if dev.mtu and pkt.size > dev.mtu:
        ev = [w.quote.iface(node, dev, "mtu", str(dev.mtu))]
        params = {"node": node, "dev": out, "mtu": str(dev.mtu), "size": str(pkt.size)}
        if pkt.df:
            w.hop("egress-mtu", "drop", "frag_needed", params, ev, node=node, cause="mtu-mismatch")
        w.hop("egress-mtu", "pass", "fragmented", params, ev, node=node)
    if dev.kind == "vxlan":
        node_output(w, node, vxlan(w, node, nfacts, route, dev, pkt), "outer-route")
    elif dev.kind == "ipip" or dev.link_type == "ipip":
        node_output(w, node, ipip(w, node, nfacts, route, dev, pkt), "outer-route")
    elif dev.kind == "bridge":
        found = pod_on_port(w, node, nfacts, pkt.dst, dev.ifname)
        if found is None:
            w.unknown_stop(
                "delivery", "no_pod", {"node": node, "dev": out, "dst": pkt.dst}, node=node
            )
            return
        pod, port = found
        through_port(w, node, pod, port, pkt)
    elif dev.kind == "veth" and (behind := pod_behind(w, node, dev, route, pkt)) is not None:
        into_pod(w, node, behind, dev, pkt)
    else:
        peer, peer_dev = underlay(w, node, nfacts, route, dev, pkt)
        node_input(w, peer, peer_dev, pkt)
