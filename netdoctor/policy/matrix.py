"""The allowed/denied matrix over many pods at once, by label-equivalence classes.

Policy layer (pure). Pods with the same namespace, labels, host networking, container ports
and ipBlock membership behave alike under every NetworkPolicy, so policies are evaluated on
classes, never on pod pairs: each selector becomes an int bitmask over classes (one bit per
class; label and namespace indexes make a selector a handful of AND/OR operations), each
class gets the mask of peers its rules allow, and a class pair is two bit tests. Pods come
back only when the caller expands classes into pod pairs.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from netdoctor.model.k8s import (
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    Pod,
)
from netdoctor.policy.selectors import NAME_LABEL, port_matches, selector_keys, selector_matches

__all__ = ["ClassMatrix", "Klass", "NamespacesUnknown", "Universe"]


class NamespacesUnknown(Exception):
    """A namespaceSelector needs namespace labels that were not collected."""

    def __init__(self, policy: str) -> None:
        super().__init__(policy)
        self.policy = policy


@dataclass
class Klass:
    """Pods that no NetworkPolicy can tell apart."""

    index: int
    namespace: str
    labels: dict[str, str]
    host_network: bool
    pods: list[Pod] = field(default_factory=list)


class _Block:
    """An ipBlock as integer ranges: [lo, hi] of the CIDR minus its excepts."""

    __slots__ = ("excepts", "net")

    def __init__(self, block: IPBlock) -> None:
        self.net = ipaddress.ip_network(block.cidr, strict=False)
        self.excepts = [ipaddress.ip_network(e, strict=False) for e in block.except_]

    def span(self) -> tuple[int, int, int]:
        return self.net.version, int(self.net.network_address), int(self.net.broadcast_address)

    def holes(self) -> list[tuple[int, int]]:
        return [
            (int(e.network_address), int(e.broadcast_address))
            for e in self.excepts
            if e.version == self.net.version
        ]


def _block_signatures(pods: Sequence[Pod], blocks: list[_Block]) -> list[tuple[int, ...]]:
    """For each pod, the indexes of the ipBlocks holding one of its addresses: each block
    finds its pods by bisecting the sorted addresses, so the cost is per block, not per pod x
    block."""
    sigs: list[list[int]] = [[] for _ in pods]
    if not blocks:
        return [() for _ in pods]
    addrs: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for i, pod in enumerate(pods):
        for ip in pod.ips:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                continue
            addrs[addr.version].append((int(addr), i))
    for v in addrs.values():
        v.sort()
    keys = {v: [a for a, _ in lst] for v, lst in addrs.items()}
    for bi, b in enumerate(blocks):
        version, lo, hi = b.span()
        lst, ks = addrs[version], keys[version]
        holes = b.holes()
        for j in range(bisect_left(ks, lo), bisect_right(ks, hi)):
            a, pi = lst[j]
            if any(h_lo <= a <= h_hi for h_lo, h_hi in holes):
                continue
            if not sigs[pi] or sigs[pi][-1] != bi:
                sigs[pi].append(bi)
    return [tuple(s) for s in sigs]


def _block_key(b: IPBlock) -> tuple[str, tuple[str, ...]]:
    return b.cidr, tuple(b.except_)


def _ports_key(pod: Pod) -> tuple[tuple[str, str, int], ...]:
    return tuple(
        sorted(
            (cp.name, (cp.protocol or "TCP").upper(), cp.container_port)
            for c in pod.spec.containers
            for cp in c.ports
            if cp.name
        )
    )


_ClassKey = tuple[
    str, tuple[tuple[str, str], ...], bool, tuple[tuple[str, str, int], ...], tuple[int, ...]
]


class Universe:
    """Pods grouped into classes, policies compiled to class bitmasks."""

    def __init__(
        self,
        pods: Sequence[Pod],
        policies: Sequence[NetworkPolicy],
        namespace_labels: Mapping[str, Mapping[str, str]] | None,
    ) -> None:
        self.policies = list(policies)
        self.namespace_labels = namespace_labels
        blocks: dict[tuple[str, tuple[str, ...]], _Block] = {}
        for np in self.policies:
            for peer in _all_peers(np):
                if peer.ip_block is not None:
                    key = _block_key(peer.ip_block)
                    if key not in blocks:
                        blocks[key] = _Block(peer.ip_block)
        ipsigs = _block_signatures(pods, list(blocks.values()))
        by_key: dict[_ClassKey, Klass] = {}
        self.classes: list[Klass] = []
        for pod, ipsig in zip(pods, ipsigs, strict=True):
            ckey: _ClassKey = (
                pod.metadata.namespace,
                tuple(sorted(pod.metadata.labels.items())),
                pod.spec.host_network,
                _ports_key(pod),
                ipsig,
            )
            k = by_key.get(ckey)
            if k is None:
                k = Klass(
                    len(self.classes),
                    pod.metadata.namespace,
                    dict(pod.metadata.labels),
                    pod.spec.host_network,
                )
                by_key[ckey] = k
                self.classes.append(k)
            k.pods.append(pod)
        self._ipsig = {k.index: ck[4] for ck, k in by_key.items()}
        n = len(self.classes)
        self.all_mask = (1 << n) - 1
        self.podnet_mask = 0
        self.ns_mask: dict[str, int] = defaultdict(int)
        self.kv_mask: dict[tuple[str, str], int] = defaultdict(int)
        self.key_mask: dict[str, int] = defaultdict(int)
        self.block_mask: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
        block_keys = list(blocks)
        for k in self.classes:
            bit = 1 << k.index
            self.ns_mask[k.namespace] |= bit
            if not k.host_network:
                self.podnet_mask |= bit
            for lk, lv in k.labels.items():
                self.kv_mask[(lk, lv)] |= bit
                self.key_mask[lk] |= bit
            for i in self._ipsig[k.index]:
                self.block_mask[block_keys[i]] |= bit
        # (port name, protocol, number) -> the classes whose pods serve that name there;
        # a class's pods share their named ports (they are part of the class key).
        self.named_mask: dict[tuple[str, str, int], int] = defaultdict(int)
        for k in self.classes:
            for c in k.pods[0].spec.containers:
                for cp in c.ports:
                    if cp.name:
                        named = (cp.name, (cp.protocol or "TCP").upper(), cp.container_port)
                        self.named_mask[named] |= 1 << k.index

    # --- selectors as masks ---------------------------------------------------------------

    def selector_mask(self, sel: LabelSelector, scope: int) -> int:
        m = scope
        for k, v in sel.match_labels.items():
            m &= self.kv_mask.get((k, v), 0)
        for req in sel.match_expressions:
            if req.operator == "In":
                any_v = 0
                for v in req.values:
                    any_v |= self.kv_mask.get((req.key, v), 0)
                m &= any_v
            elif req.operator == "NotIn":
                for v in req.values:
                    m &= ~self.kv_mask.get((req.key, v), 0)
            elif req.operator == "Exists":
                m &= self.key_mask.get(req.key, 0)
            elif req.operator == "DoesNotExist":
                m &= ~self.key_mask.get(req.key, 0)
            else:
                return 0
        return m

    def _namespaces_mask(self, sel: LabelSelector, policy: NetworkPolicy) -> int:
        m = 0
        for ns, mask in self.ns_mask.items():
            if self.namespace_labels is not None:
                labels = dict(self.namespace_labels.get(ns, {}))
                labels.setdefault(NAME_LABEL, ns)
            elif selector_keys(sel) <= {NAME_LABEL}:
                labels = {NAME_LABEL: ns}
            else:
                raise NamespacesUnknown(policy.ref)
            if selector_matches(sel, labels):
                m |= mask
        return m

    def peer_mask(self, policy: NetworkPolicy, peer: NetworkPolicyPeer) -> int:
        if peer.ip_block is not None:
            return self.block_mask.get(_block_key(peer.ip_block), 0)
        if peer.namespace_selector is None:
            scope = self.ns_mask.get(policy.metadata.namespace, 0)
        else:
            scope = self._namespaces_mask(peer.namespace_selector, policy)
        scope &= self.podnet_mask
        if peer.pod_selector is None:
            return scope
        return self.selector_mask(peer.pod_selector, scope)

    def peers_mask(self, policy: NetworkPolicy, peers: Sequence[NetworkPolicyPeer]) -> int:
        if not peers:
            return self.all_mask
        m = 0
        for p in peers:
            m |= self.peer_mask(policy, p)
        return m

    def ports_mask(self, ports: Sequence[NetworkPolicyPort], port: int | None, proto: str) -> int:
        """The destination classes for which a rule's ports admit (port, proto)."""
        if port_matches(ports, port, proto, None):
            return self.all_mask
        if port is None or all(isinstance(p.port, int) or p.port is None for p in ports):
            return 0
        m = 0
        for e in ports:
            if isinstance(e.port, str) and (e.protocol or "TCP").upper() == proto:
                m |= self.named_mask.get((e.port, proto, port), 0)
        return m

    # --- the matrix -----------------------------------------------------------------------

    def matrix(self, port: int | None, protocol: str) -> ClassMatrix:
        proto = protocol.upper()
        n = len(self.classes)
        in_sel: list[list[str]] = [[] for _ in range(n)]
        eg_sel: list[list[str]] = [[] for _ in range(n)]
        in_rules: list[list[tuple[str, int]]] = [[] for _ in range(n)]
        eg_rules: list[list[tuple[str, int]]] = [[] for _ in range(n)]
        in_allow = [0] * n
        eg_allow = [0] * n
        for np in self.policies:
            ing, eg = np.spec.types
            scope = self.ns_mask.get(np.metadata.namespace, 0) & self.podnet_mask
            selected = self.selector_mask(np.spec.pod_selector, scope)
            if not selected:
                continue
            members = list(_bits(selected))
            if ing:
                for d in members:
                    in_sel[d].append(np.ref)
                for i, r in enumerate(np.spec.ingress or ()):
                    ports_ok = self.ports_mask(r.ports, port, proto)
                    if not ports_ok & selected:
                        continue
                    peers = self.peers_mask(np, r.from_)
                    label = f"{np.ref} ingress[{i}]"
                    for d in members:
                        if ports_ok >> d & 1:
                            in_allow[d] |= peers
                            in_rules[d].append((label, peers))
            if eg:
                for s in members:
                    eg_sel[s].append(np.ref)
                for i, er in enumerate(np.spec.egress or ()):
                    dst = self.peers_mask(np, er.to) & self.ports_mask(er.ports, port, proto)
                    label = f"{np.ref} egress[{i}]"
                    for s in members:
                        eg_allow[s] |= dst
                        eg_rules[s].append((label, dst))
        return ClassMatrix(
            self, port, proto, in_sel, eg_sel, in_rules, eg_rules, in_allow, eg_allow
        )


@dataclass
class ClassMatrix:
    universe: Universe
    port: int | None
    protocol: str
    in_sel: list[list[str]]
    eg_sel: list[list[str]]
    in_rules: list[list[tuple[str, int]]]
    eg_rules: list[list[tuple[str, int]]]
    in_allow: list[int]
    eg_allow: list[int]

    def allowed(self, s: int, d: int) -> bool:
        eg_ok = not self.eg_sel[s] or bool(self.eg_allow[s] >> d & 1)
        return eg_ok and (not self.in_sel[d] or bool(self.in_allow[d] >> s & 1))

    def allowed_dsts(self, s: int) -> int:
        """The mask of destination classes class ``s`` may reach."""
        out = self.eg_allow[s] if self.eg_sel[s] else self.universe.all_mask
        return out & self._ingress_open_to[s]

    @cached_property
    def _ingress_open_to(self) -> list[int]:
        """Per source class, the destination classes whose ingress admits it: every class not
        ingress-isolated, plus the isolated ones whose allowed sources include it. Isolated
        classes sharing one allowed-sources mask are handled together (policies select whole
        groups of classes), so the transposition costs one pass per distinct mask."""
        n = len(self.universe.classes)
        open_mask = 0
        by_allow: dict[int, int] = defaultdict(int)
        for d in range(n):
            if self.in_sel[d]:
                by_allow[self.in_allow[d]] |= 1 << d
            else:
                open_mask |= 1 << d
        out = [open_mask] * n
        for sources, dsts in by_allow.items():
            for src in _bits(sources):
                out[src] |= dsts
        return out

    def why(self, s: int, d: int) -> tuple[bool, list[str], list[str]]:
        """(allowed, allowedBy rules, deniedBy policies) for a class pair."""
        eg_ok = not self.eg_sel[s] or bool(self.eg_allow[s] >> d & 1)
        in_ok = not self.in_sel[d] or bool(self.in_allow[d] >> s & 1)
        allowed_by = [lbl for lbl, m in self.eg_rules[s] if m >> d & 1]
        allowed_by += [lbl for lbl, m in self.in_rules[d] if m >> s & 1]
        denied_by: list[str] = []
        if not eg_ok:
            denied_by += [f"{ref} egress" for ref in self.eg_sel[s]]
        if not in_ok:
            denied_by += [f"{ref} ingress" for ref in self.in_sel[d]]
        return eg_ok and in_ok, allowed_by if eg_ok and in_ok else [], denied_by

    def egress_groups(self, s: int) -> tuple[list[int], list[tuple[str, ...]]] | None:
        """For source class ``s``: each destination class's group id, and per group the
        egress rules that allow it (empty: denied). None when ``s`` is not egress-isolated.
        Groups come from splitting all classes by each rule's mask, so the cost is a few
        big-int operations per rule, then one pass over the classes."""
        if not self.eg_sel[s]:
            return None
        return _partition(self.eg_rules[s], len(self.universe.classes))

    def ingress_groups(self, d: int) -> tuple[list[int], list[tuple[str, ...]]] | None:
        """For destination class ``d``: each source class's group id and the ingress rules
        allowing that group. None when ``d`` is not ingress-isolated."""
        if not self.in_sel[d]:
            return None
        return _partition(self.in_rules[d], len(self.universe.classes))

    def class_pairs(self) -> Iterator[tuple[int, int, bool]]:
        n = len(self.universe.classes)
        for s in range(n):
            ok = self.allowed_dsts(s)
            for d in range(n):
                yield s, d, bool(ok >> d & 1)


def _partition(rules: list[tuple[str, int]], n: int) -> tuple[list[int], list[tuple[str, ...]]]:
    groups: dict[int, tuple[str, ...]] = {(1 << n) - 1: ()}
    for label, mask in rules:
        split: dict[int, tuple[str, ...]] = {}
        for g, labels in groups.items():
            inside, outside = g & mask, g & ~mask
            if inside:
                split[inside] = (*labels, label)
            if outside:
                split[outside] = labels
        groups = split
    gid = [0] * n
    table: list[tuple[str, ...]] = []
    for i, (g, labels) in enumerate(groups.items()):
        table.append(labels)
        for bit in _bits(g):
            gid[bit] = i
    return gid, table


def _bits(mask: int) -> list[int]:
    """The set bits' indexes, lowest first (str.find runs in C)."""
    text = bin(mask)[:1:-1]
    out = []
    i = text.find("1")
    while i >= 0:
        out.append(i)
        i = text.find("1", i + 1)
    return out


def _all_peers(np: NetworkPolicy) -> Iterator[NetworkPolicyPeer]:
    for r in np.spec.ingress or ():
        yield from r.from_
    for er in np.spec.egress or ():
        yield from er.to
