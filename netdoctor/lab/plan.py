"""The lab's plan: every name, address, MAC and route of a lab, computed before anything is built.

lab: a source that builds real networks and writes bundles. This module is pure (no I/O): the
builder turns the plan into ``ip``/``bridge``/``sysctl``/``iptables`` commands, and the collector
turns it into the Kubernetes objects the CNI and kubelet would have written. Keeping both on one
plan is what makes the bundle describe exactly the network the kernel runs.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from enum import StrEnum

from netdoctor.lab.errors import LabUsageError

__all__ = [
    "CLUSTER_CIDR",
    "LISTEN_PORT",
    "ROUTER_IP",
    "FaultName",
    "LayoutName",
    "NodePlan",
    "Plan",
    "PodPlan",
    "RouteSpec",
    "calico_veth",
    "make_plan",
]

LISTEN_PORT = 8080
ROUTER_IP = "10.6.131.1"  # the underlay's gateway: knows 10.6.131.0/24 only
NET0 = "10.6.131"  # the node network (InternalIPs)
NET1 = "10.6.130"  # a second underlay network (an InfiniBand fabric, a storage network)
NAT_IP = "10.0.2.15"  # VirtualBox's NAT address, the same in every VM
NAT_GW = "10.0.2.2"
CLUSTER_CIDR = {"flannel": "10.244.0.0/16", "calico": "10.30.0.0/16"}


class LayoutName(StrEnum):
    flannel_vxlan = "flannel-vxlan"
    flannel_host_gw = "flannel-host-gw"
    calico_vxlan = "calico-vxlan"
    calico_routed = "calico-routed"

    @property
    def cni(self) -> str:
        return self.value.split("-", 1)[0]

    @property
    def overlay(self) -> bool:
        return self.value.endswith("vxlan")


class FaultName(StrEnum):
    wrong_tunnel_address = "wrong-tunnel-address"
    duplicate_public_ip = "duplicate-public-ip"
    ip_forward_off = "ip-forward-off"
    forward_drop = "forward-drop"
    overlay_port_blocked = "overlay-port-blocked"
    mtu_too_large = "mtu-too-large"
    missing_route = "missing-route"
    policy_drop = "policy-drop"
    rp_filter_strict = "rp-filter-strict"


# Faults that only make sense for some layouts (the others: every layout).
_ONLY_FOR: dict[FaultName, tuple[LayoutName, ...]] = {
    FaultName.duplicate_public_ip: (LayoutName.flannel_vxlan,),
    FaultName.overlay_port_blocked: (LayoutName.flannel_vxlan, LayoutName.calico_vxlan),
    FaultName.mtu_too_large: (LayoutName.flannel_vxlan, LayoutName.calico_vxlan),
}
# Both put a second address on node 2's second-network port.
_EXCLUSIVE = (
    frozenset({FaultName.wrong_tunnel_address, FaultName.rp_filter_strict}),
    frozenset({FaultName.wrong_tunnel_address, FaultName.duplicate_public_ip}),
    frozenset({FaultName.duplicate_public_ip, FaultName.rp_filter_strict}),
)


@dataclass(frozen=True)
class RouteSpec:
    """One route as ``ip route add`` takes it (words after ``add``)."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class PodPlan:
    name: str  # Kubernetes name, e.g. pod-n1-1
    node: str
    netns: str
    ip: str
    host_veth: str
    mac: str

    @property
    def ref(self) -> str:
        return f"default/{self.name}"


@dataclass
class NodePlan:
    index: int
    name: str
    netns: str
    ip: str  # InternalIP on eth0
    subnet: str  # flannel's /24, or calico's block /26
    tunnel_ip: str  # flannel.1's 10.244.X.0, vxlan.calico's first block address; "" if none
    vtep_mac: str
    public_ip: str  # the address the CNI advertises and peers send to
    public_iface: str
    extra_ifaces: list[tuple[str, str, str]] = field(default_factory=list)  # (name, cidr, bridge)
    default_via: tuple[str, str] = (ROUTER_IP, "eth0")
    pods: list[PodPlan] = field(default_factory=list)
    peer_routes: list[RouteSpec] = field(default_factory=list)
    extra_routes: list[RouteSpec] = field(default_factory=list)
    neighbours: list[tuple[str, str]] = field(default_factory=list)  # (ip, mac) on the vtep
    fdb: list[tuple[str, str]] = field(default_factory=list)  # (mac, dst) on the vtep
    sysctls: dict[str, str] = field(default_factory=dict)
    iptables: dict[str, list[str]] = field(default_factory=dict)  # table -> rule lines

    @property
    def gateway(self) -> str:
        """flannel's cni0 address (the pods' gateway); calico's is 169.254.1.1."""
        return self.subnet.rsplit(".", 1)[0] + ".1"


@dataclass
class Plan:
    name: str
    prefix: str  # "ndl1a2b-": every namespace of the lab starts with it
    layout: LayoutName
    faults: tuple[FaultName, ...]
    nodes: list[NodePlan]
    pod_mtu: int
    vtep_mtu: int
    policy_pair: tuple[str, str] | None = None  # (from pod ref, to pod ref) for policy-drop

    @property
    def underlay_ns(self) -> str:
        return f"{self.prefix}u"

    @property
    def cni(self) -> str:
        return self.layout.cni

    @property
    def cluster_cidr(self) -> str:
        return CLUSTER_CIDR[self.cni]

    @property
    def vtep(self) -> str:
        return "flannel.1" if self.cni == "flannel" else "vxlan.calico"

    @property
    def vxlan_port(self) -> int:
        return 8472 if self.cni == "flannel" else 4789

    @property
    def vni(self) -> int:
        return 1 if self.cni == "flannel" else 4096

    @property
    def pods(self) -> list[PodPlan]:
        return [p for n in self.nodes for p in n.pods]

    @property
    def namespaces(self) -> list[str]:
        return [self.underlay_ns, *(n.netns for n in self.nodes), *(p.netns for p in self.pods)]

    def node(self, name: str) -> NodePlan:
        return next(n for n in self.nodes if n.name == name)

    def pod(self, ref: str) -> PodPlan:
        return next(p for p in self.pods if p.ref == ref or p.name == ref)


def calico_veth(namespace: str, pod: str) -> str:
    """The host-side name Calico's CNI plugin gives a pod's veth: cali + sha1(ns.pod)[:11]."""
    return "cali" + hashlib.sha1(f"{namespace}.{pod}".encode()).hexdigest()[:11]


def _mac(rng: random.Random) -> str:
    """A random locally administered unicast MAC, as the kernel gives a new device."""
    first = (rng.randrange(256) & 0xFC) | 0x02
    return ":".join(f"{b:02x}" for b in [first, *(rng.randrange(256) for _ in range(5))])


def make_plan(
    name: str,
    prefix: str,
    layout: LayoutName,
    nodes: int = 2,
    pods_per_node: int = 2,
    faults: tuple[FaultName, ...] = (),
) -> Plan:
    """Every address and route of the lab; raises LabUsageError for impossible requests."""
    if not 1 <= nodes <= 50:
        raise LabUsageError(f"--nodes {nodes}: expected 1 to 50")
    if not 1 <= pods_per_node <= 60:
        raise LabUsageError(f"--pods-per-node {pods_per_node}: expected 1 to 60")
    faults = tuple(dict.fromkeys(faults))
    for f in faults:
        allowed = _ONLY_FOR.get(f)
        if allowed and layout not in allowed:
            names = ", ".join(a.value for a in allowed)
            raise LabUsageError(f"--fault {f.value!r} applies to {names}, not {layout.value}")
        if nodes < 2 and f not in (FaultName.ip_forward_off,):
            raise LabUsageError(f"--fault {f.value!r} needs --nodes 2 or more")
    for pair in _EXCLUSIVE:
        if pair <= set(faults):
            a, b = sorted(pair)
            raise LabUsageError(f"--fault {a.value!r} and {b.value!r} cannot be combined")
    rng = random.Random(prefix)
    cni = layout.cni
    fault = set(faults)
    pod_mtu = 1450 if layout.overlay else 1500
    if FaultName.mtu_too_large in fault:
        pod_mtu = 1500
    plan = Plan(
        name=name,
        prefix=prefix,
        layout=layout,
        faults=faults,
        nodes=[],
        pod_mtu=pod_mtu,
        vtep_mtu=1450,
    )
    for i in range(1, nodes + 1):
        ip = f"{NET0}.{10 + i}"
        if cni == "flannel":
            subnet = f"10.244.{i - 1}.0/24"
            tunnel_ip = f"10.244.{i - 1}.0" if layout.overlay else ""
        else:
            subnet = f"10.30.{i}.64/26"
            tunnel_ip = f"10.30.{i}.64" if layout.overlay else ""
        node = NodePlan(
            index=i,
            name=f"node{i}",
            netns=f"{prefix}n{i}",
            ip=ip,
            subnet=subnet,
            tunnel_ip=tunnel_ip,
            vtep_mac=_mac(rng),
            public_ip=ip,
            public_iface="eth0",
        )
        if FaultName.wrong_tunnel_address in fault and i == 2:
            # The InfiniBand case: the CNI took the first address it found, on a fabric the
            # peers' default gateway has never heard of.
            node.extra_ifaces.append(("ib0", f"{NET1}.{10 + i}/24", "br1"))
            node.public_ip, node.public_iface = f"{NET1}.{10 + i}", "ib0"
        if FaultName.rp_filter_strict in fault and i in (1, 2):
            node.extra_ifaces.append(("eth1", f"{NET1}.{10 + i}/24", "br1"))
        if FaultName.duplicate_public_ip in fault:
            # Every VirtualBox VM: NAT adapter first, default route through it, 10.0.2.15.
            node.extra_ifaces.append(("eth1", f"{NAT_IP}/24", ""))
            node.default_via = (NAT_GW, "eth1")
            node.public_ip, node.public_iface = NAT_IP, "eth1"
        base = subnet.rsplit(".", 1)[0]
        for j in range(1, pods_per_node + 1):
            pname = f"pod-n{i}-{j}"
            if cni == "calico":
                veth, pod_ip = calico_veth("default", pname), f"{base}.{64 + j}"
            else:
                veth, pod_ip = f"veth{rng.getrandbits(32):08x}", f"{base}.{1 + j}"
            node.pods.append(
                PodPlan(
                    name=pname,
                    node=node.name,
                    netns=f"{prefix}n{i}p{j}",
                    ip=pod_ip,
                    host_veth=veth,
                    mac=_mac(rng),
                )
            )
        plan.nodes.append(node)
    _routes(plan, fault)
    _sysctls(plan, fault)
    _firewall(plan, fault)
    if FaultName.policy_drop in fault:
        plan.policy_pair = (plan.nodes[0].pods[0].ref, plan.nodes[1].pods[0].ref)
        _policy_rules(plan)
    return plan


def _routes(plan: Plan, fault: set[FaultName]) -> None:
    layout = plan.layout
    for node in plan.nodes:
        for peer in plan.nodes:
            if peer is node:
                continue
            if FaultName.missing_route in fault and node.index == 1 and peer.index == 2:
                continue
            if layout.overlay:
                node.neighbours.append((peer.tunnel_ip, peer.vtep_mac))
                node.fdb.append((peer.vtep_mac, peer.public_ip))
                words = [peer.subnet, "via", peer.tunnel_ip, "dev", plan.vtep, "onlink"]
                if plan.cni == "calico":
                    words[5:5] = ["proto", "80"]
                node.peer_routes.append(RouteSpec(tuple(words)))
                continue
            # Routed layouts: the peer's subnet via its address on a shared network. With the
            # wrong tunnel address on either end, the kernel refuses the route (flannel host-gw:
            # "Nexthop has invalid gateway") or BGP never comes up (calico: the session to an
            # address behind the default gateway), so there is no route at all.
            if FaultName.wrong_tunnel_address in fault and "ib0" in (
                node.public_iface,
                peer.public_iface,
            ):
                continue
            via, dev = peer.public_ip, node.public_iface
            if FaultName.rp_filter_strict in fault and node.index == 2 and peer.index == 1:
                via, dev = f"{NET1}.{10 + peer.index}", "eth1"
            words = [peer.subnet, "via", via, "dev", dev]
            if plan.cni == "calico":
                words += ["proto", "bird"]
            node.peer_routes.append(RouteSpec(tuple(words)))
        if FaultName.rp_filter_strict in fault and node.index == 2 and layout.overlay:
            # A host route to node 1 over the second network (added for storage traffic):
            # node 2 now answers node 1 on eth1 while node 1 keeps sending on eth0.
            peer = plan.nodes[0]
            node.extra_routes.append(
                RouteSpec((f"{peer.ip}/32", "via", f"{NET1}.{10 + peer.index}", "dev", "eth1"))
            )


def _sysctls(plan: Plan, fault: set[FaultName]) -> None:
    for node in plan.nodes:
        s = node.sysctls
        s["net.ipv4.ip_forward"] = "1"
        if plan.cni == "flannel":
            # Pods share the cni0 bridge: kubeadm and flannel require bridged traffic to go
            # through iptables; set it rather than rely on the kernel's default.
            s["net.bridge.bridge-nf-call-iptables"] = "1"
        if plan.cni == "calico":
            for p in node.pods:
                s[f"net.ipv4.conf.{p.host_veth}.proxy_arp"] = "1"
                s[f"net.ipv4.neigh.{p.host_veth}.proxy_delay"] = "0"
                s[f"net.ipv4.conf.{p.host_veth}.forwarding"] = "1"
                s[f"net.ipv4.conf.{p.host_veth}.rp_filter"] = "1"
                s[f"net.ipv4.conf.{p.host_veth}.route_localnet"] = "1"
        if FaultName.rp_filter_strict in fault and node.index == 2:
            s["net.ipv4.conf.all.rp_filter"] = "1"
            s["net.ipv4.conf.eth0.rp_filter"] = "1"
            s["net.ipv4.conf.eth1.rp_filter"] = "1"
        if FaultName.ip_forward_off in fault and node.index == 2:
            s["net.ipv4.ip_forward"] = "0"  # written last: it resets every conf.*.forwarding


def _cm(comment: str) -> str:
    return f'-m comment --comment "{comment}"'


def _cali_id(*parts: str) -> str:
    """A stable 16-character rule id in the alphabet Felix uses for its ``cali:`` comments."""
    digest = hashlib.sha224("/".join(parts).encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(alphabet[b % 64] for b in digest[:16])


def _firewall(plan: Plan, fault: set[FaultName]) -> None:
    cluster = plan.cluster_cidr
    for node in plan.nodes:
        filt: list[str] = []
        nat: list[str] = []
        drop_forward = FaultName.forward_drop in fault and node.index == 2
        if drop_forward:
            # What Docker leaves behind: policy DROP, accepts for docker0 only.
            filt += [
                ":FORWARD DROP",
                ":DOCKER -",
                ":DOCKER-ISOLATION-STAGE-1 -",
                ":DOCKER-ISOLATION-STAGE-2 -",
                ":DOCKER-USER -",
                "-A FORWARD -j DOCKER-USER",
                "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
                "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A FORWARD -o docker0 -j DOCKER",
                "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT",
                "-A FORWARD -i docker0 -o docker0 -j ACCEPT",
                "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2",
                "-A DOCKER-ISOLATION-STAGE-1 -j RETURN",
                "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
                "-A DOCKER-ISOLATION-STAGE-2 -j RETURN",
                "-A DOCKER-USER -j RETURN",
            ]
        if plan.cni == "flannel":
            masq = _cm("flanneld masq")
            nat += [
                ":FLANNEL-POSTRTG -",
                f"-A POSTROUTING {masq} -j FLANNEL-POSTRTG",
                f"-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 {masq} -j RETURN",
                f"-A FLANNEL-POSTRTG -s {node.subnet} -d {cluster} {masq} -j RETURN",
                f"-A FLANNEL-POSTRTG -s {cluster} -d {node.subnet} {masq} -j RETURN",
                f"-A FLANNEL-POSTRTG ! -s {cluster} -d {node.subnet} {masq} -j RETURN",
                f"-A FLANNEL-POSTRTG -s {cluster} ! -d 224.0.0.0/4 {masq}"
                " -j MASQUERADE --random-fully",
                f"-A FLANNEL-POSTRTG ! -s {cluster} -d {cluster} {masq}"
                " -j MASQUERADE --random-fully",
            ]
            if not drop_forward:
                filt += [
                    ":FLANNEL-FWD -",
                    f"-A FORWARD {_cm('flanneld forward')} -j FLANNEL-FWD",
                    f"-A FLANNEL-FWD -s {cluster} {_cm('flanneld forward')} -j ACCEPT",
                    f"-A FLANNEL-FWD -d {cluster} {_cm('flanneld forward')} -j ACCEPT",
                ]
        else:
            c = _cali_id
            nat += [
                ":cali-POSTROUTING -",
                ":cali-nat-outgoing -",
                f"-A POSTROUTING {_cm('cali:' + c('nat', 'post'))} -j cali-POSTROUTING",
                f"-A cali-POSTROUTING {_cm('cali:' + c('nat', 'out'))} -j cali-nat-outgoing",
                f"-A cali-nat-outgoing -s {cluster} ! -d {cluster} "
                f"{_cm('cali:' + c('nat', 'masq'))} -j MASQUERADE --random-fully",
            ]
            if not drop_forward:
                filt += [
                    ":cali-FORWARD -",
                    f"-A FORWARD {_cm('cali:' + c('fwd'))} -j cali-FORWARD",
                    f"-A cali-FORWARD -i cali+ {_cm('cali:' + c('fwd', 'from-wl'))} -j ACCEPT",
                    f"-A cali-FORWARD -o cali+ {_cm('cali:' + c('fwd', 'to-wl'))} -j ACCEPT",
                    f"-A cali-FORWARD -s {cluster} {_cm('cali:' + c('fwd', 'pool-src'))} -j ACCEPT",
                    f"-A cali-FORWARD -d {cluster} {_cm('cali:' + c('fwd', 'pool-dst'))} -j ACCEPT",
                ]
        if FaultName.overlay_port_blocked in fault and node.index == 2:
            filt.append(f"-A INPUT -p udp -m udp --dport {plan.vxlan_port} -j DROP")
        node.iptables = {"filter": filt, "nat": nat}


def _policy_rules(plan: Plan) -> None:
    """The drop a NetworkPolicy implementation installs on the destination's node: Felix's
    ``cali-tw-<veth>`` chain (calico), kube-router's per-pod firewall chain (flannel)."""
    assert plan.policy_pair is not None
    src, dst = plan.pod(plan.policy_pair[0]), plan.pod(plan.policy_pair[1])
    node = plan.node(dst.node)
    if plan.cni == "calico":
        chain = f"cali-tw-{dst.host_veth}"
        jump = f"-I FORWARD 1 -o {dst.host_veth} -j {chain}"
        tag = _cm("cali:" + _cali_id("tw", dst.host_veth))
    else:
        chain = "KUBE-POD-FW-" + hashlib.sha256(dst.ref.encode()).hexdigest()[:16].upper()
        jump = f"-I FORWARD 1 -d {dst.ip}/32 -j {chain}"
        tag = _cm(f"rule to drop traffic from {src.ref} to {dst.ref}")
    node.iptables["filter"][:0] = [f":{chain} -"]
    node.iptables["filter"] += [
        jump,
        f"-A {chain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-A {chain} -m conntrack --ctstate INVALID -j DROP",
        f"-A {chain} -s {src.ip}/32 {tag} -j DROP",
    ]
