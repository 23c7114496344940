"""Delivery into the destination pod: the pod behind a bridge port or host veth, the port's
and the pod's MTU, the pod's interface holding the destination, and the declared port.

Part of the trace (``netdoctor.trace.stages``); the last leg, it hands nothing on."""

from __future__ import annotations

from netdoctor.model.findings import Evidence
from netdoctor.model.k8s import Pod
from netdoctor.model.nodefacts import Interface, NetFacts, Route
from netdoctor.trace.routing import route_gw
from netdoctor.trace.walk import Pkt, Walk

__all__ = ["into_pod", "pod_behind", "pod_on_port", "port", "through_port"]


def pod_on_port(
    w: Walk, node: str, nfacts: NetFacts, dst: str, master: str
) -> tuple[Pod, Interface] | None:
    for pod in w.snap.pods_by_ip.get(dst, ()):
        if pod.spec.node_name != node:
            continue
        pf = w.snap.pod_facts.get(pod.ref)
        eth = None
        if pf is not None:
            held = pf.interface_with_address(dst)
            eth = held[0] if held else None
        for i in nfacts.interfaces or ():
            if i.master == master and eth is not None and i.ifindex == eth.link_index:
                return pod, i
    return None


def through_port(w: Walk, node: str, pod: Pod, port: Interface, pkt: Pkt) -> None:
    """Out of the bridge port (or veth) towards the pod: its MTU, then into the pod."""
    if port.mtu and pkt.size > port.mtu:
        w.hop(
            "delivery",
            "drop",
            "port_mtu",
            {"dev": port.ifname, "mtu": str(port.mtu), "size": str(pkt.size)},
            [w.quote.iface(node, port, "mtu", str(port.mtu))],
            node=node,
            cause="mtu-mismatch",
        )
    into_pod(w, node, pod, port, pkt)


def pod_behind(w: Walk, node: str, dev: Interface, route: Route, pkt: Pkt) -> Pod | None:
    """The pod on the other end of a host veth: by the pod's own facts (its eth0 points at
    this ifindex), else by the node's route, which says it (a link route, no gateway, to
    a pod address of this node: what Calico installs per workload)."""
    for pod in w.snap.pods_by_node.get(node, ()):
        if pod.spec.host_network:
            continue
        pf = w.snap.pod_facts.get(pod.ref)
        for i in (pf.interfaces or ()) if pf else ():
            if i.link_index == dev.ifindex and i.addresses("inet"):
                return pod
    if route_gw(route) is None:
        for pod in w.snap.pods_by_ip.get(pkt.dst, ()):
            if pod.spec.node_name == node and w.snap.pod_facts.get(pod.ref) is None:
                return pod
    return None


def into_pod(w: Walk, node: str, pod: Pod, host: Interface, pkt: Pkt) -> None:
    pf = w.snap.pod_facts.get(pod.ref)
    if pf is None or pf.interfaces is None:
        w.missing("pod-ingress", w.quote.pod_src(pod.ref, "ip_addr"), None)
        return
    assert pf is not None
    held = pf.interface_with_address(pkt.dst)
    eth = next((i for i in pf.interfaces or () if i.link_index == host.ifindex), None)
    if eth is not None and eth.mtu and pkt.size > eth.mtu:
        w.hop(
            "delivery",
            "drop",
            "pod_mtu",
            {"pod": pod.ref, "dev": eth.ifname, "mtu": str(eth.mtu), "size": str(pkt.size)},
            [w.quote.iface(None, eth, "mtu", str(eth.mtu), pod.ref)],
            node=node,
            cause="mtu-mismatch",
        )
    w.hop(
        "delivery",
        "pass",
        "pod",
        {"node": node, "pod": pod.ref, "dev": host.ifname},
        [w.quote.iface(node, host, "ifindex", str(host.ifindex))],
        node=node,
    )
    if held is None:
        w.hop("pod-ingress", "drop", "not_held", {"pod": pod.ref, "dst": pkt.dst}, node=None)
        return
    assert held is not None
    w.hop(
        "pod-ingress",
        "pass",
        "ok",
        {"pod": pod.ref, "dst": pkt.dst, "dev": held[0].ifname},
        [w.quote.iface(None, held[0], "addr_info[].local", pkt.dst, pod.ref)],
    )
    if w.direction == "request" and pkt.dport is not None and pkt.proto in ("tcp", "udp"):
        port(w, pod, pkt)


def port(w: Walk, pod: Pod, pkt: Pkt) -> None:
    for c in pod.spec.containers:
        for p in c.ports:
            if p.container_port == pkt.dport and p.protocol.lower() == pkt.proto:
                ev = Evidence(
                    source=w.snap.source("k8s.pods"),
                    object=f"Pod/{pod.ref}",
                    field=f"spec.containers[{c.name}].ports[].containerPort",
                    value=f"{p.container_port}/{p.protocol}",
                    node=pod.spec.node_name or None,
                )
                w.hop(
                    "port",
                    "pass",
                    "declared",
                    {"pod": pod.ref, "port": str(pkt.dport), "container": c.name},
                    [ev],
                )
                return
    w.hop("port", "unknown", "undeclared", {"pod": pod.ref, "port": str(pkt.dport)})
