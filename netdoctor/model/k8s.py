"""Kubernetes objects as netdoctor sees them: only the fields checks use, decoded fast.

Sits at the bottom of the flow (model). The same types decode a bundle's ``kubectl get -o json``
files and the live API's raw list responses. Unknown fields are ignored; a field of the wrong
type is an input error naming the file.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

__all__ = [
    "CalicoNode",
    "CalicoNodeBGP",
    "CalicoNodeSpec",
    "ConfigMap",
    "Container",
    "ContainerPort",
    "ContainerState",
    "ContainerStatus",
    "DaemonSet",
    "DaemonSetSpec",
    "DaemonSetStatus",
    "Deployment",
    "EndpointSlice",
    "EnvVar",
    "Event",
    "GenericObject",
    "IPBlock",
    "IPPool",
    "IPPoolSpec",
    "Installation",
    "K8sObject",
    "KList",
    "LabelRequirement",
    "LabelSelector",
    "Namespace",
    "NetworkPolicy",
    "NetworkPolicyEgressRule",
    "NetworkPolicyIngressRule",
    "NetworkPolicyPeer",
    "NetworkPolicyPort",
    "NetworkPolicySpec",
    "Node",
    "NodeAddress",
    "NodeCondition",
    "ObjectMeta",
    "OwnerReference",
    "Pod",
    "PodCondition",
    "PodContainer",
    "PodIP",
    "PodSpec",
    "PodStatus",
    "Service",
    "ServicePort",
    "Taint",
    "TemplateSpec",
    "Toleration",
    "VersionInfo",
]


class _K(msgspec.Struct, frozen=True, kw_only=True, rename="camel", gc=False):
    """Base for decoded API structs: immutable, camelCase on the wire, no GC tracking."""


class OwnerReference(_K, frozen=True):
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool = False


class ObjectMeta(_K, frozen=True):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    owner_references: list[OwnerReference] = msgspec.field(default_factory=list)
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    resource_version: str = ""


class K8sObject(_K, frozen=True):
    api_version: str = ""
    kind: str = ""
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def ref(self) -> str:
        """``ns/name`` for namespaced objects, ``name`` otherwise."""
        ns = self.metadata.namespace
        return f"{ns}/{self.metadata.name}" if ns else self.metadata.name


T = TypeVar("T")


class KList(msgspec.Struct, Generic[T], kw_only=True, rename="camel"):
    """A ``kind: List`` or a typed list (``PodList``) as ``kubectl get -o json`` prints it."""

    api_version: str = ""
    kind: str = ""
    items: list[T] = msgspec.field(default_factory=list)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class LabelRequirement(_K, frozen=True):
    key: str
    operator: str
    values: list[str] = msgspec.field(default_factory=list)


class LabelSelector(_K, frozen=True):
    match_labels: dict[str, str] = msgspec.field(default_factory=dict)
    match_expressions: list[LabelRequirement] = msgspec.field(default_factory=list)


# --- Nodes -------------------------------------------------------------------------------------


class NodeAddress(_K, frozen=True):
    type: str
    address: str


class NodeCondition(_K, frozen=True):
    type: str
    status: str
    reason: str = ""
    message: str = ""


class NodeSystemInfo(_K, frozen=True):
    kubelet_version: str = ""
    kernel_version: str = ""
    os_image: str = ""
    container_runtime_version: str = ""


class Taint(_K, frozen=True):
    key: str
    effect: str = ""
    value: str = ""


class NodeSpec(_K, frozen=True):
    pod_cidr: str | None = msgspec.field(default=None, name="podCIDR")
    pod_cidrs: list[str] = msgspec.field(default_factory=list, name="podCIDRs")
    unschedulable: bool = False
    taints: list[Taint] = msgspec.field(default_factory=list)


class NodeStatus(_K, frozen=True):
    addresses: list[NodeAddress] = msgspec.field(default_factory=list)
    conditions: list[NodeCondition] = msgspec.field(default_factory=list)
    node_info: NodeSystemInfo = msgspec.field(default_factory=NodeSystemInfo)


class Node(K8sObject, frozen=True):
    spec: NodeSpec = msgspec.field(default_factory=NodeSpec)
    status: NodeStatus = msgspec.field(default_factory=NodeStatus)

    def addresses_of(self, kind: str) -> list[str]:
        return [a.address for a in self.status.addresses if a.type == kind]

    @property
    def internal_ips(self) -> list[str]:
        return self.addresses_of("InternalIP")

    @property
    def ready(self) -> bool | None:
        for c in self.status.conditions:
            if c.type == "Ready":
                return c.status == "True"
        return None


# --- Pods --------------------------------------------------------------------------------------


class ContainerPort(_K, frozen=True):
    container_port: int
    name: str = ""
    protocol: str = "TCP"
    host_port: int | None = None


class EnvVar(_K, frozen=True):
    name: str
    value: str | None = None
    value_from: dict[str, Any] | None = None


class PodContainer(_K, frozen=True):
    """A running pod's container: what checks read of it (no env: 30,000 pods carry half a
    million env vars that no check needs; the agent's settings come from its DaemonSet)."""

    name: str
    image: str = ""
    command: list[str] = msgspec.field(default_factory=list)
    args: list[str] = msgspec.field(default_factory=list)
    ports: list[ContainerPort] = msgspec.field(default_factory=list)


class Container(PodContainer, frozen=True):
    """A container of a workload template (DaemonSet, Deployment), env included."""

    env: list[EnvVar] = msgspec.field(default_factory=list)

    def env_value(self, name: str) -> str | None:
        for e in self.env:
            if e.name == name:
                return e.value
        return None


class Toleration(_K, frozen=True):
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' rule: empty key with Exists tolerates everything; effect empty = all."""
        if self.effect and self.effect != taint.effect:
            return False
        if not self.key:
            return self.operator == "Exists"
        if self.key != taint.key:
            return False
        return self.operator == "Exists" or self.value == taint.value


class _PodSpecCommon(_K, frozen=True):
    tolerations: list[Toleration] = msgspec.field(default_factory=list)
    host_network: bool = False
    node_selector: dict[str, str] = msgspec.field(default_factory=dict)
    service_account_name: str = ""


class PodSpec(_PodSpecCommon, frozen=True):
    node_name: str = ""
    containers: list[PodContainer] = msgspec.field(default_factory=list)
    init_containers: list[PodContainer] = msgspec.field(default_factory=list)


class TemplateSpec(_PodSpecCommon, frozen=True):
    """The pod spec inside a workload's template: containers with their env."""

    containers: list[Container] = msgspec.field(default_factory=list)
    init_containers: list[Container] = msgspec.field(default_factory=list)


class StateWaiting(_K, frozen=True):
    reason: str = ""
    message: str = ""


class StateRunning(_K, frozen=True):
    started_at: str | None = None


class StateTerminated(_K, frozen=True):
    reason: str = ""
    message: str = ""
    exit_code: int = 0
    finished_at: str | None = None


class ContainerState(_K, frozen=True):
    waiting: StateWaiting | None = None
    running: StateRunning | None = None
    terminated: StateTerminated | None = None


class ContainerStatus(_K, frozen=True):
    name: str
    ready: bool = False
    restart_count: int = 0
    image: str = ""
    state: ContainerState = msgspec.field(default_factory=ContainerState)
    last_state: ContainerState = msgspec.field(default_factory=ContainerState)


class PodCondition(_K, frozen=True):
    type: str
    status: str
    reason: str = ""
    message: str = ""


class PodIP(_K, frozen=True):
    ip: str


class PodStatus(_K, frozen=True):
    phase: str = ""
    pod_ip: str | None = msgspec.field(default=None, name="podIP")
    pod_ips: list[PodIP] = msgspec.field(default_factory=list, name="podIPs")
    host_ip: str | None = msgspec.field(default=None, name="hostIP")
    conditions: list[PodCondition] = msgspec.field(default_factory=list)
    container_statuses: list[ContainerStatus] = msgspec.field(default_factory=list)
    reason: str = ""
    message: str = ""


class Pod(K8sObject, frozen=True):
    spec: PodSpec = msgspec.field(default_factory=PodSpec)
    status: PodStatus = msgspec.field(default_factory=PodStatus)

    @property
    def ips(self) -> list[str]:
        found = [p.ip for p in self.status.pod_ips]
        if not found and self.status.pod_ip:
            found = [self.status.pod_ip]
        return found

    @property
    def ready(self) -> bool:
        return any(c.type == "Ready" and c.status == "True" for c in self.status.conditions)

    @property
    def restarts(self) -> int:
        return sum(cs.restart_count for cs in self.status.container_statuses)

    def owner(self, kind: str) -> OwnerReference | None:
        for o in self.metadata.owner_references:
            if o.kind == kind:
                return o
        return None


# --- Services and endpoints --------------------------------------------------------------------


class ServicePort(_K, frozen=True):
    port: int
    name: str = ""
    protocol: str = "TCP"
    target_port: int | str | None = None
    node_port: int | None = None


class ServiceSpec(_K, frozen=True):
    type: str = "ClusterIP"
    cluster_ip: str | None = msgspec.field(default=None, name="clusterIP")
    cluster_ips: list[str] = msgspec.field(default_factory=list, name="clusterIPs")
    selector: dict[str, str] = msgspec.field(default_factory=dict)
    ports: list[ServicePort] = msgspec.field(default_factory=list)
    external_name: str | None = None
    external_traffic_policy: str | None = None
    internal_traffic_policy: str | None = None


class Service(K8sObject, frozen=True):
    spec: ServiceSpec = msgspec.field(default_factory=ServiceSpec)


class EndpointConditions(_K, frozen=True):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class ObjectReference(_K, frozen=True):
    kind: str = ""
    name: str = ""
    namespace: str = ""


class Endpoint(_K, frozen=True):
    addresses: list[str] = msgspec.field(default_factory=list)
    conditions: EndpointConditions = msgspec.field(default_factory=EndpointConditions)
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(_K, frozen=True):
    name: str | None = None
    port: int | None = None
    protocol: str = "TCP"


class EndpointSlice(K8sObject, frozen=True):
    """``discovery.k8s.io/v1``. A slice without endpoints prints ``"endpoints": null`` (and
    ``"ports": null`` when no port could be resolved): both fields are required, not omitempty."""

    address_type: str = "IPv4"
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointPort] | None = None


# --- Policies ----------------------------------------------------------------------------------


class IPBlock(_K, frozen=True):
    cidr: str
    except_: list[str] = msgspec.field(default_factory=list, name="except")


class NetworkPolicyPeer(_K, frozen=True):
    """One ``from``/``to`` entry: selectors (both set = AND) or an ``ipBlock``."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


class NetworkPolicyPort(_K, frozen=True):
    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None


class NetworkPolicyIngressRule(_K, frozen=True):
    from_: list[NetworkPolicyPeer] = msgspec.field(default_factory=list, name="from")
    ports: list[NetworkPolicyPort] = msgspec.field(default_factory=list)


class NetworkPolicyEgressRule(_K, frozen=True):
    to: list[NetworkPolicyPeer] = msgspec.field(default_factory=list)
    ports: list[NetworkPolicyPort] = msgspec.field(default_factory=list)


class NetworkPolicySpec(_K, frozen=True):
    pod_selector: LabelSelector = msgspec.field(default_factory=LabelSelector)
    policy_types: list[str] | None = None
    ingress: list[NetworkPolicyIngressRule] | None = None
    egress: list[NetworkPolicyEgressRule] | None = None

    @property
    def types(self) -> tuple[bool, bool]:
        """(affects ingress, affects egress), with the API server's defaulting: without
        ``policyTypes``, Ingress always and Egress only when egress rules are present."""
        if self.policy_types:
            return "Ingress" in self.policy_types, "Egress" in self.policy_types
        return True, bool(self.egress)


class NetworkPolicy(K8sObject, frozen=True):
    spec: NetworkPolicySpec = msgspec.field(default_factory=NetworkPolicySpec)


class Namespace(K8sObject, frozen=True):
    """Only its labels matter here (namespaceSelector)."""


# --- Workloads ---------------------------------------------------------------------------------


class PodTemplateSpec(_K, frozen=True):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: TemplateSpec = msgspec.field(default_factory=TemplateSpec)


class DaemonSetSpec(_K, frozen=True):
    selector: LabelSelector = msgspec.field(default_factory=LabelSelector)
    template: PodTemplateSpec = msgspec.field(default_factory=PodTemplateSpec)


class DaemonSetStatus(_K, frozen=True):
    desired_number_scheduled: int = 0
    current_number_scheduled: int = 0
    number_ready: int = 0
    number_available: int = 0
    number_unavailable: int = 0
    number_misscheduled: int = 0
    updated_number_scheduled: int = 0


class DaemonSet(K8sObject, frozen=True):
    spec: DaemonSetSpec = msgspec.field(default_factory=DaemonSetSpec)
    status: DaemonSetStatus = msgspec.field(default_factory=DaemonSetStatus)

    def container(self, name: str) -> Container | None:
        for c in self.spec.template.spec.containers:
            if c.name == name:
                return c
        return None


class DeploymentSpec(_K, frozen=True):
    replicas: int | None = None
    selector: LabelSelector = msgspec.field(default_factory=LabelSelector)
    template: PodTemplateSpec = msgspec.field(default_factory=PodTemplateSpec)


class DeploymentStatus(_K, frozen=True):
    replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0


class Deployment(K8sObject, frozen=True):
    spec: DeploymentSpec = msgspec.field(default_factory=DeploymentSpec)
    status: DeploymentStatus = msgspec.field(default_factory=DeploymentStatus)


class ConfigMap(K8sObject, frozen=True):
    data: dict[str, str] = msgspec.field(default_factory=dict)


class EventSource(_K, frozen=True):
    component: str = ""
    host: str = ""


class Event(K8sObject, frozen=True):
    involved_object: ObjectReference = msgspec.field(default_factory=ObjectReference)
    reason: str = ""
    message: str = ""
    type: str = ""
    count: int | None = None
    last_timestamp: str | None = None
    event_time: str | None = None
    source: EventSource = msgspec.field(default_factory=EventSource)


# --- Calico ------------------------------------------------------------------------------------


class IPPoolSpec(_K, frozen=True):
    cidr: str = ""
    ipip_mode: str = msgspec.field(default="Never", name="ipipMode")
    vxlan_mode: str = msgspec.field(default="Never", name="vxlanMode")
    nat_outgoing: bool = False
    disabled: bool = False
    block_size: int | None = None
    node_selector: str = ""


class IPPool(K8sObject, frozen=True):
    spec: IPPoolSpec = msgspec.field(default_factory=IPPoolSpec)


class CalicoNodeBGP(_K, frozen=True):
    ipv4_address: str | None = msgspec.field(default=None, name="ipv4Address")
    ipv6_address: str | None = msgspec.field(default=None, name="ipv6Address")
    ipv4_ipip_tunnel_addr: str | None = msgspec.field(default=None, name="ipv4IPIPTunnelAddr")


class CalicoNodeAddress(_K, frozen=True):
    address: str
    type: str = ""


class CalicoNodeSpec(_K, frozen=True):
    bgp: CalicoNodeBGP | None = None
    ipv4_vxlan_tunnel_addr: str | None = msgspec.field(default=None, name="ipv4VXLANTunnelAddr")
    vxlan_tunnel_mac_addr: str | None = msgspec.field(default=None, name="vxlanTunnelMACAddr")
    addresses: list[CalicoNodeAddress] = msgspec.field(default_factory=list)
    orch_refs: list[dict[str, Any]] = msgspec.field(default_factory=list)


class CalicoNode(K8sObject, frozen=True):
    """``nodes.crd.projectcalico.org``: Calico's own view of a node."""

    spec: CalicoNodeSpec = msgspec.field(default_factory=CalicoNodeSpec)

    @property
    def k8s_node_name(self) -> str:
        for ref in self.spec.orch_refs:
            if ref.get("orchestrator") in ("k8s", "kubernetes") and ref.get("nodeName"):
                return str(ref["nodeName"])
        return self.metadata.name


class Installation(K8sObject, frozen=True):
    """``installations.operator.tigera.io``: the Tigera operator's Calico install."""

    spec: dict[str, Any] = msgspec.field(default_factory=dict)
    status: dict[str, Any] = msgspec.field(default_factory=dict)


class GenericObject(K8sObject, frozen=True):
    """A custom resource kept as data (FelixConfiguration, Kube-OVN subnets, CiliumNode, ...)."""

    spec: dict[str, Any] = msgspec.field(default_factory=dict)
    status: dict[str, Any] = msgspec.field(default_factory=dict)


# --- Version -----------------------------------------------------------------------------------


class VersionBlock(_K, frozen=True):
    major: str = ""
    minor: str = ""
    git_version: str = ""


class VersionInfo(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``kubectl version -o json``."""

    client_version: VersionBlock | None = None
    server_version: VersionBlock | None = None
