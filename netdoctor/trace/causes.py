"""Where the trace names a root cause: the id a drop (or an unknown) hop points at.

Part of the trace (``netdoctor.trace``). A stage that drops a packet knows what failed (no
route, the outer packet sent to the node itself, a chain's DROP); which root cause that is
depends on more than the hop (the CNI agent's address, the rule's chain), and is decided here:
the CNI address mismatch, the missing pod route, the outer (underlay) cause, the duplicate
address, the firewall chain's cause.
"""

from __future__ import annotations

from netdoctor.model.cni import CALICO_ADDRESS, FLANNEL_PUBLIC_IP
from netdoctor.model.k8s import Node
from netdoctor.model.nodefacts import IptRule
from netdoctor.model.snapshot import Snapshot
from netdoctor.netfilter.felix import ipv4
from netdoctor.trace.walk import Index, Pkt

__all__ = [
    "chain_cause",
    "cni_address_mismatch",
    "duplicate_cause",
    "outer_cause",
    "pod_route_cause",
]

_POLICY_CHAINS = ("cali-tw-", "cali-fw-", "cali-pi-", "cali-po-", "KUBE-POD-FW-", "KUBE-NWPLCY-")


def cni_address_mismatch(node: Node) -> str | None:
    ann = node.metadata.annotations
    internal = set(node.internal_ips)
    calico = ann.get(CALICO_ADDRESS)
    if calico and ipv4(calico) is not None and str(ipv4(calico)) not in internal:
        return "calico-node-address-mismatch"
    flannel = ann.get(FLANNEL_PUBLIC_IP)
    if flannel and flannel not in internal:
        return "flannel-public-ip-mismatch"
    return None


def pod_route_cause(snap: Snapshot, node: str, pkt: Pkt) -> str | None:
    """Why a node has no usable route to a pod: an agent on the wrong address, else the
    route is missing."""
    target = pkt.inner.dst if pkt.inner else pkt.dst
    pods = snap.pods_by_ip.get(target)
    if not pods:
        return None
    owner = pods[0].spec.node_name
    for name in (owner, node):
        n = snap.node_by_name.get(name)
        cause = cni_address_mismatch(n) if n else None
        if cause:
            return cause
    return "node-missing-pod-route"


def outer_cause(snap: Snapshot, idx: Index, pkt: Pkt) -> str | None:
    """An outer packet the underlay cannot carry: sent to a node address that is not the
    node's InternalIP (the agent picked the wrong one), else a route is missing."""
    for n, _, _ in idx.holders.get(pkt.dst, ()):
        node = snap.node_by_name.get(n)
        if node is not None and pkt.dst not in node.internal_ips:
            return cni_address_mismatch(node) or "node-missing-pod-route"
    return None


def duplicate_cause(snap: Snapshot, pkt: Pkt) -> str:
    """An outer packet addressed to the sending node itself: two nodes claim one address."""
    flannel = [
        n for n in snap.nodes or () if n.metadata.annotations.get(FLANNEL_PUBLIC_IP) == pkt.dst
    ]
    return "flannel-public-ip-duplicate" if flannel else "calico-duplicate-node-address"


def chain_cause(chain: str, rule: IptRule | None, pkt: Pkt) -> str:
    """A filter chain's drop: a NetworkPolicy's chain, else the overlay port (an outer packet
    into the node), else the node's FORWARD policy."""
    if rule is not None and (
        rule.chain.startswith(_POLICY_CHAINS)
        or "policy" in (rule.comment or "").lower()
        or "drop traffic from" in (rule.comment or "")
    ):
        return "networkpolicy-denies"
    if chain == "INPUT" and pkt.inner is not None:
        return "overlay-port-blocked"
    if chain == "FORWARD":
        return "node-forward-policy-drop"
    return "overlay-port-blocked" if pkt.inner is not None else "node-forward-policy-drop"
