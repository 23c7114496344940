"""The packet an iptables chain is evaluated for, the evaluation's result, and the packet
decoded once for matching (addresses as integers, the protocol's number, ipsets parsed).

Part of the firewall evaluation (``netdoctor.netfilter``): ``Packet`` is what the checks and the
trace hand in, ``Decision`` (with its ``Step``s) what they get back; ``Ctx`` is what the match
tests (``matches``) read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from netdoctor.model.nodefacts import IptRule

__all__ = [
    "FULL",
    "PORTED",
    "Ctx",
    "Decision",
    "Packet",
    "Step",
    "network",
    "proto_number",
]


@dataclass(frozen=True)
class Packet:
    """One packet as it enters the chain."""

    src: str  # IPv4 address
    dst: str
    proto: str  # "tcp", "udp", "icmp", "sctp", "ipip" (IPPROTO_IPIP, 4), ... or a number
    sport: int | None = None
    dport: int | None = None
    in_iface: str | None = None  # None in OUTPUT
    out_iface: str | None = None  # None in INPUT / PREROUTING
    ctstate: str = "NEW"  # NEW | ESTABLISHED | RELATED | INVALID | UNTRACKED
    mark: int = 0  # the fwmark entering the chain
    local_addresses: frozenset[str] = frozenset()  # the node's own addresses (addrtype LOCAL)
    # Known ipset contents, (name, CIDRs): a set not named here is unknown to `-m set`.
    ipsets: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Step:
    """One rule (or policy) that mattered, in order of evaluation."""

    chain: str
    rule: IptRule | None  # None for the chain policy / the end of a user chain
    action: str  # jump goto return accept drop reject mark continue policy unknown-*
    detail: str = ""  # the unknown match, the mark set, the chain jumped to, the NAT target


@dataclass(frozen=True)
class Decision:
    verdict: str  # "accept" | "drop" | "unknown"
    table: str
    chain: str  # the built-in chain evaluated
    deciding: IptRule | None  # the rule that decided (None: the chain policy, or unknown)
    policy: str | None  # the built-in chain's policy when it decided
    steps: tuple[Step, ...]  # the path through the chains
    reason: str  # one short English phrase for logs


FULL = 0xFFFFFFFF


class Ctx:
    """The packet, decoded once per evaluation."""

    __slots__ = (
        "dport",
        "dst",
        "iif",
        "locals",
        "oif",
        "proto",
        "sets",
        "sport",
        "src",
        "state",
    )

    def __init__(self, p: Packet) -> None:
        self.src = _ip4(p.src)
        self.dst = _ip4(p.dst)
        self.proto = proto_number(p.proto.lower(), _PACKET_PROTOCOLS)
        self.sport = p.sport
        self.dport = p.dport
        self.iif = p.in_iface
        self.oif = p.out_iface
        self.state = p.ctstate.upper()
        found = {a for a in map(_ip4, p.local_addresses) if a is not None}
        # No addresses given: the node's are unknown, not absent.
        self.locals: frozenset[int] | None = frozenset(found) if found else None
        self.sets = _parsed_sets(p.ipsets)


@lru_cache(maxsize=64)
def _parsed_sets(
    ipsets: tuple[tuple[str, tuple[str, ...]], ...],
) -> dict[str, tuple[tuple[int, int], ...]]:
    """The ipsets' CIDRs as (network, mask) pairs, parsed once per distinct set contents (a
    check evaluates thousands of packets against the same Felix sets)."""
    return {name: tuple(n for n in map(network, cidrs) if n is not None) for name, cidrs in ipsets}


def _ip4(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not part.isdigit() or len(part) > 3:
            return None
        n = int(part)
        if n > 255:
            return None
        value = value << 8 | n
    return value


def network(text: str) -> tuple[int, int] | None:
    """``a.b.c.d``, ``a.b.c.d/len`` or ``a.b.c.d/m.a.s.k`` -> (network, mask)."""
    addr, slash, plen = text.partition("/")
    base = _ip4(addr)
    if base is None:
        return None
    if not slash:
        return base, FULL
    if plen.isdigit():
        n = int(plen)
        if n > 32:
            return None
        mask = (FULL << (32 - n)) & FULL
    else:
        dotted = _ip4(plen)
        if dotted is None:
            return None
        mask = dotted
    return base & mask, mask


# Protocol names in rules, as iptables resolves them (/etc/protocols): iptables-save prints
# protocol 4 as "ipencap" and 94 as "ipip". A packet's "ipip" is the kernel's IPPROTO_IPIP, 4.
_PROTOCOLS = {
    "all": 0,
    "ip": 0,
    "icmp": 1,
    "igmp": 2,
    "ipencap": 4,
    "ipv4": 4,
    "tcp": 6,
    "udp": 17,
    "dccp": 33,
    "ipv6": 41,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmpv6": 58,
    "ipv6-icmp": 58,
    "ospf": 89,
    "ipip": 94,
    "pim": 103,
    "vrrp": 112,
    "l2tp": 115,
    "sctp": 132,
    "udplite": 136,
}
_PACKET_PROTOCOLS = {**_PROTOCOLS, "ipip": 4}
PORTED = frozenset({6, 17, 33, 132, 136})


def proto_number(name: str, names: Mapping[str, int] = _PROTOCOLS) -> int | None:
    if name.isdigit():
        n = int(name)
        return n if n < 256 else None
    return names.get(name)
