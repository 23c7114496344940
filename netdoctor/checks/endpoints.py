"""Resolve the question's endpoints (``--from``/``--to``) against the Snapshot's indexes.

Checks layer: the engine resolves the question once and checks see the result on their
Context as ``ctx.source`` / ``ctx.target``. A pod (``NS/POD``), a node (``node/NAME``), a
Service (``svc/NS/NAME``), or an address: an IP resolves to the pod, Service or node holding
it, else stays an external IP.
A name that does not exist where the data says it should is a usage error, said in one line.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from netdoctor.errors import UsageError
from netdoctor.model.k8s import Node, Pod, Service
from netdoctor.model.snapshot import Snapshot

__all__ = ["Endpoint", "parse_port", "resolve_endpoint"]


@dataclass(frozen=True)
class Endpoint:
    raw: str
    kind: str  # "pod" | "service" | "node" | "ip" | "dns" | "unresolved"
    pod: Pod | None = None
    service: Service | None = None
    node: Node | None = None
    ip: str | None = None

    @property
    def node_name(self) -> str | None:
        if self.pod is not None:
            return self.pod.spec.node_name or None
        if self.node is not None:
            return self.node.metadata.name
        return None

    @property
    def label(self) -> str:
        return self.raw


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
        raise UsageError(
            f"--port {text!r}: protocol must be tcp, udp or sctp",
            key="error.port",
            params={"value": str(text)},
        )
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise UsageError(
            f"--port {text!r}: expected a port number 1-65535, e.g. 22/tcp",
            key="error.port",
            params={"value": str(text)},
        )
    return int(port_s), proto


def resolve_endpoint(snap: Snapshot, text: str, flag: str) -> Endpoint:
    raw = text.strip()
    if not raw:
        raise UsageError(f"{flag}: empty value", key="error.empty", params={"flag": flag})
    kind, _, rest = raw.partition("/")
    if kind in ("node", "nodes", "no") and rest:
        return _node(snap, raw, rest, flag)
    if kind in ("svc", "service", "services") and rest:
        return _service(snap, raw, rest, flag)
    if kind in ("pod", "pods", "po") and rest.count("/") == 1:
        return _pod(snap, raw, rest, flag)
    try:
        ip = str(ipaddress.ip_address(raw))
    except ValueError:
        ip = None
    if ip is not None:
        return _ip(snap, raw, ip)
    if raw.count("/") == 1:
        return _pod(snap, raw, raw, flag)
    if "/" in raw or " " in raw:
        raise UsageError(
            f"{flag} {raw!r}: expected NS/POD, svc/NS/NAME, node/NAME, an IP or a DNS name",
            key="error.endpoint",
            params={"flag": flag, "value": raw},
        )
    return Endpoint(raw=raw, kind="dns")


def _pod(snap: Snapshot, raw: str, ref: str, flag: str) -> Endpoint:
    if snap.pods is None:
        return Endpoint(raw=raw, kind="unresolved")
    pod = snap.pod_by_ref.get(ref)
    if pod is None:
        raise UsageError(
            f"{flag} {raw!r}: no such pod in {snap.source('k8s.pods')}",
            key="error.no_such",
            params={"flag": flag, "value": raw, "kind": "Pod", "file": snap.source("k8s.pods")},
        )
    node = snap.node_by_name.get(pod.spec.node_name)
    return Endpoint(raw=raw, kind="pod", pod=pod, node=node, ip=pod.ips[0] if pod.ips else None)


def _node(snap: Snapshot, raw: str, name: str, flag: str) -> Endpoint:
    if snap.nodes is None:
        return Endpoint(raw=raw, kind="unresolved")
    node = snap.node_by_name.get(name)
    if node is None:
        raise UsageError(
            f"{flag} {raw!r}: no such node in {snap.source('k8s.nodes')}",
            key="error.no_such",
            params={"flag": flag, "value": raw, "kind": "Node", "file": snap.source("k8s.nodes")},
        )
    ips = node.internal_ips
    return Endpoint(raw=raw, kind="node", node=node, ip=ips[0] if ips else None)


def _service(snap: Snapshot, raw: str, ref: str, flag: str) -> Endpoint:
    if snap.services is None:
        return Endpoint(raw=raw, kind="unresolved")
    if ref.count("/") != 1:
        raise UsageError(
            f"{flag} {raw!r}: expected svc/NAMESPACE/NAME",
            key="error.endpoint",
            params={"flag": flag, "value": raw},
        )
    svc = snap.service_by_ref.get(ref)
    if svc is None:
        file = snap.source("k8s.services")
        raise UsageError(
            f"{flag} {raw!r}: no such Service in {file}",
            key="error.no_such",
            params={"flag": flag, "value": raw, "kind": "Service", "file": file},
        )
    return Endpoint(raw=raw, kind="service", service=svc, ip=svc.spec.cluster_ip)


def _ip(snap: Snapshot, raw: str, ip: str) -> Endpoint:
    pods = snap.pods_by_ip.get(ip)
    if pods:
        pod = pods[0]
        node = snap.node_by_name.get(pod.spec.node_name)
        return Endpoint(raw=raw, kind="pod", pod=pod, node=node, ip=ip)
    for svc in snap.services or ():
        if ip in (svc.spec.cluster_ip, *svc.spec.cluster_ips):
            return Endpoint(raw=raw, kind="service", service=svc, ip=ip)
    nodes = snap.node_by_address.get(ip)
    if nodes:
        return Endpoint(raw=raw, kind="node", node=nodes[0], ip=ip)
    return Endpoint(raw=raw, kind="ip", ip=ip)
