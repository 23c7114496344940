"""The sending pod's leg: its route lookup, its interface's MTU, and the veth (or bridge) to
the node, with the ARP answer for its next hop.

Part of the trace (``netdoctor.trace.stages``); hands the packet to the node stage."""

from __future__ import annotations

from netdoctor.model.k8s import Pod
from netdoctor.model.nodefacts import Interface, NetFacts
from netdoctor.netfilter.felix import ipv4
from netdoctor.trace.firewall import filter_chain
from netdoctor.trace.routing import lookup, route_dev, route_gw, subnet, sysctl_name
from netdoctor.trace.stages.delivery import pod_on_port, through_port
from netdoctor.trace.stages.node import node_input
from netdoctor.trace.walk import Pkt, Walk

__all__ = ["bridged", "from_pod", "host_peer", "pod_to_node"]


def from_pod(w: Walk, pod: Pod, pkt: Pkt) -> None:
    ref = pod.ref
    facts = w.snap.pod_facts.get(ref)
    if facts is None or facts.routes is None or facts.interfaces is None:
        # Without the pod's own facts its route is unknown; its packets can only leave by
        # its interface to the node, so go on there: a certain drop further on decides.
        part = "ip_route" if facts is None or facts.routes is None else "ip_addr"
        w.hop("pod-route", "unknown", "missing", {"path": w.quote.pod_src(ref, part)})
        pod_to_node(w, pod, None, None, pkt)
        return
    route, rule = lookup(facts, pkt.dst, pkt.src)
    if route is None or route.type not in (None, "unicast"):
        ev = [w.quote.rule(None, rule, ref)] if rule else [w.quote.route("", route, pkt.dst, ref)]
        w.hop("pod-route", "drop", "none", {"pod": ref, "dst": pkt.dst}, ev)
        return
    dev = route_dev(route) or ""
    gw = route_gw(route)
    w.hop(
        "pod-route",
        "pass",
        "via" if gw else "direct",
        {"pod": ref, "dst": pkt.dst, "dev": dev, "gateway": gw or ""},
        [w.quote.route("", route, pkt.dst, ref)],
    )
    eth = facts.interface(dev)
    if eth is None:
        w.unknown_stop("pod-egress", "no_device", {"pod": ref, "dev": dev})
        return
    mtu_ev = w.quote.iface(None, eth, "mtu", str(eth.mtu), ref)
    if pkt.df and eth.mtu and pkt.size > eth.mtu:
        w.hop(
            "pod-egress",
            "drop",
            "mtu",
            {"pod": ref, "dev": dev, "mtu": str(eth.mtu), "size": str(pkt.size)},
            [mtu_ev],
            cause="mtu-mismatch",
        )
    w.hop(
        "pod-egress",
        "pass",
        "ok",
        {"pod": ref, "dev": dev, "mtu": str(eth.mtu), "size": str(pkt.size)},
        [mtu_ev],
    )
    pod_to_node(w, pod, eth, gw, pkt)


def host_peer(
    w: Walk, pod: Pod, eth: Interface | None, nfacts: NetFacts
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
                    net = subnet(ad.local, ad.prefixlen)
                    if net is not None and a in net:
                        return i, "bridge"
    return None, ""


def pod_to_node(w: Walk, pod: Pod, eth: Interface | None, gw: str | None, pkt: Pkt) -> None:
    """From the pod's interface to the node. ``eth`` None: the pod's facts are missing
    (its next hop then follows from the node side: a pod on the bridge's subnet talks
    to it directly, any other destination goes to the node)."""
    node = pod.spec.node_name
    nfacts = w.snap.node_facts.get(node)
    if nfacts is None or nfacts.interfaces is None:
        w.missing("veth", w.snap.node_source(node, "ip_addr"), node)
        return
    host, how = host_peer(w, pod, eth, nfacts)
    if host is None:
        w.unknown_stop("veth", "no_peer", {"pod": pod.ref, "node": node}, node=node)
        return
    assert host is not None
    ev = [w.quote.iface(node, host, "ifindex", str(host.ifindex))]
    if host.kind != "bridge" and host.mtu and pkt.size > host.mtu:
        w.hop(
            "veth",
            "drop",
            "mtu",
            {"dev": host.ifname, "mtu": str(host.mtu), "size": str(pkt.size)},
            [*ev, w.quote.iface(node, host, "mtu", str(host.mtu))],
            node=node,
            cause="mtu-mismatch",
        )
    bridge = nfacts.interface(host.master) if host.master else (host if how == "bridge" else None)
    in_iface = bridge.ifname if bridge else host.ifname
    if eth is None:
        d = ipv4(pkt.dst)
        on_bridge = bridge is not None and any(
            d is not None and (n := subnet(a.local, a.prefixlen)) is not None and d in n
            for a in bridge.addresses("inet")
        )
        w.hop("veth", "pass", "host_side", {"pod": pod.ref, "dev": in_iface}, ev, node=node)
        if on_bridge:
            assert bridge is not None
            bridged(w, node, nfacts, bridge, host, pkt)
        else:
            node_input(w, node, in_iface, pkt)
        return
    if gw is None:
        if bridge is None:
            w.unknown_stop(
                "veth", "direct_no_bridge", {"dev": host.ifname, "dst": pkt.dst}, ev, node=node
            )
        w.hop(
            "veth",
            "pass",
            "to_bridge",
            {"pod": pod.ref, "dev": host.ifname, "bridge": in_iface},
            ev,
            node=node,
        )
        assert bridge is not None
        bridged(w, node, nfacts, bridge, host, pkt)
        return
    # Who answers ARP for the gateway: an address on the host side, or proxy ARP.
    holder = nfacts.interface_with_address(gw)
    if holder is not None and holder[0].ifname in (host.ifname, in_iface):
        ev.append(w.quote.iface(node, holder[0], "addr_info[].local", gw))
        w.hop(
            "veth",
            "pass",
            "gateway_address",
            {"pod": pod.ref, "dev": in_iface, "gateway": gw},
            ev,
            node=node,
        )
    else:
        if nfacts.sysctl is None:
            w.missing("veth", w.snap.node_source(node, "sysctl"), node)
            return
        key = f"net.ipv4.conf.{sysctl_name(host.ifname)}.proxy_arp"
        val = nfacts.sysctl.get(key)
        if val is None:
            w.unknown_stop("veth", "key_missing", {"key": key}, ev, node=node)
            return
        ev.append(w.quote.sysctl(node, key, val))
        if val == "0":
            w.hop(
                "veth",
                "drop",
                "no_arp",
                {"pod": pod.ref, "dev": host.ifname, "gateway": gw},
                ev,
                node=node,
            )
        w.hop(
            "veth",
            "pass",
            "proxy_arp",
            {"pod": pod.ref, "dev": host.ifname, "gateway": gw},
            ev,
            node=node,
        )
    node_input(w, node, in_iface, pkt)


def bridged(
    w: Walk, node: str, nfacts: NetFacts, bridge: Interface, port_in: Interface, pkt: Pkt
) -> None:
    found = pod_on_port(w, node, nfacts, pkt.dst, bridge.ifname)
    if found is None:
        w.unknown_stop("bridge", "no_port", {"bridge": bridge.ifname, "dst": pkt.dst}, node=node)
        return
    pod, port = found
    if nfacts.sysctl is None:
        w.missing("bridge", w.snap.node_source(node, "sysctl"), node)
        return
    key = "net.bridge.bridge-nf-call-iptables"
    val = nfacts.sysctl.get(key)
    ev = [w.quote.iface(node, port, "master", bridge.ifname)]
    if val == "1":
        w.hop(
            "bridge",
            "pass",
            "nf",
            {"bridge": bridge.ifname, "port": port.ifname},
            [*ev, w.quote.sysctl(node, key, val)],
            node=node,
        )
        filter_chain(w, node, nfacts, "FORWARD", pkt, bridge.ifname, bridge.ifname)
    else:
        w.hop(
            "bridge",
            "pass",
            "no_nf",
            {"bridge": bridge.ifname, "port": port.ifname, "key": key},
            ev,
            node=node,
        )
    through_port(w, node, pod, port, pkt)
