"""The definition of one example cluster: its nodes, objects, logs, probes and node networks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netdoctor.lab.examples.netns import NodeNet

__all__ = ["RV", "Cluster", "NodeDef"]


class RV:
    """Monotonic resourceVersions, like etcd's revision."""

    def __init__(self, start: int) -> None:
        self.n = start

    def __call__(self) -> str:
        self.n += 37
        return str(self.n)


@dataclass
class NodeDef:
    name: str
    ip: str
    control_plane: bool = False
    pod_cidr: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    machine: str = ""
    gpus: int = 0
    cpu: str = "64"
    memory_ki: int = 527_951_232
    os_image: str = "Ubuntu 22.04.4 LTS"
    kernel: str = "5.15.0-94-generic"


@dataclass
class Cluster:
    name: str
    title: str
    k8s_version: str
    k8s_minor: int
    collected: str
    nodes: list[NodeDef]
    node_ip: dict[str, str]
    rv: RV
    question: dict[str, str] = field(default_factory=dict)
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)  # "ns/pod/container" -> text
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)
    nets: list[NodeNet] = field(default_factory=list)
    fdb: bool = False
