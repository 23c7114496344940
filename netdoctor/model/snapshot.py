"""The Snapshot: one typed, read-only view of everything a source produced.

Sources build it; checks, the engine and the report only read it. Indexes (pod by IP, pods by
node, node by address, ...) are computed once, on first use. ``None`` for a dataset means the
source did not have it; checks that need it are skipped with the file named.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import msgspec

from netdoctor.errors import UsageError
from netdoctor.model.k8s import (
    CalicoNode,
    ConfigMap,
    DaemonSet,
    Deployment,
    EndpointSlice,
    Event,
    GenericObject,
    Installation,
    IPPool,
    Namespace,
    NetworkPolicy,
    Node,
    Pod,
    Service,
    VersionInfo,
)
from netdoctor.model.layout import log_path, node_path, path_for
from netdoctor.model.nodefacts import NetFacts

__all__ = [
    "InputNote",
    "Manifest",
    "Probe",
    "ProbeEnd",
    "Question",
    "Snapshot",
    "parse_port",
]


class InputNote(msgspec.Struct, frozen=True, kw_only=True):
    """Something about the input the user should know: missing, ignored or malformed.

    ``reason`` is a catalog key under ``input.`` (``symlink``, ``secrets``, ...) with its
    ``params``: sources say why, the catalog says it in the user's language. ``detail`` only
    quotes the input's own words (a JSON error in a CNI file).
    """

    file: str
    note: str  # "missing" | "ignored" | "malformed"
    reason: str = ""
    params: dict[str, str] = msgspec.field(default_factory=dict)
    detail: str = ""


class Question(msgspec.Struct, frozen=True, kw_only=True):
    """What the user asks: can ``from_`` reach ``to`` (on ``port``), and what did they see."""

    from_: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    port: int | None = None
    protocol: str = "TCP"
    symptom: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.from_ or self.to or self.port or self.symptom)


def parse_port(text: str | int | None) -> tuple[int | None, str]:
    """``22``, ``"22/tcp"``, ``"53/UDP"`` -> (port, protocol). Raises UsageError on others."""
    if text is None or text == "":
        return None, "TCP"
    if isinstance(text, int):
        port_s, proto = str(text), "TCP"
    else:
        port_s, _, proto = text.strip().partition("/")
        proto = (proto or "tcp").upper()
    if proto not in ("TCP", "UDP", "SCTP"):
        raise UsageError(key="error.port", params={"value": str(text)})
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise UsageError(key="error.port", params={"value": str(text)})
    return int(port_s), proto


class ProbeEnd(msgspec.Struct, frozen=True, kw_only=True):
    pod: str | None = None
    node: str | None = None
    service: str | None = None
    ip: str | None = None
    port: int | None = None
    protocol: str | None = None


class Probe(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One active probe's result (``probes/<name>.json``)."""

    name: str = ""
    from_: ProbeEnd = msgspec.field(default_factory=ProbeEnd, name="from")
    to: ProbeEnd = msgspec.field(default_factory=ProbeEnd)
    kind: str = "icmp"
    attempts: int = 0
    succeeded: int = 0
    result: str = "error"
    detail: str = ""
    rtt_ms: float | None = None
    at: str | None = None


class Manifest(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``bundle.yaml``."""

    format_version: int = 1
    collected_at: str | None = None
    collector: str | None = None
    cluster: str | None = None
    question: Question | None = None
    redacted: bool = False


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Everything known about the cluster for one diagnosis. Read-only; indexes built once."""

    source_kind: str = "memory"  # "bundle" | "cluster-info-dump" | "live" | "lab" | "memory"
    source_path: str = ""
    manifest: Manifest = field(default_factory=Manifest)
    version: VersionInfo | None = None
    nodes: tuple[Node, ...] | None = None
    pods: tuple[Pod, ...] | None = None
    services: tuple[Service, ...] | None = None
    endpointslices: tuple[EndpointSlice, ...] | None = None
    networkpolicies: tuple[NetworkPolicy, ...] | None = None
    namespaces: tuple[Namespace, ...] | None = None
    daemonsets: tuple[DaemonSet, ...] | None = None
    deployments: tuple[Deployment, ...] | None = None
    configmaps: tuple[ConfigMap, ...] | None = None
    events: tuple[Event, ...] | None = None
    ippools: tuple[IPPool, ...] | None = None
    calico_nodes: tuple[CalicoNode, ...] | None = None
    installations: tuple[Installation, ...] | None = None
    custom: Mapping[str, tuple[GenericObject, ...]] = field(default_factory=dict)
    node_facts: Mapping[str, NetFacts] = field(default_factory=dict)
    pod_facts: Mapping[str, NetFacts] = field(default_factory=dict)  # "ns/pod" -> facts
    logs: Mapping[str, str] | None = None  # "ns/pod/container" -> text
    probes: tuple[Probe, ...] | None = None
    input_notes: tuple[InputNote, ...] = ()
    provenance: Mapping[str, str] = field(default_factory=dict)  # data key -> file read

    # --- what is present --------------------------------------------------------------------

    def has(self, key: str) -> bool:
        """Whether the dataset named by a data key was collected (any node, for ``node.*``)."""
        if key.startswith("node."):
            part = key.removeprefix("node.")
            return any(_facts_has(f, part) for f in self.node_facts.values())
        if key == "k8s.version":
            return self.version is not None
        if key == "logs":
            return self.logs is not None
        if key == "probes":
            return self.probes is not None
        attr = key.removeprefix("k8s.")
        if attr in self.custom_keys:
            return key in self.custom
        return getattr(self, attr, None) is not None

    custom_keys = frozenset(
        {"felixconfigurations", "kubeovn_subnets", "kubeovn_ips", "cilium_nodes"}
    )

    def node_has(self, node: str, part: str) -> bool:
        facts = self.node_facts.get(node)
        return facts is not None and _facts_has(facts, part)

    def source(self, key: str, node: str | None = None) -> str:
        """The file a dataset came from (as read), or where the bundle format puts it."""
        if node is None and key in self.provenance:
            return self.provenance[key]
        return path_for(key, node)

    # --- indexes ----------------------------------------------------------------------------

    @cached_property
    def node_by_name(self) -> dict[str, Node]:
        return {n.metadata.name: n for n in self.nodes or ()}

    @cached_property
    def node_by_address(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = defaultdict(list)
        for n in self.nodes or ():
            for a in n.status.addresses:
                if a.type in ("InternalIP", "ExternalIP"):
                    out[_norm_ip(a.address)].append(n)
        return dict(out)

    @cached_property
    def pod_by_ref(self) -> dict[str, Pod]:
        return {p.ref: p for p in self.pods or ()}

    @cached_property
    def pods_by_ip(self) -> dict[str, list[Pod]]:
        """Pod IP -> pods holding it (host-network pods excluded: they hold the node's IP)."""
        out: dict[str, list[Pod]] = defaultdict(list)
        for p in self.pods or ():
            if p.spec.host_network:
                continue
            for ip in p.ips:
                out[_norm_ip(ip)].append(p)
        return dict(out)

    @cached_property
    def pods_by_node(self) -> dict[str, list[Pod]]:
        out: dict[str, list[Pod]] = defaultdict(list)
        for p in self.pods or ():
            if p.spec.node_name:
                out[p.spec.node_name].append(p)
        return dict(out)

    @cached_property
    def pods_by_namespace(self) -> dict[str, list[Pod]]:
        out: dict[str, list[Pod]] = defaultdict(list)
        for p in self.pods or ():
            out[p.metadata.namespace].append(p)
        return dict(out)

    @cached_property
    def service_by_ref(self) -> dict[str, Service]:
        return {s.ref: s for s in self.services or ()}

    @cached_property
    def policies_by_namespace(self) -> dict[str, list[NetworkPolicy]]:
        out: dict[str, list[NetworkPolicy]] = defaultdict(list)
        for np in self.networkpolicies or ():
            out[np.metadata.namespace].append(np)
        return dict(out)

    @cached_property
    def namespace_by_name(self) -> dict[str, Namespace]:
        return {n.metadata.name: n for n in self.namespaces or ()}

    @cached_property
    def daemonset_by_ref(self) -> dict[str, DaemonSet]:
        return {d.ref: d for d in self.daemonsets or ()}

    @cached_property
    def configmap_by_ref(self) -> dict[str, ConfigMap]:
        return {c.ref: c for c in self.configmaps or ()}

    @cached_property
    def calico_node_by_node(self) -> dict[str, CalicoNode]:
        return {c.k8s_node_name: c for c in self.calico_nodes or ()}

    @cached_property
    def pods_by_owner_uid(self) -> dict[str, list[Pod]]:
        out: dict[str, list[Pod]] = defaultdict(list)
        for p in self.pods or ():
            for o in p.metadata.owner_references:
                if o.uid:
                    out[o.uid].append(p)
        return dict(out)

    def log_source(self, pod_ref: str, container: str) -> str:
        """The file a log came from: ``provenance["log:ns/pod/container"]`` or the layout."""
        return self.provenance.get(f"log:{pod_ref}/{container}") or log_path(pod_ref, container)

    def node_source(self, node: str, part: str) -> str:
        """The file a node fact came from: ``provenance["node:<node>:<part>"]`` or the layout."""
        return self.provenance.get(f"node:{node}:{part}") or node_path(node, part)

    def log(self, pod: Pod, container: str) -> str | None:
        if self.logs is None:
            return None
        return self.logs.get(f"{pod.ref}/{container}")


def _facts_has(facts: NetFacts, part: str) -> bool:
    attr = _PART_ATTR.get(part, part)
    value: Any = getattr(facts, attr, None)
    return value is not None


_PART_ATTR = {
    "ip_addr": "interfaces",
    "ip_route": "routes",
    "ip_route6": "routes6",
    "ip_rule": "rules",
    "ip_neigh": "neighbours",
    "bridge_fdb": "fdb",
    "cni": "cni_files",
}


def _norm_ip(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip
