"""One flow through the NetworkPolicies: allowed or denied, by which policy and rule, and the
smallest policy that would allow it.

Policy layer (pure, over the Snapshot's objects). ``networking.k8s.io/v1`` semantics: a pod is
isolated for a direction only when a policy in its namespace selects it with that policy type
(``policyTypes`` defaulting: Ingress always, Egress only when egress rules are present); then a
flow must match one of those policies' rules. Both the source's egress and the destination's
ingress must allow. hostNetwork pods are not subject to policy. A pod talking to itself goes
over loopback and is always allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from netdoctor.model.findings import Message
from netdoctor.model.k8s import (
    LabelSelector,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    Pod,
)
from netdoctor.model.snapshot import Snapshot
from netdoctor.policy.selectors import (
    NAME_LABEL,
    all3,
    any3,
    ip_in_block,
    port_matches,
    selector_keys,
    selector_matches,
)

__all__ = [
    "NOISY_LABELS",
    "Direction",
    "FlowVerdict",
    "RuleRef",
    "SideResult",
    "evaluate_flow",
    "namespace_labels",
    "policies_selecting",
    "selector_dict",
]

Direction = Literal["ingress", "egress"]

# Labels a controller stamps on each pod; a suggested selector leaves them out so that it keeps
# matching the workload's next pods.
NOISY_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "pod-template-generation",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "batch.kubernetes.io/controller-uid",
        "controller-uid",
    }
)


@dataclass(frozen=True)
class RuleRef:
    """One rule of one policy: ``ns/name ingress[0]``."""

    policy: NetworkPolicy
    direction: Direction
    index: int

    @property
    def label(self) -> str:
        return f"{self.policy.ref} {self.direction}[{self.index}]"

    @property
    def field(self) -> str:
        return f"spec.{self.direction}[{self.index}]"


@dataclass(frozen=True)
class SideResult:
    """One side of the flow: the source's egress or the destination's ingress."""

    direction: Direction
    subject: str  # "ns/pod" or the address
    subject_to_policy: bool  # a pod on the pod network (not hostNetwork, not an address)
    selecting: tuple[NetworkPolicy, ...]  # policies selecting the subject for this direction
    allowed_by: tuple[RuleRef, ...]
    unknown: tuple[RuleRef, ...]  # rules that might match, but data to decide is missing
    allowed: bool | None

    @property
    def isolated(self) -> bool:
        return bool(self.selecting)


@dataclass(frozen=True)
class FlowVerdict:
    src: Pod | str
    dst: Pod | str
    port: int | None
    protocol: str
    egress: SideResult
    ingress: SideResult
    allowed: bool | None
    reasons: tuple[Message, ...] = ()

    @property
    def denied_by(self) -> tuple[SideResult, ...]:
        return tuple(s for s in (self.egress, self.ingress) if s.allowed is False)

    def suggest_rule(self) -> dict[str, Any] | None:
        """The smallest NetworkPolicy (one per denying side; a ``List`` of two when both deny)
        that would allow this flow, as a dict ready to be rendered as YAML. None if allowed."""
        items = [_suggest(self, side) for side in self.denied_by]
        if not items:
            return None
        if len(items) == 1:
            return items[0]
        return {"apiVersion": "v1", "kind": "List", "items": items}


def namespace_labels(snap: Snapshot, ns: str) -> dict[str, str] | None:
    """A namespace's labels, or None when namespaces were not collected (then only
    ``kubernetes.io/metadata.name`` is known, derived from the name)."""
    if snap.namespaces is None:
        return None
    obj = snap.namespace_by_name.get(ns)
    labels = dict(obj.metadata.labels) if obj is not None else {}
    labels.setdefault(NAME_LABEL, ns)
    return labels


def _ns_selector_matches(snap: Snapshot, sel: LabelSelector, ns: str) -> bool | None:
    labels = namespace_labels(snap, ns)
    if labels is not None:
        return selector_matches(sel, labels)
    if selector_keys(sel) <= {NAME_LABEL}:
        return selector_matches(sel, {NAME_LABEL: ns})
    return None


def policies_selecting(snap: Snapshot, pod: Pod, direction: Direction) -> list[NetworkPolicy]:
    """The policies in the pod's namespace whose podSelector selects it for this direction."""
    if pod.spec.host_network:
        return []
    out = []
    for np in snap.policies_by_namespace.get(pod.metadata.namespace, ()):
        ing, eg = np.spec.types
        if not (ing if direction == "ingress" else eg):
            continue
        if selector_matches(np.spec.pod_selector, pod.metadata.labels):
            out.append(np)
    return out


def _peer_matches(
    snap: Snapshot, policy_ns: str, peer: NetworkPolicyPeer, other: Pod | str
) -> bool | None:
    if peer.ip_block is not None:
        ips = [other] if isinstance(other, str) else other.ips
        return any(ip_in_block(ip, peer.ip_block) for ip in ips)
    if isinstance(other, str) or other.spec.host_network:
        return False  # selectors pick pods on the pod network, never addresses or host pods
    if peer.namespace_selector is None:
        ns_ok: bool | None = other.metadata.namespace == policy_ns
    else:
        ns_ok = _ns_selector_matches(snap, peer.namespace_selector, other.metadata.namespace)
    pod_ok = (
        True
        if peer.pod_selector is None
        else selector_matches(peer.pod_selector, other.metadata.labels)
    )
    return all3((ns_ok, pod_ok))


def _rules(
    np: NetworkPolicy, direction: Direction
) -> Iterator[tuple[int, list[NetworkPolicyPeer], list[NetworkPolicyPort]]]:
    if direction == "ingress":
        for i, r in enumerate(np.spec.ingress or ()):
            yield i, r.from_, r.ports
    else:
        for j, er in enumerate(np.spec.egress or ()):
            yield j, er.to, er.ports


def _side(
    snap: Snapshot,
    direction: Direction,
    subject: Pod | str,
    other: Pod | str,
    port: int | None,
    protocol: str,
) -> SideResult:
    name = subject if isinstance(subject, str) else subject.ref
    if isinstance(subject, str) or subject.spec.host_network:
        return SideResult(direction, name, False, (), (), (), True)
    selecting = policies_selecting(snap, subject, direction)
    if not selecting:
        return SideResult(direction, name, True, (), (), (), True)
    dst = subject if direction == "ingress" else other
    dst_pod = dst if isinstance(dst, Pod) else None
    allowed_by: list[RuleRef] = []
    unknown: list[RuleRef] = []
    for np in selecting:
        for i, peers, ports in _rules(np, direction):
            if not port_matches(ports, port, protocol, dst_pod):
                continue
            hit = (
                True
                if not peers
                else any3(_peer_matches(snap, np.metadata.namespace, p, other) for p in peers)
            )
            if hit is True:
                allowed_by.append(RuleRef(np, direction, i))
            elif hit is None:
                unknown.append(RuleRef(np, direction, i))
    allowed: bool | None = True if allowed_by else (None if unknown else False)
    return SideResult(
        direction, name, True, tuple(selecting), tuple(allowed_by), tuple(unknown), allowed
    )


def evaluate_flow(
    snap: Snapshot, src: Pod | str, dst: Pod | str, port: int | None, protocol: str
) -> FlowVerdict:
    """Whether NetworkPolicies allow ``src`` to open a flow to ``dst`` on ``port``/``protocol``
    (``port`` None: a packet without a port, such as ICMP: only rules without ports admit it).
    ``src``/``dst`` are pods or IP address strings."""
    protocol = protocol.upper()
    if isinstance(src, Pod) and isinstance(dst, Pod) and src.ref == dst.ref:
        free_e = SideResult("egress", src.ref, False, (), (), (), True)
        free_i = SideResult("ingress", dst.ref, False, (), (), (), True)
        return FlowVerdict(
            src, dst, port, protocol, free_e, free_i, True, (Message("policy.loopback", {}),)
        )
    egress = _side(snap, "egress", src, dst, port, protocol)
    ingress = _side(snap, "ingress", dst, src, port, protocol)
    allowed = all3((egress.allowed, ingress.allowed))
    reasons: list[Message] = []
    if any(s.allowed is None for s in (egress, ingress)):
        reasons.append(
            Message("policy.unknown_namespaces", {"path": snap.source("k8s.namespaces")})
        )
    return FlowVerdict(src, dst, port, protocol, egress, ingress, allowed, tuple(reasons))


def _selector_of(pod: Pod) -> dict[str, Any]:
    labels = {k: v for k, v in sorted(pod.metadata.labels.items()) if k not in NOISY_LABELS}
    return {"matchLabels": labels} if labels else {}


def _host_block(ip: str) -> dict[str, Any]:
    return {"ipBlock": {"cidr": f"{ip}/{128 if ':' in ip else 32}"}}


def _peer_for(other: Pod | str, policy_ns: str) -> dict[str, Any]:
    if isinstance(other, str):
        return _host_block(other)
    if other.spec.host_network and other.ips:
        # Selectors never match a hostNetwork pod; its traffic carries the node's address.
        return _host_block(other.ips[0])
    peer: dict[str, Any] = {"podSelector": _selector_of(other)}
    if other.metadata.namespace != policy_ns:
        peer["namespaceSelector"] = {"matchLabels": {NAME_LABEL: other.metadata.namespace}}
    return peer


def _slug(x: Pod | str) -> str:
    raw = x.metadata.name if isinstance(x, Pod) else x
    return "".join(c if c.isalnum() else "-" for c in raw.lower()).strip("-")[:40]


def _suggest(flow: FlowVerdict, side: SideResult) -> dict[str, Any]:
    subject = flow.dst if side.direction == "ingress" else flow.src
    other = flow.src if side.direction == "ingress" else flow.dst
    assert isinstance(subject, Pod)  # only a pod's side can deny
    ns = subject.metadata.namespace
    # Select the pod by its own labels (the controller's per-pod ones left out): the rule
    # opens this one flow for this workload, nothing wider.
    selector = _selector_of(subject)
    rule: dict[str, Any] = {}
    rule["from" if side.direction == "ingress" else "to"] = [_peer_for(other, ns)]
    if flow.port is not None:
        rule["ports"] = [{"protocol": flow.protocol, "port": flow.port}]
    arrow = f"from-{_slug(other)}" if side.direction == "ingress" else f"to-{_slug(other)}"
    name = f"allow-{_slug(subject)}-{arrow}"
    if flow.port is not None:
        name += f"-{flow.protocol.lower()}-{flow.port}"
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name[:63].rstrip("-"), "namespace": ns},
        "spec": {
            "podSelector": selector,
            "policyTypes": ["Ingress" if side.direction == "ingress" else "Egress"],
            side.direction: [rule],
        },
    }


def selector_dict(sel: LabelSelector) -> dict[str, Any]:
    """A selector as it is written in YAML (empty parts left out)."""
    out: dict[str, Any] = {}
    if sel.match_labels:
        out["matchLabels"] = dict(sel.match_labels)
    if sel.match_expressions:
        out["matchExpressions"] = [
            {"key": r.key, "operator": r.operator, **({"values": r.values} if r.values else {})}
            for r in sel.match_expressions
        ]
    return out
