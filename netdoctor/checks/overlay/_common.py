"""What several overlay checks read: the CNI that programs the routes (flannel under Canal),
its agent pod and the restart that re-programs a node, the addresses and pod CIDRs each node
announces (flannel's and Calico's annotations, ``spec.podCIDR``), route evidence, and the CNI
config files in a node's ``/etc/cni/net.d``.

Checks layer, below the overlay check modules (``routes``, ``vxlan``, ``mtu``, ``cniconf``,
``addressing``); it registers no check (a module whose name starts with ``_`` is not scanned).
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from netdoctor.checks._support.common import IPNet, ip_only, route_text
from netdoctor.checks._support.registry import Context
from netdoctor.model.cni import (
    CALICO_ADDRESS,
    CALICO_IPIP_ADDR,
    CALICO_VXLAN_ADDR,
    FLANNEL_BACKEND_TYPE,
    FLANNEL_PUBLIC_IP,
    FLANNEL_PUBLIC_IP_OVERWRITE,
)
from netdoctor.model.findings import Action, Evidence, Message
from netdoctor.model.k8s import Node
from netdoctor.model.nodefacts import NetFacts, Route
from netdoctor.model.snapshot import Snapshot

__all__ = [
    "CNI_IFACE",
    "agent_pod",
    "calico_addresses",
    "cni_conf_files",
    "cni_file_source",
    "conf_json",
    "flannel_backend",
    "flannel_net_conf",
    "flannel_public_ip",
    "main_routes",
    "node_pod_cidrs",
    "parse_net",
    "podcidr_evidence",
    "restart_agent",
    "route_devs",
    "route_evidence",
    "route_line",
    "routing_cni",
]


# CNI config files the runtime loads (libcni's ConfFiles: .conf, .conflist, .json), in name order.
_CNI_CONF_EXT = (".conf", ".conflist", ".json")


# Interfaces a CNI (or kube-proxy) owns: their addresses are the pod network, not "another" one.
CNI_IFACE = re.compile(
    r"^(cni\d*|cbr\d*|flannel[.\-].*|vxlan[.\-]v?6?\.?calico|vxlan\.calico|tunl\d+|cali.*|"
    r"wireguard\.cali|cilium_.*|lxc.*|ovn0|mirror0|genev_sys_.*|kube-ipvs0|nodelocaldns|"
    r"kube-bridge|weave|vxlan-v6\.calico)$"
)


def agent_pod(ctx: Context, cni: str, node: str) -> tuple[str, str, str | None]:
    """(namespace, DaemonSet, pod on ``node`` or None) of the CNI's agent."""
    agent = ctx.cni.agent(cni)
    defaults = {
        "flannel": ("kube-flannel", "kube-flannel-ds"),
        "calico": ("kube-system", "calico-node"),
        "kube-ovn": ("kube-system", "kube-ovn-cni"),
        "cilium": ("kube-system", "cilium"),
    }
    ns, ds = (agent.namespace, agent.name) if agent else defaults.get(cni, ("kube-system", cni))
    pod = agent.pod_on(node) if agent is not None else None
    return ns, ds, pod.metadata.name if pod is not None else None


def restart_agent(ctx: Context, cni: str, node: str) -> Action:
    ns, ds, pod = agent_pod(ctx, cni, node)
    if pod:
        command = f"kubectl -n {ns} delete pod {pod}"
    else:
        command = f"kubectl -n {ns} rollout restart daemonset/{ds}"
    return Action(
        message=Message("fix.overlay.restart_agent", {"agent": ds, "node": node}),
        command=command,
    )


def routing_cni(ctx: Context) -> str | None:
    """The CNI that programs routes: flannel when Calico only adds policy (Canal)."""
    if (
        ctx.cni.has("flannel")
        and ctx.snapshot.nodes
        and any(FLANNEL_PUBLIC_IP in n.metadata.annotations for n in ctx.snapshot.nodes)
    ):
        return "flannel"
    return ctx.cni.primary


def route_evidence(snap: Snapshot, node: str, what: str, route: Route | None) -> Evidence:
    return Evidence(
        source=snap.node_source(node, "ip_route"),
        object=f"Node/{node}",
        field=f"route to {what}",
        value=route_line(route) if route else "none",
        node=node,
    )


def route_line(r: Route) -> str:
    """A route as ``ip route`` prints it, its type first when not unicast (``blackhole ...``)."""
    text = route_text(r)
    return f"{r.type} {text}" if r.type not in (None, "unicast") else text


def main_routes(facts: NetFacts) -> list[Route]:
    return [r for r in facts.routes or () if r.table_name == "main"]


def route_devs(r: Route) -> set[str]:
    out = {r.dev} if r.dev else set()
    out.update(h.dev for h in r.nexthops if h.dev)
    return out


def parse_net(text: str | None) -> IPNet | None:
    if not text:
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def flannel_public_ip(node: Node) -> tuple[str, str] | None:
    """(annotation key, address) flannel announces for the node."""
    ann = node.metadata.annotations
    for key in (FLANNEL_PUBLIC_IP_OVERWRITE, FLANNEL_PUBLIC_IP):
        if ann.get(key):
            return key, ip_only(ann[key])
    return None


def flannel_backend(ctx: Context, node: Node) -> str | None:
    t = node.metadata.annotations.get(FLANNEL_BACKEND_TYPE)
    if t:
        return t
    conf = flannel_net_conf(ctx)
    backend = conf.get("Backend") if conf else None
    if isinstance(backend, dict) and isinstance(backend.get("Type"), str):
        return str(backend["Type"])
    return None


def flannel_net_conf(ctx: Context) -> dict[str, Any] | None:
    for cm in ctx.snapshot.configmaps or ():
        raw = cm.data.get("net-conf.json")
        if raw is None:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
    return None


def node_pod_cidrs(node: Node) -> list[IPNet]:
    out: list[IPNet] = []
    for text in node.spec.pod_cidrs or ([node.spec.pod_cidr] if node.spec.pod_cidr else []):
        net = parse_net(text)
        if net is not None and net not in out:
            out.append(net)
    return out


def podcidr_evidence(snap: Snapshot, node: Node) -> Evidence:
    return Evidence(
        source=snap.source("k8s.nodes"),
        object=f"Node/{node.metadata.name}",
        field="spec.podCIDR",
        value=node.spec.pod_cidr or "",
        node=node.metadata.name,
    )


def calico_addresses(snap: Snapshot, node: Node) -> dict[str, str]:
    """Calico's addresses for a node: ``address``, ``vxlan``, ``ipip``, ``vxlan_mac`` (any may be
    absent): node annotations first, then the Calico Node resource."""
    ann = node.metadata.annotations
    out: dict[str, str] = {}
    cn = snap.calico_node_by_node.get(node.metadata.name)
    addr = ann.get(CALICO_ADDRESS) or (cn.spec.bgp.ipv4_address if cn and cn.spec.bgp else None)
    if addr:
        out["address"] = ip_only(addr)
    vx = ann.get(CALICO_VXLAN_ADDR) or (cn.spec.ipv4_vxlan_tunnel_addr if cn else None)
    if vx:
        out["vxlan"] = ip_only(vx)
    ipip = ann.get(CALICO_IPIP_ADDR) or (
        cn.spec.bgp.ipv4_ipip_tunnel_addr if cn and cn.spec.bgp else None
    )
    if ipip:
        out["ipip"] = ip_only(ipip)
    if cn and cn.spec.vxlan_tunnel_mac_addr:
        out["vxlan_mac"] = cn.spec.vxlan_tunnel_mac_addr.lower()
    return out


def cni_conf_files(facts: NetFacts) -> list[str]:
    return sorted(n for n in facts.cni_files or {} if n.endswith(_CNI_CONF_EXT))


def cni_file_source(snap: Snapshot, node: str, file: str) -> str:
    return f"{snap.node_source(node, 'cni').rstrip('/')}/{file}"


def conf_json(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
