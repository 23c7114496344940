"""Helpers shared by checks: addressed evidence, node addresses, subnets.

Checks layer. Evidence is quoted from the snapshot exactly, with the file it came from, so a
person can open the bundle and find the line.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from netdoctor.checks._support.registry import Note
from netdoctor.model.findings import Evidence, Message
from netdoctor.model.k8s import DaemonSet, Event, IPPool, Node, Pod
from netdoctor.model.nodefacts import AddrInfo, Interface, Route
from netdoctor.model.snapshot import Snapshot

__all__ = [
    "AddressClaim",
    "IPNet",
    "annotation_evidence",
    "daemonset_fits",
    "daemonset_missing_evidence",
    "iface_evidence",
    "ip_only",
    "ippool_evidence",
    "last_log_match",
    "log_evidence",
    "log_lines",
    "networks_of_node",
    "node_file_note",
    "node_holding",
    "parse_ip",
    "peer_path_evidence",
    "peers_reach",
    "pod_events",
    "pod_evidence",
    "route_text",
    "route_to",
    "shared_subnet_address",
    "smallest_supernet",
    "waiting_evidence",
    "warning_event_evidence",
]

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from ``10.6.130.201`` or ``10.6.130.201/24``; None when it is not one."""
    if not text:
        return None
    try:
        return ipaddress.ip_interface(text.strip()).ip
    except ValueError:
        return None


def ip_only(text: str) -> str:
    addr = parse_ip(text)
    return str(addr) if addr is not None else text


def annotation_evidence(snap: Snapshot, node: Node, key: str) -> Evidence:
    return Evidence(
        source=snap.source("k8s.nodes"),
        object=f"Node/{node.metadata.name}",
        field=f"metadata.annotations[{key}]",
        value=node.metadata.annotations.get(key, ""),
        node=node.metadata.name,
    )


def internal_ip_evidence(snap: Snapshot, node: Node) -> Evidence:
    return Evidence(
        source=snap.source("k8s.nodes"),
        object=f"Node/{node.metadata.name}",
        field="status.addresses[InternalIP]",
        value=", ".join(node.internal_ips),
        node=node.metadata.name,
    )


def ippool_evidence(snap: Snapshot, pool: IPPool) -> Evidence:
    return Evidence(
        source=snap.source("k8s.ippools"),
        object=f"IPPool/{pool.metadata.name}",
        field="spec.cidr",
        value=pool.spec.cidr,
    )


def node_file_note(snap: Snapshot, node: str, kind: str) -> Note:
    """A note that the node's ``kind`` capture (``sysctl``, ``ip_route``...) is missing."""
    return Note(
        Message("note.node_file_missing", {"node": node, "path": snap.node_source(node, kind)})
    )


def iface_evidence(snap: Snapshot, node: str, iface: Interface, addr: AddrInfo) -> Evidence:
    return Evidence(
        source=snap.node_source(node, "ip_addr"),
        object=f"Interface/{iface.ifname}",
        field="addr_info[].local",
        value=f"{addr.local}/{addr.prefixlen}",
        node=node,
    )


def pod_evidence(snap: Snapshot, pod: Pod, field: str, value: str) -> Evidence:
    return Evidence(
        source=snap.source("k8s.pods"),
        object=f"Pod/{pod.ref}",
        field=field,
        value=value,
        node=pod.spec.node_name or None,
    )


def waiting_evidence(snap: Snapshot, pod: Pod) -> list[Evidence]:
    """Why each waiting container of the pod waits (``reason: message``, trimmed)."""
    out = []
    for cs in pod.status.container_statuses:
        w = cs.state.waiting
        if w is not None:
            out.append(
                pod_evidence(
                    snap,
                    pod,
                    f"status.containerStatuses[{cs.name}].state.waiting",
                    f"{w.reason}: {w.message}".strip(": ")[:300],
                )
            )
    return out


def pod_events(snap: Snapshot, pod: Pod) -> Iterator[Event]:
    """The events about the pod, in the snapshot's order."""
    for e in snap.events or ():
        io = e.involved_object
        if (
            io.kind == "Pod"
            and io.name == pod.metadata.name
            and io.namespace == pod.metadata.namespace
        ):
            yield e


def warning_event_evidence(snap: Snapshot, pod: Pod) -> list[Evidence]:
    """The pod's ``Warning`` events, oldest first, each message trimmed to 300 characters."""
    return [
        Evidence(
            source=snap.source("k8s.events"),
            object=f"Event/{e.metadata.namespace}/{e.metadata.name}",
            field=f"reason {e.reason}",
            value=e.message[:300],
            node=pod.spec.node_name or None,
        )
        for e in pod_events(snap, pod)
        if e.type == "Warning"
    ]


def daemonset_fits(ds: DaemonSet, node: Node) -> bool:
    """Whether the DaemonSet's pods may run on the node, by its nodeSelector and the node's
    NoSchedule/NoExecute taints they tolerate."""
    spec = ds.spec.template.spec
    if any(node.metadata.labels.get(k) != v for k, v in spec.node_selector.items()):
        return False
    return all(
        any(t.tolerates(taint) for t in spec.tolerations)
        for taint in node.spec.taints
        if taint.effect in ("NoSchedule", "NoExecute")
    )


def daemonset_missing_evidence(snap: Snapshot, namespace: str, name: str, node: str) -> Evidence:
    """No pod of the DaemonSet ``namespace/name`` on the node."""
    return Evidence(
        source=snap.source("k8s.pods"),
        object=f"DaemonSet/{namespace}/{name}",
        field=f"pods on node {node}",
        value="none",
        node=node,
    )


def log_lines(text: str, pattern: re.Pattern[str]) -> Iterator[tuple[int, re.Match[str]]]:
    """(1-based line number, match) for each line of a log matching ``pattern``."""
    for n, line in enumerate(text.splitlines(), 1):
        m = pattern.search(line)
        if m:
            yield n, m


def log_evidence(snap: Snapshot, pod: Pod, container: str, n: int, line: str) -> Evidence:
    """Line ``n`` of a container's log, quoted (trimmed to 300 characters)."""
    return Evidence(
        source=snap.log_source(pod.ref, container),
        object=f"Pod/{pod.ref}",
        field=f"line {n}",
        value=line.strip()[:300],
        node=pod.spec.node_name or None,
    )


def last_log_match(
    snap: Snapshot, pod: Pod | None, container: str, pattern: re.Pattern[str]
) -> tuple[re.Match[str], Evidence] | None:
    """The last line of the pod's container log matching ``pattern``, and its evidence."""
    text = snap.log(pod, container) if pod is not None else None
    if pod is None or not text:
        return None
    hits = list(log_lines(text, pattern))
    if not hits:
        return None
    n, m = hits[-1]
    return m, log_evidence(snap, pod, container, n, m.string)


def node_holding(snap: Snapshot, node: str, ip: str) -> tuple[Interface, AddrInfo] | None:
    facts = snap.node_facts.get(node)
    if facts is None or facts.interfaces is None:
        return None
    return facts.interface_with_address(ip_only(ip))


def networks_of_node(snap: Snapshot, node: str) -> list[IPNet] | None:
    """The global-scope networks on a node's interfaces; None without ip-addr facts."""
    facts = snap.node_facts.get(node)
    if facts is None or facts.interfaces is None:
        return None
    out: list[IPNet] = []
    for iface in facts.interfaces:
        for a in iface.addr_info:
            if a.scope in ("host", "link") or not a.local:
                continue
            try:
                out.append(a.interface.network)
            except ValueError:
                continue
    return out


@dataclass(frozen=True)
class PeerView:
    """Whether peers can reach an address, as far as their facts tell."""

    known: tuple[str, ...]  # peers with ip-addr facts
    reaching: tuple[str, ...]  # peers with an address in the same subnet, or a specific route
    unknown: tuple[str, ...]  # peers without facts


def peers_reach(snap: Snapshot, addr: str, peers: Iterable[str]) -> PeerView:
    """Which peers have a way to ``addr``: an interface on its subnet or a non-default route.

    A default route alone does not count: the InfiniBand and NAT cases are precisely an
    address that the default route sends to a router that has never heard of it. Nor does a
    peer holding the very same address (every VirtualBox VM is 10.0.2.15): it delivers to itself.
    """
    ip = parse_ip(addr)
    known, reaching, unknown = [], [], []
    for peer in peers:
        facts = snap.node_facts.get(peer)
        if facts is None or facts.interfaces is None:
            unknown.append(peer)
            continue
        known.append(peer)
        if ip is None:
            continue
        if facts.interface_with_address(str(ip)) is not None:
            continue  # the peer holds the same address itself: its packets never leave it
        nets = networks_of_node(snap, peer) or []
        routed = False
        for r in facts.routes or ():
            net = r.network
            if (
                net is not None
                and r.dst != "default"
                and net.prefixlen > 0
                and r.type in (None, "unicast")
                and ip.version == net.version
                and ip in net
            ):
                routed = True
                break
        if routed or any(ip.version == n.version and ip in n for n in nets):
            reaching.append(peer)
    return PeerView(tuple(known), tuple(reaching), tuple(unknown))


def shared_subnet_address(
    snap: Snapshot, node: str, avoid: str, group: Iterable[str]
) -> str | None:
    """An IPv4 address of ``node``, other than ``avoid``, on a subnet every other node of the
    group also has an address on: the one peers can reach it on when ``avoid`` (a NAT address
    every VM holds) cannot serve. None when the node facts cannot tell."""
    others = [networks_of_node(snap, n) for n in group if n != node]
    facts = snap.node_facts.get(node)
    if facts is None or facts.interfaces is None or any(o is None for o in others):
        return None
    for iface in facts.interfaces:
        for a in iface.addresses("inet"):
            if a.local == avoid or a.scope not in ("", "global"):
                continue
            net = a.interface.network
            if all(net in (o or []) for o in others):
                return a.local
    return None


def route_to(routes: Iterable[Route], ip: str) -> Route | None:
    """The main-table route the kernel would pick for ``ip`` (longest prefix, lowest metric)."""
    addr = parse_ip(ip)
    if addr is None:
        return None
    best: tuple[int, int, Route] | None = None
    for r in routes:
        if r.table_name != "main" or r.type not in (None, "unicast"):
            continue
        net = r.network
        if net is None or net.version != addr.version or addr not in net:
            continue
        key = (net.prefixlen, -(r.metric or 0))
        if best is None or key > best[:2]:
            best = (*key, r)
    return best[2] if best else None


def route_text(r: Route) -> str:
    """A route as ``ip route`` prints it (``Route.text``)."""
    return r.text()


def peer_path_evidence(snap: Snapshot, peer: str, addr: str) -> Evidence:
    """What a peer does with a packet for ``addr``: holds it itself, or the route it takes."""
    held = node_holding(snap, peer, addr)
    if held is not None:
        return iface_evidence(snap, peer, *held)
    facts = snap.node_facts.get(peer)
    route = route_to(facts.routes or (), ip_only(addr)) if facts else None
    return Evidence(
        source=snap.node_source(peer, "ip_route"),
        object=f"Node/{peer}",
        field=f"route to {ip_only(addr)}",
        value=route_text(route) if route else "none",
        node=peer,
    )


def smallest_supernet(addresses: Iterable[str]) -> IPNet | None:
    """The smallest prefix containing every address (IPv4 or IPv6, not mixed)."""
    ips = [a for a in (parse_ip(x) for x in addresses) if a is not None]
    if not ips or len({a.version for a in ips}) != 1:
        return None
    cls: type[IPNet] = ipaddress.IPv4Network if ips[0].version == 4 else ipaddress.IPv6Network
    bits = cls(0).max_prefixlen
    lo, hi = int(min(ips)), int(max(ips))
    prefix = bits - (lo ^ hi).bit_length()
    base = (lo >> (bits - prefix)) << (bits - prefix) if prefix else 0
    return cls((base, prefix))


@dataclass(frozen=True)
class AddressClaim:
    """An address a CNI agent says a node has, and where it says so."""

    node: str
    address: str  # as written, possibly with /len
    evidence: tuple[Evidence, ...]
    iface: str | None = None  # interface named by the source (log line), if any
