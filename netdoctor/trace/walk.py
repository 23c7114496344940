"""The trace's walker: the packet, the hops it accumulates, and the per-snapshot index.

Part of the trace (``netdoctor.trace``). ``Walk`` is the state of one direction of a trace (the
request or its reply): the hops so far, a step counter against forwarding loops, and the
lookups built once per snapshot. The stages (``netdoctor.trace.stages``) are plain functions
taking a ``Walk``; a hop that drops (or ends the walk unknown) raises ``Stop``.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NoReturn

from netdoctor.model.findings import Evidence, Message
from netdoctor.model.nodefacts import Interface, NetFacts
from netdoctor.model.snapshot import Snapshot
from netdoctor.netfilter.felix import felix_ipsets
from netdoctor.trace.evidence import Quote

__all__ = ["STAGES", "Hop", "Index", "Path", "Pkt", "Stop", "Walk", "index"]

STAGES = (
    "pod-route",
    "pod-egress",
    "veth",
    "bridge",
    "node-route",
    "node-forwarding",
    "rp-filter",
    "filter-forward",
    "filter-input",
    "filter-output",
    "egress-mtu",
    "encap",
    "outer-route",
    "underlay",
    "decap",
    "delivery",
    "pod-ingress",
    "port",
)

_MAX_STEPS = 40  # forwarding loops (a packet sent back and forth) end here


@dataclass(frozen=True)
class Hop:
    """One step of the packet: where, what decided, and the verdict."""

    index: int
    node: str | None  # the node, or None inside a pod / on the underlay
    stage: str  # one of STAGES
    direction: str  # "request" | "reply"
    verdict: str  # "pass" | "drop" | "unknown"
    message: Message
    evidence: tuple[Evidence, ...]
    cause: str | None = None  # root-cause id a drop (or an unknown, if it drops) points at


@dataclass(frozen=True)
class Path:
    """A traced round trip: its verdict, the first drop, and every hop."""

    verdict: str  # "delivered" | "dropped" | "unknown" (the round trip)
    drop_at: int | None
    hops: tuple[Hop, ...]


@dataclass(frozen=True)
class Pkt:
    """The packet being walked (an outer one carries its ``inner`` packet)."""

    src: str
    dst: str
    proto: str  # "icmp" | "tcp" | "udp" | "4" (IP-in-IP)
    size: int
    df: bool
    ctstate: str
    sport: int | None = None
    dport: int | None = None
    inner: Pkt | None = None  # the encapsulated packet of an outer one
    encap: str | None = None  # "vxlan" | "ipip" for an outer packet
    vni: int | None = None  # an outer VXLAN packet's VNI
    origin: tuple[Evidence, ...] = ()  # an outer packet: the route that chose its destination


class Stop(Exception):
    """The walk of one direction ends (delivered, dropped, or nothing more can be known)."""


@dataclass
class Index:
    """Per-snapshot lookups built once: who holds an address, pods by IP."""

    holders: dict[str, list[tuple[str, Interface, int]]] = field(default_factory=dict)
    felix_sets: tuple[tuple[str, tuple[str, ...]], ...] = ()


_INDEXES: weakref.WeakKeyDictionary[Snapshot, Index] = weakref.WeakKeyDictionary()


def index(snap: Snapshot) -> Index:
    """The lookups of ``snap``, built on first use."""
    idx = _INDEXES.get(snap)
    if idx is None:
        idx = Index()
        for node, facts in snap.node_facts.items():
            for iface in facts.interfaces or ():
                for a in iface.addresses("inet"):
                    idx.holders.setdefault(a.local, []).append((node, iface, a.prefixlen))
        idx.felix_sets = felix_ipsets(snap)  # shared with the checks: netdoctor.netfilter.felix
        _INDEXES[snap] = idx
    return idx


class Walk:
    """One direction of a trace (``direction``: request or reply), appending to ``hops``."""

    def __init__(self, snap: Snapshot, direction: str, hops: list[Hop]) -> None:
        self.snap = snap
        self.direction = direction
        self.hops = hops
        self.idx = index(snap)
        self.quote = Quote(snap)
        self.steps = 0

    def hop(
        self,
        stage: str,
        verdict: str,
        outcome: str,
        params: dict[str, str],
        evidence: Iterable[Evidence] = (),
        *,
        node: str | None = None,
        cause: str | None = None,
    ) -> None:
        self._append(stage, verdict, outcome, params, evidence, node, cause)
        if verdict == "drop":
            raise Stop

    def drop(
        self,
        stage: str,
        outcome: str,
        params: dict[str, str],
        evidence: Iterable[Evidence] = (),
        *,
        node: str | None = None,
        cause: str | None = None,
    ) -> Stop:
        """A ``drop`` hop, for stages that return where the packet goes next: they write
        ``raise w.drop(...)``."""
        self._append(stage, "drop", outcome, params, evidence, node, cause)
        return Stop()

    def unknown_stop(
        self,
        stage: str,
        outcome: str,
        params: dict[str, str],
        evidence: Iterable[Evidence] = (),
        *,
        node: str | None = None,
        cause: str | None = None,
    ) -> NoReturn:
        self._append(stage, "unknown", outcome, params, evidence, node, cause)
        raise Stop

    def _append(
        self,
        stage: str,
        verdict: str,
        outcome: str,
        params: dict[str, str],
        evidence: Iterable[Evidence],
        node: str | None,
        cause: str | None,
    ) -> None:
        self.hops.append(
            Hop(
                index=len(self.hops),
                node=node,
                stage=stage,
                direction=self.direction,
                verdict=verdict,
                message=Message(f"hop.{stage}.{outcome}", params),
                evidence=tuple(evidence),
                cause=cause,
            )
        )

    def missing(self, stage: str, path: str, node: str | None) -> NoReturn:
        self.unknown_stop(stage, "missing", {"path": path}, node=node)

    def node_addresses(self, facts: NetFacts) -> frozenset[str]:
        return frozenset(a.local for i in facts.interfaces or () for a in i.addresses("inet"))

    def tick(self) -> None:
        self.steps += 1
        if self.steps > _MAX_STEPS:
            self.hop("node-route", "drop", "loop", {"steps": str(_MAX_STEPS)})
