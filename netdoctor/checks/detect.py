"""CNI detection: which network plugin(s) the cluster runs, and how each was installed.

Checks layer (a derived fact, computed once per diagnosis through ``Context.cni``). Evidence,
strongest first: the agent DaemonSets, their pods, the Tigera operator's Installation, the CNI
config files on the nodes, the agents' node annotations. Nothing here judges health.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from netdoctor.model.k8s import Container, DaemonSet, Pod, PodContainer
from netdoctor.model.snapshot import Snapshot

__all__ = [
    "AGENTS",
    "Agent",
    "AgentInstall",
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
    "calico": ("projectcalico.org/IPv4Address",),
    "flannel": ("flannel.alpha.coreos.com/public-ip",),
    "kube-ovn": ("ovn.kubernetes.io/ip_address", "ovn.kubernetes.io/port_name"),
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
        if c is None or ":" not in c.image.rsplit("/", 1)[-1]:
            return None
        tag = c.image.rsplit(":", 1)[-1].split("@", 1)[0]
        return tag or None


@dataclass(frozen=True)
class CniInfo:
    """What was detected. ``names`` in order of confidence; empty when nothing says."""

    names: tuple[str, ...] = ()
    agents: tuple[AgentInstall, ...] = ()
    calico_operator: bool = False  # installed by the Tigera operator (Installation CR)
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)  # cni -> how we know

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
    return CniInfo(
        names=names,
        agents=tuple(agents),
        calico_operator=operator,
        sources={k: tuple(v) for k, v in sources.items()},
    )


def _owned_by_name(p: Pod, ds_name: str) -> bool:
    owner = p.owner("DaemonSet")
    return owner is not None and owner.name == ds_name


# cilium-config's ``kube-proxy-replacement``: "true"/"false" since Cilium 1.14; before that
# "strict" (full), "disabled" (none), and "partial"/"probe" (some Service types only, or
# whatever the kernel allows: cannot be told from the config alone).
_KPR_ON = frozenset({"true", "strict"})
_KPR_OFF = frozenset({"false", "disabled"})


def kube_proxy_replaced(snap: Snapshot) -> bool | None:
    """Whether Cilium replaces kube-proxy: True, False, or None when the data cannot tell
    (no ConfigMaps in the snapshot, or a partial/probe mode). No ``cilium-config`` among the
    ConfigMaps: False."""
    for cm in snap.configmaps or ():
        if cm.metadata.name != "cilium-config":
            continue
        value = cm.data.get("kube-proxy-replacement")
        if value is None:
            return False
        v = value.strip().lower()
        if v in _KPR_ON:
            return True
        if v in _KPR_OFF:
            return False
        return None
    return None if snap.configmaps is None else False
