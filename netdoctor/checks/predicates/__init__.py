"""The detectors the checks share with the trace: one definition of each cause's predicate.

Checks layer: pure functions over Snapshot data (and the detected CNI, passed in), no Context
needed. The check that owns a root cause calls its predicate here and adds what a finding
needs (severity, peers, fix); the trace (``netdoctor.trace.causes``) calls the same predicate
when a drop has to name its cause, so the two never disagree about what the cause is.

- ``calico_claims``: the address calico-node uses for each node, from the node annotation
  ``projectcalico.org/IPv4Address``, the Calico Node resource (``spec.bgp.ipv4Address``) or
  calico-node's log line (NET-301, NET-302; ``checks/calico/address.py``);
- ``flannel_claims``: the public IP flanneld uses for each node, from ``public-ip`` (or
  ``public-ip-overwrite``), with the interface from its log line or the node's facts
  (NET-401, NET-402; ``checks/flannel.py``);
- ``off_internal``: a claim that is not its node's InternalIP (the start of NET-301 / NET-402;
  the checks then ask whether the peers can still reach it, the trace has seen the drop).

A package, not a module, and never a family: ``load_checks()`` finds check modules by walking
``netdoctor.checks``, and the trace must import this without loading any check family (a
``netdoctor trace`` call must start fast).
"""

from __future__ import annotations

import re

from netdoctor.checks._support.common import (
    AddressClaim,
    annotation_evidence,
    iface_evidence,
    ip_only,
    last_log_match,
    node_holding,
)
from netdoctor.checks._support.detect import CniInfo
from netdoctor.model.cni import CALICO_ADDRESS, FLANNEL_PUBLIC_IP, FLANNEL_PUBLIC_IP_OVERWRITE
from netdoctor.model.findings import Evidence
from netdoctor.model.snapshot import Snapshot

__all__ = ["AddressClaim", "calico_claims", "flannel_claims", "off_internal"]

_CALICO_AUTODETECT_LOG = re.compile(
    r"Using autodetected IPv4 address on interface (\S+): (\S+?)(?:,|\s|$)"
)
_FLANNEL_IFACE_LOG = re.compile(r"Using interface with name (\S+) and address (\S+)")


def calico_claims(snap: Snapshot, cni: CniInfo) -> dict[str, AddressClaim]:
    """The IPv4 address Calico uses for each node, with every source that says so.

    NET-301's detector: a node whose claim is not its InternalIP is the finding's subject.
    NET-302 groups the claims by address, NET-303 maps BGP peers to nodes with them.
    """
    agent = cni.agent("calico")
    pods_by_node = {p.spec.node_name: p for p in agent.pods} if agent else {}
    container = agent.agent.container if agent else "calico-node"
    claims: dict[str, AddressClaim] = {}
    for node in snap.nodes or ():
        name = node.metadata.name
        address: str | None = None
        iface: str | None = None
        ev: list[Evidence] = []
        ann = node.metadata.annotations.get(CALICO_ADDRESS)
        if ann:
            address = ann
            ev.append(annotation_evidence(snap, node, CALICO_ADDRESS))
        cnode = snap.calico_node_by_node.get(name)
        if cnode is not None and cnode.spec.bgp and cnode.spec.bgp.ipv4_address:
            address = address or cnode.spec.bgp.ipv4_address
            ev.append(
                Evidence(
                    source=snap.source("k8s.calico_nodes"),
                    object=f"Node.crd.projectcalico.org/{cnode.metadata.name}",
                    field="spec.bgp.ipv4Address",
                    value=cnode.spec.bgp.ipv4_address,
                    node=name,
                )
            )
        found = last_log_match(snap, pods_by_node.get(name), container, _CALICO_AUTODETECT_LOG)
        if found is not None:
            m, log_ev = found
            iface = m.group(1)
            address = address or m.group(2)
            ev.append(log_ev)
        if address:
            claims[name] = AddressClaim(node=name, address=address, evidence=tuple(ev), iface=iface)
    return claims


def flannel_claims(snap: Snapshot, cni: CniInfo) -> dict[str, AddressClaim]:
    """The public IP flanneld uses for each node (``public-ip-overwrite`` wins), and the
    interface that holds it (from flanneld's log line, else the node's own addresses)."""
    agent = cni.agent("flannel")
    pods_by_node = {p.spec.node_name: p for p in agent.pods} if agent else {}
    container = agent.agent.container if agent else "kube-flannel"
    claims: dict[str, AddressClaim] = {}
    for node in snap.nodes or ():
        name = node.metadata.name
        key = (
            FLANNEL_PUBLIC_IP_OVERWRITE
            if FLANNEL_PUBLIC_IP_OVERWRITE in node.metadata.annotations
            else FLANNEL_PUBLIC_IP
        )
        address = node.metadata.annotations.get(key)
        if not address:
            continue
        ev = [annotation_evidence(snap, node, key)]
        iface = None
        found = last_log_match(snap, pods_by_node.get(name), container, _FLANNEL_IFACE_LOG)
        if found is not None:
            m, log_ev = found
            iface = m.group(1)
            ev.append(log_ev)
        held = node_holding(snap, name, address)
        if held is not None:
            iface = held[0].ifname
            ev.append(iface_evidence(snap, name, *held))
        claims[name] = AddressClaim(node=name, address=address, evidence=tuple(ev), iface=iface)
    return claims


def off_internal(snap: Snapshot, claim: AddressClaim) -> bool:
    """The claimed address is not its node's InternalIP (a node without one: cannot tell)."""
    node = snap.node_by_name.get(claim.node)
    internal = node.internal_ips if node is not None else []
    return bool(internal) and ip_only(claim.address) not in internal
