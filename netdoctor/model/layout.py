"""Where each kind of data lives in a bundle (``shared/docs/bundle-format.md``, version 1).

A data key (``k8s.nodes``, ``node.sysctl``) names a dataset; checks declare the keys they need
and the engine turns a missing one into a skip that names the file. The live collector writes
the same paths, so offline and live diagnoses quote the same sources.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "FORMAT_VERSION",
    "NODE_FILES",
    "POD_FILES",
    "RESOURCES",
    "Resource",
    "log_path",
    "node_path",
    "path_for",
    "pod_path",
    "resource_by_key",
]

FORMAT_VERSION: Final = 1


class Resource:
    """A Kubernetes resource a bundle may hold: its data key and the file names kubectl uses."""

    __slots__ = ("aliases", "key", "name", "namespaced")

    def __init__(self, key: str, name: str, *aliases: str, namespaced: bool = True) -> None:
        self.key = key  # data key, e.g. "k8s.networkpolicies"
        self.name = name  # the name kubectl accepts with its group, the canonical file stem
        self.aliases = aliases  # short names accepted for built-in kinds
        self.namespaced = namespaced

    @property
    def path(self) -> str:
        return f"k8s/{self.name}.json"


RESOURCES: Final[tuple[Resource, ...]] = (
    Resource("k8s.nodes", "nodes", namespaced=False),
    Resource("k8s.pods", "pods"),
    Resource("k8s.services", "services"),
    Resource("k8s.endpointslices", "endpointslices.discovery.k8s.io", "endpointslices"),
    Resource("k8s.endpoints", "endpoints"),
    Resource("k8s.networkpolicies", "networkpolicies.networking.k8s.io", "networkpolicies"),
    Resource("k8s.daemonsets", "daemonsets.apps", "daemonsets"),
    Resource("k8s.deployments", "deployments.apps", "deployments"),
    Resource("k8s.configmaps", "configmaps"),
    Resource("k8s.events", "events", "events.events.k8s.io"),
    Resource("k8s.namespaces", "namespaces", namespaced=False),
    Resource("k8s.ippools", "ippools.crd.projectcalico.org", namespaced=False),
    Resource("k8s.calico_nodes", "nodes.crd.projectcalico.org", namespaced=False),
    Resource(
        "k8s.felixconfigurations", "felixconfigurations.crd.projectcalico.org", namespaced=False
    ),
    Resource("k8s.installations", "installations.operator.tigera.io", namespaced=False),
    Resource("k8s.kubeovn_subnets", "subnets.kubeovn.io", namespaced=False),
    Resource("k8s.kubeovn_ips", "ips.kubeovn.io", namespaced=False),
    Resource("k8s.cilium_nodes", "ciliumnodes.cilium.io", namespaced=False),
)

_BY_KEY: Final = {r.key: r for r in RESOURCES}

# data key suffix -> file name under nodes/<node>/ (and pods/<ns>/<pod>/ for the ip ones)
NODE_FILES: Final[dict[str, str]] = {
    "ip_addr": "ip-addr.json",
    "ip_route": "ip-route.json",
    "ip_route6": "ip-route6.json",
    "ip_rule": "ip-rule.json",
    "ip_neigh": "ip-neigh.json",
    "bridge_fdb": "bridge-fdb.json",
    "sysctl": "sysctl.txt",
    "iptables": "iptables-save.txt",
    "ip6tables": "ip6tables-save.txt",
    "nft": "nft-ruleset.json",
    "ipvs": "ipvsadm.txt",
    "conntrack": "conntrack-stats.txt",
    "cni": "cni/",
}

POD_FILES: Final[dict[str, str]] = {
    "ip_addr": "ip-addr.json",
    "ip_route": "ip-route.json",
}


def log_path(pod_ref: str, container: str) -> str:
    """``logs/<ns>/<pod>/<container>.log``."""
    return f"logs/{pod_ref}/{container}.log"


def resource_by_key(key: str) -> Resource | None:
    return _BY_KEY.get(key)


def node_path(node: str, part: str) -> str:
    """``nodes/<node>/<file>`` for a node data key suffix such as ``sysctl``."""
    return f"nodes/{node}/{NODE_FILES[part]}"


def pod_path(ref: str, part: str) -> str:
    return f"pods/{ref}/{POD_FILES[part]}"


def path_for(key: str, node: str | None = None) -> str:
    """The bundle path of a data key (``k8s.nodes`` -> ``k8s/nodes.json``)."""
    if key.startswith("node."):
        return node_path(node or "<node>", key.removeprefix("node."))
    if key == "k8s.version":
        return "k8s/version.json"
    if key == "logs":
        return "logs/"
    if key == "probes":
        return "probes/"
    res = _BY_KEY.get(key)
    return res.path if res else key
