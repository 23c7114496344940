"""Which interfaces on a node are pods', and the MTU a pod really sends with.

Checks layer, support code. A pod's interface is recognised by the way its CNI attaches it,
never as "any veth". Docker's veths on ``docker0`` or ``br-*`` (docker-compose on a node) and
other veths are not pods':

* Calico: a ``cali*`` veth, with a host route (``10.30.0.5 dev cali... scope link``) to its pod;
* the bridge CNIs (flannel, the bridge plugin, kubenet, kube-router): a veth enslaved to
  ``cni0``, ``cbr0`` or ``kube-bridge``;
* Kube-OVN: a ``*_h`` veth enslaved to ``ovs-system``;
* Cilium: an ``lxc*`` veth;
* any CNI: a veth that a host route to one of the node's pod IPs uses.

An MTU is the device's, clamped by the route's when the route sets one (``ip route ... mtu
1450``, printed by ``ip -j route`` as ``"metrics": [{"mtu": 1450}]``). Cilium keeps a pod's
``eth0`` and its ``lxc*`` end at the device MTU, 1500, and clamps with the MTU of the pod's
default route and of the node's routes to the other nodes' pods.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netdoctor.model.nodefacts import Interface, NetFacts, Route

__all__ = ["CNI_BRIDGES", "SendMtu", "node_route_clamp", "pod_host_veths", "pod_send_mtu"]

# The bridges the bridge CNI plugins attach pods to by default (flannel's and the bridge
# plugin's cni0, kubenet's cbr0, kube-router's kube-bridge). docker0 and br-* are Docker's.
CNI_BRIDGES = frozenset({"cni0", "cbr0", "kube-bridge"})


def _host_route_devs(routes: Iterable[Route]) -> dict[str, set[str]]:
    """Host routes of the main table (``A`` or ``A/32``): address -> the devices they use."""
    out: dict[str, set[str]] = {}
    for r in routes:
        if r.table_name != "main" or r.type not in (None, "unicast") or r.dev is None:
            continue
        dst = r.dst.removesuffix("/32")
        if "/" not in dst and dst != "default":
            out.setdefault(dst, set()).add(r.dev)
    return out


def pod_host_veths(facts: NetFacts, pod_ips: Iterable[str]) -> tuple[Interface, ...]:
    """The host ends of the pods' veths on a node, by their CNI's attachment (see above)."""
    host = _host_route_devs(facts.routes or ())
    to_pods = {d for ip in pod_ips for d in host.get(ip, ())}
    routed = {d for devs in host.values() for d in devs}
    out = []
    for i in facts.interfaces or ():
        if i.kind != "veth":
            continue
        name = i.ifname
        if (
            name in to_pods
            or (name.startswith("cali") and name in routed)
            or i.master in CNI_BRIDGES
            or (name.endswith("_h") and i.master == "ovs-system")
            or name.startswith("lxc")
        ):
            out.append(i)
    return tuple(out)


@dataclass(frozen=True)
class SendMtu:
    """The MTU a packet leaves with: the device's, or the smaller MTU of the route it takes."""

    mtu: int
    route: Route | None  # the route whose MTU clamps the device's, if any


def pod_send_mtu(iface: Interface, routes: Iterable[Route]) -> SendMtu:
    """What a pod sends to other nodes with from ``iface``: its MTU, clamped by the MTU of
    the pod's default route through it (every CNI gives its pods a default route)."""
    for r in routes:
        if r.dst == "default" and r.dev == iface.ifname and r.table_name == "main":
            if r.mtu and r.mtu < iface.mtu:
                return SendMtu(r.mtu, r)
            break
    return SendMtu(iface.mtu, None)


def node_route_clamp(facts: NetFacts, underlay: str) -> Route | None:
    """The node's route with the largest MTU among its main-table routes that set one and do
    not leave by the underlay: the CNI's routes to the other nodes' pods (Cilium's via
    ``cilium_host``). A CNI that clamps its pods' routes clamps these the same way; None when
    the node has none, and the host ends of the veths then stand for their pods."""
    best: Route | None = None
    for r in facts.routes or ():
        if r.table_name != "main" or not r.mtu or r.dev in (None, underlay):
            continue
        if best is None or r.mtu > (best.mtu or 0):
            best = r
    return best
