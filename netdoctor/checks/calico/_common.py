"""What the Calico checks share: the address fixes, the routing backend, the BGP captures.

Checks layer: pure functions over the Snapshot. The address fixes (set the autodetection method
to the nodes' subnets, or to the InternalIP) serve NET-301, NET-302 and NET-303 (a session to
a wrong address); the backend and the BGP status captures serve NET-303 and NET-304.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from netdoctor.checks._support.common import iface_evidence, node_holding, smallest_supernet
from netdoctor.checks._support.registry import Context
from netdoctor.model.calico import BGP_STATUS_FILES, BgpPeer
from netdoctor.model.findings import Action, Evidence, Message
from netdoctor.model.k8s import Container

__all__ = [
    "AUTODETECT_ENV",
    "STATUS_FILES",
    "CidrFix",
    "autodetect_cidrs",
    "calico_backend",
    "fix_actions",
    "peer_captures",
]

AUTODETECT_ENV = "IP_AUTODETECTION_METHOD"
_AUTODETECT_FIELDS = ("firstFound", "kubernetes", "interface", "skipInterface", "canReach", "cidrs")
STATUS_FILES = BGP_STATUS_FILES


@dataclass(frozen=True)
class CidrFix:
    cidrs: tuple[str, ...]
    from_facts: bool  # True: the subnets of the interfaces holding the InternalIPs
    evidence: tuple[Evidence, ...]


def autodetect_cidrs(ctx: Context) -> CidrFix | None:
    """Subnets holding every node's InternalIP: from node facts, else the smallest supernet."""
    snap = ctx.snapshot
    nets: list[str] = []
    ev: list[Evidence] = []
    unresolved: list[str] = []
    for node in snap.nodes or ():
        for ip in node.internal_ips[:1]:
            held = node_holding(snap, node.metadata.name, ip)
            if held is not None:
                net = str(held[1].interface.network)
                if net not in nets:
                    nets.append(net)
                    ev.append(iface_evidence(snap, node.metadata.name, *held))
            else:
                unresolved.append(ip)

    rest = [
        ip
        for ip in unresolved
        if not any(ipaddress.ip_address(ip) in ipaddress.ip_network(n) for n in nets)
    ]
    if rest:
        sup = smallest_supernet(rest)
        if sup is None:
            return None
        nets.append(str(sup))
    if not nets:
        return None
    return CidrFix(cidrs=tuple(nets), from_facts=not rest, evidence=tuple(ev))


def fix_actions(ctx: Context, cidr: CidrFix | None) -> tuple[Action, ...]:
    snap = ctx.snapshot
    agent = ctx.cni.agent("calico")
    ns = (
        agent.namespace
        if agent
        else ("calico-system" if ctx.cni.calico_operator else "kube-system")
    )
    ds = agent.name if agent else "calico-node"
    cidrs = ",".join(cidr.cidrs) if cidr else "<node subnet>"
    how = "fix.calico_cidr_from_facts" if cidr and cidr.from_facts else "fix.calico_cidr_supernet"
    params = {"cidrs": cidrs, "namespace": ns, "daemonset": ds}
    if ctx.cni.calico_operator:
        inst = (snap.installations or ())[0].metadata.name if snap.installations else "default"
        current: dict[str, object] = {}
        if snap.installations:
            spec = snap.installations[0].spec.get("calicoNetwork") or {}
            current = spec.get("nodeAddressAutodetectionV4") or {}
        # Only one autodetection method may be set: null the others in the same merge patch.
        nulls = {k: None for k in _AUTODETECT_FIELDS if k in current}

        def patch(method: dict[str, object]) -> str:
            body = {"spec": {"calicoNetwork": {"nodeAddressAutodetectionV4": {**nulls, **method}}}}
            doc = json.dumps(body, separators=(",", ":"))
            return f"kubectl patch installation.operator.tigera.io {inst} --type=merge -p '{doc}'"

        cidr_list = list(cidr.cidrs) if cidr else ["<node subnet>"]
        return (
            Action(message=Message(how, params), command=patch({"cidrs": cidr_list})),
            Action(
                message=Message("fix.calico_internal_ip_alt", params),
                command=patch({"kubernetes": "NodeInternalIP"}),
            ),
        )
    return (
        Action(
            message=Message(how, params),
            command=f"kubectl set env daemonset/{ds} -n {ns} {AUTODETECT_ENV}=cidr={cidrs}",
        ),
        Action(
            message=Message("fix.calico_internal_ip_alt", params),
            command=(
                f"kubectl set env daemonset/{ds} -n {ns} {AUTODETECT_ENV}=kubernetes-internal-ip"
            ),
        ),
    )


def calico_backend(ctx: Context) -> tuple[str | None, Evidence | None]:
    """How Calico routes between nodes: ``bird`` (BGP), ``vxlan`` or ``none``; None unknown.

    Manifest installs say it in the ``calico-config`` ConfigMap (``calico_backend``); the
    operator in ``Installation.spec.calicoNetwork.bgp`` (Enabled unless Disabled).
    """
    snap = ctx.snapshot
    agent = ctx.cni.agent("calico")
    if ctx.cni.calico_operator and snap.installations:
        inst = snap.installations[0]
        bgp = (inst.spec.get("calicoNetwork") or {}).get("bgp") or "Enabled"
        ev = Evidence(
            source=snap.source("k8s.installations"),
            object=f"Installation/{inst.metadata.name}",
            field="spec.calicoNetwork.bgp",
            value=str(bgp),
        )
        return ("bird" if bgp == "Enabled" else "none"), ev
    for ns in dict.fromkeys((agent.namespace if agent else "kube-system", "kube-system")):
        cm = snap.configmap_by_ref.get(f"{ns}/calico-config")
        if cm is not None and "calico_backend" in cm.data:
            value = cm.data["calico_backend"].strip()
            ev = Evidence(
                source=snap.source("k8s.configmaps"),
                object=f"ConfigMap/{ns}/calico-config",
                field="data.calico_backend",
                value=value,
            )
            return value, ev
    # A manifest edited to set the backend inline rather than through the ConfigMap.
    c = agent.container if agent else None
    inline = c.env_value("CALICO_NETWORKING_BACKEND") if isinstance(c, Container) else None
    if agent is not None and c is not None and inline:
        ev = Evidence(
            source=snap.source("k8s.daemonsets"),
            object=f"DaemonSet/{agent.namespace}/{agent.name}",
            field=f"spec.template.spec.containers[{c.name}].env[CALICO_NETWORKING_BACKEND]",
            value=inline,
        )
        return inline, ev
    return None, None


def peer_captures(ctx: Context, node: str) -> tuple[list[BgpPeer], str | None]:
    """The BGP sessions a node's capture lists, and the capture's bundle path."""
    facts = ctx.snapshot.node_facts.get(node)
    status = facts.bgp_status if facts is not None else None
    if status is None:
        return [], None
    return list(status.peers), f"nodes/{node}/extra/{status.file}.txt"
