"""What the Kube-OVN checks share: the agents, the ``ovs-vsctl show`` facts, address owners.

Checks layer: pure functions over the Snapshot.
"""

from __future__ import annotations

from netdoctor.checks._support.common import ip_only, node_holding
from netdoctor.checks._support.detect import AgentInstall
from netdoctor.checks._support.registry import Context
from netdoctor.model.k8s import Pod
from netdoctor.model.ovn import OvsShow
from netdoctor.model.snapshot import Snapshot

__all__ = ["agent_pod", "ovn_agent", "ovs_shows", "ovs_source", "owner_of"]


def ovs_source(snap: Snapshot, node: str) -> str:
    return snap.provenance.get(f"node:{node}:ovs_show", f"nodes/{node}/extra/ovs-vsctl-show.txt")


def ovn_agent(ctx: Context, name: str) -> AgentInstall | None:
    for a in ctx.cni.agents:
        if a.agent.cni == "kube-ovn" and a.name == name:
            return a
    return None


def agent_pod(agent: AgentInstall | None, node: str) -> Pod | None:
    if agent is None:
        return None
    return agent.pod_on(node)


def ovs_shows(snap: Snapshot) -> dict[str, OvsShow]:
    return {n: f.ovs_show for n, f in snap.node_facts.items() if f.ovs_show is not None}


def owner_of(snap: Snapshot, ip: str) -> str | None:
    """The node an address belongs to: its InternalIP, else the node whose interface holds it."""
    for n in snap.node_by_address.get(ip_only(ip), []):
        return n.metadata.name
    for name in snap.node_by_name:
        if node_holding(snap, name, ip) is not None:
            return name
    return None
