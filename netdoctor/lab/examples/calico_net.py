"""The node networks of a Calico (IPIP, BIRD) example: what calico-node and Felix install."""

from __future__ import annotations

import ipaddress

from netdoctor.lab.examples.calico_logs import calico_conflist
from netdoctor.lab.examples.netns import Link, NodeNet, PodNet
from netdoctor.lab.examples.plan import ExamplePlan, NodeSpec
from netdoctor.lab.objects.configs import calico_kubeconfig
from netdoctor.lab.objects.ids import hexid
from netdoctor.lab.plan import calico_veth
from netdoctor.lab.rules.felix import felix_rules
from netdoctor.lab.rules.ipsets import felix_ipsets
from netdoctor.lab.rules.kube_proxy import kube_proxy_rules, kubeadm_service_ports
from netdoctor.lab.rules.kubelet import kubelet_rules

__all__ = ["block_first", "calico_nets"]


def block_first(block: str) -> str:
    return str(ipaddress.ip_network(block).network_address)


def calico_nets(plan: ExamplePlan, pod_names: dict[str, str]) -> list[NodeNet]:
    """One NodeNet per plan node; ``pod_names`` maps plan pod keys to controller-made names."""
    svcs = kubeadm_service_ports(
        plan.service_ip,
        plan.node(plan.master).ip,
        (plan.pods["coredns-0"].ip, plan.pods["coredns-1"].ip),
    )
    return [
        _node_net(plan, n, idx, pod_names, kube_proxy_rules(svcs, plan.cluster_cidr))
        for idx, n in enumerate(plan.nodes)
    ]


def _node_net(
    plan: ExamplePlan,
    n: NodeSpec,
    idx: int,
    pod_names: dict[str, str],
    kube_proxy: list[list[str]],
) -> NodeNet:
    tunnel = block_first(n.subnet)
    links = [
        Link(
            lk.name, lk.kind, mac=lk.mac, mtu=lk.mtu, addrs=list(lk.addrs), pci=lk.pci, guid=lk.guid
        )
        for lk in n.links
    ]
    links.append(
        Link(
            "tunl0",
            "tunl",
            mac=f"02:00:00:00:7e:{idx:02x}",
            mtu=1480,
            addrs=[f"{tunnel}/32"],
        )
    )
    node_pods = []
    for key, spec in plan.pods.items():
        if spec.node != n.name:
            continue
        pod_name = pod_names.get(key, key)
        ns = spec.namespace
        node_pods.append(
            PodNet(
                namespace=ns,
                name=pod_name,
                ip=spec.ip,
                prefixlen=32,
                host_if=calico_veth(ns, pod_name),
                host_mac="ee:ee:ee:ee:ee:ee",
                pod_mac="0a:58:"
                + ":".join(hexid("mac", pod_name)[i : i + 2] for i in range(0, 8, 2)),
                mtu=1480,
                gateway="169.254.1.1",
                pod_routes=[
                    "169.254.1.1 dev eth0 scope link",
                    "default via 169.254.1.1 dev eth0",
                ],
                capture=spec.capture,
            )
        )
    routes = [*plan.underlay_routes, f"blackhole {n.subnet} proto bird"]
    for pn in node_pods:
        routes.append(f"{pn.ip} dev {pn.host_if} scope link")
    for o in plan.nodes:
        if o.name == n.name:
            continue
        routes.append(f"{o.subnet} via {o.cni_ip} dev tunl0 proto bird onlink")
    neigh = list(plan.underlay_neighbours)
    dev = n.link_with(n.ip).name
    for o in plan.nodes:
        # a peer whose tunnel goes to its InternalIP has been talked to on the node network
        if o.name != n.name and o.cni_ip == o.ip:
            neigh.append(f"{o.ip} lladdr {o.link_with(o.ip).mac} dev {dev} nud stale")
    for pn in node_pods:
        neigh.append(f"{pn.ip} lladdr {pn.pod_mac} dev {pn.host_if} nud permanent")
    sysctls = {
        "net.ipv4.ip_forward": "1",
        "net.ipv4.conf.default.rp_filter": "2",
        "net.ipv4.conf.all.rp_filter": "2",
        "net.ipv4.conf.all.route_localnet": "1",
        "net.bridge.bridge-nf-call-iptables": "1",
        "net.ipv4.conf.tunl0.rp_filter": "1",
    }
    for pn in node_pods:
        for k, v in (
            ("rp_filter", "1"),
            ("route_localnet", "1"),
            ("proxy_arp", "1"),
            ("forwarding", "1"),
        ):
            sysctls[f"net.ipv4.conf.{pn.host_if}.{k}"] = v
        sysctls[f"net.ipv4.neigh.{pn.host_if}.proxy_delay"] = "0"
        sysctls[f"net.ipv6.conf.{pn.host_if}.disable_ipv6"] = "1"
    hosts = sorted({o.cni_ip for o in plan.nodes} | {o.ip for o in plan.nodes})
    ipsets = felix_ipsets(plan.cluster_cidr, hosts)
    workloads = [(pn.host_if, pn.namespace) for pn in node_pods]
    ipt = kubelet_rules() + kube_proxy + felix_rules(workloads)
    cni = {
        "10-calico.conflist": calico_conflist(n.name),
        "calico-kubeconfig": calico_kubeconfig(plan.service_ip(1)),
    }
    return NodeNet(n.name, links, node_pods, routes, neigh, [], sysctls, ipsets, ipt, cni)
