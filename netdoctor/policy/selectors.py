"""Label selectors and NetworkPolicy peers/ports, evaluated for one pod or address.

Policy layer (pure, over model types). Matching is three-valued where data may be missing: a
namespaceSelector over a namespace whose labels were not collected is ``None`` (unknown) unless
it only asks for ``kubernetes.io/metadata.name``, which the API server sets on every namespace
(since 1.21) and can therefore be derived from the name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from netdoctor.model.k8s import (
    IPBlock,
    LabelSelector,
    NetworkPolicyPort,
    Pod,
)

__all__ = [
    "NAME_LABEL",
    "all3",
    "any3",
    "ip_in_block",
    "named_port_numbers",
    "port_matches",
    "selector_keys",
    "selector_matches",
]

NAME_LABEL = "kubernetes.io/metadata.name"


def selector_matches(sel: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Kubernetes' rule: every matchLabels pair and every expression must hold; {} matches all.
    An unknown operator matches nothing (the API server would have refused it)."""
    for k, v in sel.match_labels.items():
        if labels.get(k) != v:
            return False
    for req in sel.match_expressions:
        op = req.operator
        if op == "In":
            if labels.get(req.key) not in req.values:
                return False
        elif op == "NotIn":
            if req.key in labels and labels[req.key] in req.values:
                return False
        elif op == "Exists":
            if req.key not in labels:
                return False
        elif op == "DoesNotExist":
            if req.key in labels:
                return False
        else:
            return False
    return True


def selector_keys(sel: LabelSelector) -> frozenset[str]:
    return frozenset(sel.match_labels) | {r.key for r in sel.match_expressions}


def ip_in_block(ip: str, block: IPBlock) -> bool:
    """The address is in ``cidr`` and in none of its ``except`` ranges."""
    try:
        addr = ipaddress.ip_address(ip)
        if addr not in ipaddress.ip_network(block.cidr, strict=False):
            return False
        return not any(
            addr in ipaddress.ip_network(e, strict=False)
            for e in block.except_
            if ipaddress.ip_network(e, strict=False).version == addr.version
        )
    except ValueError:
        return False


def port_matches(
    ports: Iterable[NetworkPolicyPort], port: int | None, protocol: str, dst: Pod | None
) -> bool:
    """Whether a rule's ``ports`` admit (port, protocol) towards ``dst``. No ports = all
    traffic; a flow without a port (ICMP) is admitted only by a rule without ports. A named
    port resolves on the destination pod's containers (name and protocol)."""
    entries = list(ports)
    if not entries:
        return True
    if port is None:
        return False
    for e in entries:
        if (e.protocol or "TCP").upper() != protocol:
            continue
        if e.port is None:
            return True
        if isinstance(e.port, int):
            if e.port == port or (e.end_port is not None and e.port <= port <= e.end_port):
                return True
            continue
        if e.port.isdigit():  # an int-or-string written as a string
            if int(e.port) == port:
                return True
            continue
        if dst is not None and port in named_port_numbers(dst, e.port, protocol):
            return True
    return False


def named_port_numbers(pod: Pod, name: str, protocol: str) -> set[int]:
    return {
        cp.container_port
        for c in pod.spec.containers
        for cp in c.ports
        if cp.name == name and (cp.protocol or "TCP").upper() == protocol
    }


def any3(values: Iterable[bool | None]) -> bool | None:
    unknown = False
    for v in values:
        if v is True:
            return True
        if v is None:
            unknown = True
    return None if unknown else False


def all3(values: Iterable[bool | None]) -> bool | None:
    unknown = False
    for v in values:
        if v is False:
            return False
        if v is None:
            unknown = True
    return None if unknown else True
