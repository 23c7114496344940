"""CNI detection: which network plugin(s) the cluster runs, and how each was installed.

Checks layer (a derived fact, computed once per diagnosis through ``Context.cni``). Evidence,
strongest first: the agent DaemonSets, their pods, the Tigera operator's Installation, the CNI
config files on the nodes, the agents' node annotations. Nothing here judges health.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from netdoctor.model.cni import (
    CALICO_ADDRESS,
    FLANNEL_PUBLIC_IP,
    KUBEOVN_IP_ADDRESS,
    KUBEOVN_PORT_NAME,
)
from netdoctor.model.k8s import Container, DaemonSet, Pod, PodContainer
from netdoctor.model.snapshot import Snapshot

__all__ = [
    "AGENTS",
    "Agent",
    "AgentInstall",
    "CiliumConfig",
    "CniInfo",
    "detect_cni",
    "kube_proxy_replaced",
]


@dataclass(frozen=True)
class Agent:
    """A CNI's per-node agent as the CNI's own manifests name it."""

    cni: str
    daemonsets: tuple[str, ...]  # DaemonSet names used by manifest and operator installs
    container: str  # the main container
    pod_prefixes: tuple[str, ...]
    image_hint: str  # substring of the image name


AGENTS: tuple[Agent, ...] = (
    Agent("calico", ("calico-node",), "calico-node", ("calico-node-",), "calico/node"),
    Agent(
        "flannel",
        ("kube-flannel-ds", "kube-flannel", "kube-flannel-ds-amd64"),
        "kube-flannel",
        ("kube-flannel-ds-", "kube-flannel-"),
        "flannel",
    ),
    Agent("kube-ovn", ("kube-ovn-cni",), "cni-server", ("kube-ovn-cni-",), "kube-ovn"),
    Agent("kube-ovn", ("ovs-ovn",), "openvswitch", ("ovs-ovn-",), "kube-ovn"),
    Agent("cilium", ("cilium",), "cilium-agent", ("cilium-",), "cilium"),
)

_CNI_FILE_HINTS = {
    "calico": ("calico",),
    "flannel": ("flannel",),
    "kube-ovn": ("kube-ovn",),
    "cilium": ("cilium",),
}

_ANNOTATION_HINTS = {
    "calico": (CALICO_ADDRESS,),
    "flannel": (FLANNEL_PUBLIC_IP,),
    "kube-ovn": (KUBEOVN_IP_ADDRESS, KUBEOVN_PORT_NAME),
    "cilium": ("network.cilium.io/ipv4-cilium-host", "io.cilium.network.ipv4-cilium-host"),
}


@dataclass(frozen=True)
class AgentInstall:
    """One agent DaemonSet found in the cluster (or inferred from its pods)."""

    agent: Agent
    namespace: str
    name: str  # DaemonSet name
    daemonset: DaemonSet | None
    pods: tuple[Pod, ...]

    def pod_on(self, node: str) -> Pod | None:
        """The agent's pod on ``node``, if it has one."""
        return next((p for p in self.pods if p.spec.node_name == node), None)

    @property
    def container(self) -> Container | PodContainer | None:
        """The agent's main container: from the DaemonSet template (env included), else from
        one of its pods (no env) when the DaemonSet is not in the snapshot."""
        if self.daemonset is not None:
            c = self.daemonset.container(self.agent.container)
            if c is not None:
                return c
            cs = self.daemonset.spec.template.spec.containers
            return cs[0] if cs else None
        for p in self.pods:
            for pc in p.spec.containers:
                if pc.name == self.agent.container:
                    return pc
        return None

    @property
    def version(self) -> str | None:
        c = self.container
        image = c.image.split("@", 1)[0] if c is not None else ""  # drop a @sha256:... digest
        if ":" not in image.rsplit("/", 1)[-1]:
            return None
        return image.rsplit(":", 1)[-1] or None


CILIUM_CONFIGMAP = "cilium-config"
_TUNNEL_PORTS = {"vxlan": 8472, "geneve": 6081}  # Cilium's defaults when tunnel-port is unset


@dataclass(frozen=True)
class CiliumConfig:
    """The ``cilium-config`` ConfigMap, read the way cilium-agent reads it.

    Keys by release: ``routing-mode`` (native|tunnel) and ``tunnel-protocol`` (vxlan|geneve)
    since 1.14, before that one ``tunnel`` key (vxlan|geneve|disabled); ``tunnel-port``
    (default 8472 for VXLAN, 6081 for Geneve); ``kube-proxy-replacement`` (true|false since
    1.14; strict|partial|probe|disabled before).
    """

    namespace: str
    data: dict[str, str]

    @property
    def routing_mode(self) -> str:
        mode = self.data.get("routing-mode")
        if mode:
            return mode
        return "native" if self.data.get("tunnel") == "disabled" else "tunnel"

    @property
    def tunnel_protocol(self) -> str | None:
        if self.routing_mode != "tunnel":
            return None
        proto = self.data.get("tunnel-protocol") or self.data.get("tunnel") or "vxlan"
        return proto if proto in _TUNNEL_PORTS else None

    @property
    def tunnel_port(self) -> int | None:
        proto = self.tunnel_protocol
        if proto is None:
            return None
        raw = self.data.get("tunnel-port", "").strip()
        if raw.isdigit() and int(raw) > 0:
            return int(raw)
        return _TUNNEL_PORTS[proto]

    @property
    def tunnel_port_set(self) -> bool:
        raw = self.data.get("tunnel-port", "").strip()
        return raw.isdigit() and int(raw) > 0


def _kube_proxy_replaced(cilium: CiliumConfig | None, version: str | None) -> bool | None:
    if cilium is None:
        return None
    value = cilium.data.get("kube-proxy-replacement", "").strip().lower()
    if value in ("true", "strict"):
        return True
    if value in ("false", "disabled", "partial"):
        return False
    if not value and version is not None:
        m = re.match(r"v?(\d+)\.(\d+)", version)
        if m and (int(m.group(1)), int(m.group(2))) >= (1, 14):
            return False  # unset means false since 1.14
    return None  # "probe", or unset on an older or unknown release: decided at runtime


@dataclass(frozen=True)
class CniInfo:
    """What was detected. ``names`` in order of confidence; empty when nothing says."""

    names: tuple[str, ...] = ()
    agents: tuple[AgentInstall, ...] = ()
    calico_operator: bool = False  # installed by the Tigera operator (Installation CR)
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)  # cni -> how we know
    cilium: CiliumConfig | None = None  # cilium-config, when Cilium is detected and it is there
    # Whether something other than kube-proxy serves Services on every node: True when Cilium's
    # kube-proxy-replacement is on (true/strict); False when no Cilium is detected or it is
    # off (false/disabled/partial: kube-proxy is still needed); None when Cilium is there
    # but the bundle cannot tell (no cilium-config, "probe", unset on a release before 1.14).
    kube_proxy_replaced: bool | None = False

    @property
    def primary(self) -> str | None:
        return self.names[0] if self.names else None

    def has(self, cni: str) -> bool:
        return cni in self.names

    def agent(self, cni: str) -> AgentInstall | None:
        for a in self.agents:
            if a.agent.cni == cni:
                return a
        return None


def _agent_for_daemonset(ds: DaemonSet) -> Agent | None:
    for agent in AGENTS:
        if ds.metadata.name in agent.daemonsets:
            return agent
    for agent in AGENTS:
        if any(agent.image_hint in c.image for c in ds.spec.template.spec.containers) and any(
            c.name == agent.container for c in ds.spec.template.spec.containers
        ):
            return agent
    return None


_POD_HASH = re.compile(r"-[a-z0-9]{5}$")


def detect_cni(snap: Snapshot) -> CniInfo:
    sources: dict[str, list[str]] = {}
    agents: list[AgentInstall] = []

    def saw(cni: str, how: str) -> None:
        sources.setdefault(cni, [])
        if how not in sources[cni]:
            sources[cni].append(how)

    seen_ds: set[tuple[str, str]] = set()
    for ds in snap.daemonsets or ():
        agent = _agent_for_daemonset(ds)
        if agent is None:
            continue
        pods = tuple(snap.pods_by_owner_uid.get(ds.metadata.uid, ())) if ds.metadata.uid else ()
        if not pods:
            pods = tuple(
                p
                for p in snap.pods_by_namespace.get(ds.metadata.namespace, ())
                if _owned_by_name(p, ds.metadata.name)
            )
        agents.append(AgentInstall(agent, ds.metadata.namespace, ds.metadata.name, ds, pods))
        seen_ds.add((ds.metadata.namespace, ds.metadata.name))
        saw(agent.cni, f"DaemonSet/{ds.metadata.namespace}/{ds.metadata.name}")

    # Pods without their DaemonSet in the snapshot (daemonsets.json missing, or a dump).
    by_ds: dict[tuple[Agent, str, str], list[Pod]] = {}
    for p in snap.pods or ():
        owner = p.owner("DaemonSet")
        name = owner.name if owner else _POD_HASH.sub("", p.metadata.name)
        for agent in AGENTS:
            if name in agent.daemonsets and (p.metadata.namespace, name) not in seen_ds:
                by_ds.setdefault((agent, p.metadata.namespace, name), []).append(p)
                break
    for (agent, ns, name), pods_ in by_ds.items():
        agents.append(AgentInstall(agent, ns, name, None, tuple(pods_)))
        saw(agent.cni, f"Pod/{ns}/{pods_[0].metadata.name}")

    operator = bool(snap.installations)
    if operator:
        saw("calico", "Installation/default")

    for node, facts in snap.node_facts.items():
        for fname in sorted(facts.cni_files or {}):
            for cni, hints in _CNI_FILE_HINTS.items():
                if any(h in fname for h in hints):
                    saw(cni, f"nodes/{node}/cni/{fname}")

    for n in snap.nodes or ():
        for cni, keys in _ANNOTATION_HINTS.items():
            if any(k in n.metadata.annotations for k in keys):
                saw(cni, f"Node/{n.metadata.name} annotations")

    # Order: an agent DaemonSet or pod is the strongest sign, then how many sources agree.
    def strength(cni: str) -> tuple[int, int]:
        has_agent = any(a.agent.cni == cni for a in agents)
        return (0 if has_agent else 1, -len(sources[cni]))

    names = tuple(sorted(sources, key=lambda c: (*strength(c), c)))
    cilium: CiliumConfig | None = None
    replaced: bool | None = False
    if "cilium" in names:
        cil = next((a for a in agents if a.agent.cni == "cilium"), None)
        for ns in dict.fromkeys([cil.namespace if cil else "kube-system", "kube-system"]):
            cm = snap.configmap_by_ref.get(f"{ns}/{CILIUM_CONFIGMAP}")
            if cm is not None:
                cilium = CiliumConfig(namespace=ns, data=dict(cm.data))
                break
        replaced = _kube_proxy_replaced(cilium, cil.version if cil else None)
    return CniInfo(
        names=names,
        agents=tuple(agents),
        calico_operator=operator,
        sources={k: tuple(v) for k, v in sources.items()},
        cilium=cilium,
        kube_proxy_replaced=replaced,
    )


def _owned_by_name(p: Pod, ds_name: str) -> bool:
    owner = p.owner("DaemonSet")
    return owner is not None and owner.name == ds_name


def kube_proxy_replaced(snap: Snapshot) -> bool | None:
    """Whether Cilium replaces kube-proxy (``CniInfo.kube_proxy_replaced``): True, False (no
    Cilium, or Cilium with kube-proxy still needed), None when the data cannot tell."""
    return detect_cni(snap).kube_proxy_replaced
