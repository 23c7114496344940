"""An example described as data: its plan (``examples/plans/<name>.yaml``) and its bundle file.

The plan is the example's topology: nodes, their ports (names, kinds, MACs, PCI addresses,
addresses), the address and port the CNI picked on each node (where the fault of a broken example
usually is), the CNI's subnet per node, the underlay's routes and neighbours, and the pods on the
pod network. ``<name>.bundle.yaml`` holds what is not topology: the cluster title, the collection
time, the question of bundle.yaml and the probes. The builders in ``calico``/``flannel`` turn one
plan into the cluster's Kubernetes objects, logs and node networks; what the manifests and the
CNI would write (container specs, Felix's rules, tunl0, flannel.1, cni0) stays in code.

This is not :mod:`netdoctor.lab.plan`: that plan is computed from a layout and faults for the
``netdoctor lab`` command, with generated names and random MACs; an example reproduces one
reported cluster, name for name, so its plan is written down rather than computed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netdoctor.lab.errors import LabUsageError
from netdoctor.lab.examples.netns import Link
from netdoctor.lab.objects.cluster import NodeDef

__all__ = ["ExamplePlan", "LinkSpec", "NodeSpec", "PodSpec", "load_plan", "plan_paths"]


@dataclass(frozen=True)
class LinkSpec:
    """A port the node has before any CNI runs: a NIC (``nic``) or an IPoIB port (``ib``)."""

    name: str
    kind: str  # nic | ib
    mac: str | None = None
    mtu: int = 1500
    addrs: tuple[str, ...] = ()
    pci: str | None = None
    guid: str | None = None  # IPoIB: the 20-byte hardware address

    def link(self) -> Link:
        """The builder's Link for this port."""
        return Link(
            self.name,
            self.kind,
            mac=self.mac,
            mtu=self.mtu,
            addrs=list(self.addrs),
            pci=self.pci,
            guid=self.guid,
        )


@dataclass(frozen=True)
class NodeSpec:
    name: str
    ip: str  # InternalIP (kubelet --node-ip)
    pod_cidr: str  # spec.podCIDR (kubeadm --pod-network-cidr)
    links: tuple[LinkSpec, ...]
    cni_ip: str  # the address the CNI advertises for the node (calico's IPv4Address, flannel's
    cni_iface: str  # public-ip) and the port it found it on
    subnet: str = ""  # calico: the node's IPAM block; flannel uses pod_cidr
    vtep_mac: str = ""  # flannel.1's MAC
    control_plane: bool = False
    machine: dict[str, Any] = field(default_factory=dict)  # NodeDef's cpu, gpus, memory_ki, ...

    def node_def(self) -> NodeDef:
        return NodeDef(
            self.name,
            self.ip,
            control_plane=self.control_plane,
            pod_cidr=self.pod_cidr,
            **self.machine,
        )

    def link_with(self, ip: str) -> LinkSpec:
        """The port that has ``ip``."""
        return next(lk for lk in self.links if any(a.split("/")[0] == ip for a in lk.addrs))


@dataclass(frozen=True)
class PodSpec:
    node: str
    ip: str
    namespace: str = "default"
    capture: bool = False  # also write pods/<namespace>/<pod>/ip-*.json


@dataclass(frozen=True)
class ExamplePlan:
    name: str
    cni: str  # calico | flannel
    kubernetes: str  # e.g. v1.28.6
    cluster_cidr: str
    service_cidr: str
    first_resource_version: int
    nodes: tuple[NodeSpec, ...]
    pods: dict[str, PodSpec]  # by the builder's key (coredns-0, netdebug04, ...)
    underlay_routes: tuple[str, ...]  # ``ip route add`` words, the same on every node
    underlay_neighbours: tuple[str, ...]  # ``ip neigh replace`` words, the same on every node
    # from <name>.bundle.yaml
    title: str
    collected: str
    question: dict[str, str]
    probes: dict[str, dict[str, Any]]

    @property
    def k8s_minor(self) -> int:
        return int(self.kubernetes.split(".")[1])

    @property
    def master(self) -> str:
        return next(n.name for n in self.nodes if n.control_plane)

    def node(self, name: str) -> NodeSpec:
        return next(n for n in self.nodes if n.name == name)

    def service_ip(self, n: int) -> str:
        """The n-th address of the Service CIDR (kubernetes is 1, kube-dns 10, as kubeadm)."""
        return str(ipaddress.ip_network(self.service_cidr)[n])


# plan keys -> NodeSpec fields; the rest of a node's keys are NodeDef's machine facts
_NODE_KEYS = {
    "name": "name",
    "ip": "ip",
    "podCIDR": "pod_cidr",
    "subnet": "subnet",
    "vtepMAC": "vtep_mac",
    "controlPlane": "control_plane",
}
_MACHINE_KEYS = {
    "cpu": "cpu",
    "gpus": "gpus",
    "memoryKi": "memory_ki",
    "osImage": "os_image",
    "kernel": "kernel",
}


def plan_paths(plans_dir: Path) -> list[Path]:
    """The plans in a folder, in build order (by name; the bundle files are not plans)."""
    return sorted(p for p in plans_dir.glob("*.yaml") if not p.name.endswith(".bundle.yaml"))


def _link(d: dict[str, Any]) -> LinkSpec:
    return LinkSpec(
        name=d["name"],
        kind=d["kind"],
        mac=d.get("mac"),
        mtu=d.get("mtu", 1500),
        addrs=tuple(d.get("addrs", ())),
        pci=d.get("pci"),
        guid=d.get("guid"),
    )


def _node(d: dict[str, Any]) -> NodeSpec:
    known = {*_NODE_KEYS, *_MACHINE_KEYS, "links", "cni"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise LabUsageError(f"node {d.get('name')!r}: unknown keys {unknown}")
    return NodeSpec(
        links=tuple(_link(lk) for lk in d["links"]),
        cni_ip=d["cni"]["ip"],
        cni_iface=d["cni"]["iface"],
        machine={_MACHINE_KEYS[k]: v for k, v in d.items() if k in _MACHINE_KEYS},
        **{_NODE_KEYS[k]: v for k, v in d.items() if k in _NODE_KEYS},
    )


def load_plan(path: Path) -> ExamplePlan:
    """Read ``<name>.yaml`` and the ``<name>.bundle.yaml`` next to it."""
    plan = yaml.safe_load(path.read_text())
    bundle = yaml.safe_load(path.with_name(f"{path.stem}.bundle.yaml").read_text())
    if plan["name"] != path.stem:
        raise LabUsageError(f"{path}: name {plan['name']!r} is not the file's name")
    return ExamplePlan(
        name=plan["name"],
        cni=plan["cni"],
        kubernetes=plan["kubernetes"],
        cluster_cidr=plan["clusterCIDR"],
        service_cidr=plan["serviceCIDR"],
        first_resource_version=plan["firstResourceVersion"],
        nodes=tuple(_node(n) for n in plan["nodes"]),
        pods={k: PodSpec(**v) for k, v in plan["pods"].items()},
        underlay_routes=tuple(plan["underlay"]["routes"]),
        underlay_neighbours=tuple(plan["underlay"]["neighbours"]),
        title=bundle["cluster"],
        collected=bundle["collectedAt"],
        question=dict(bundle["question"]),
        probes=dict(bundle.get("probes", {})),
    )
