"""iptables match modules as three-valued tests: matches (``YES``), does not (``NO``), cannot
tell (``UNK``).

Part of the firewall evaluation (``netdoctor.netfilter``). Each ``*_test`` turns one criterion of
a rule (``-s``, ``-i``, ``-p``, ``--dport``, ``--tcp-flags``, ``--icmp-type``, ``--ctstate``,
``--mark``, ``-m addrtype``) into a ``Test`` over the decoded packet (``packet.Ctx``), the mark
and which bits of the mark are known; ``rules`` compiles a rule into these.
"""

from __future__ import annotations

from collections.abc import Callable

from netdoctor.netfilter.packet import FULL, PORTED, Ctx, network, proto_number

__all__ = [
    "NO",
    "UNK",
    "YES",
    "Test",
    "addr_test",
    "addrtype_test",
    "always",
    "icmp_test",
    "iface_test",
    "mark_pair",
    "mark_test",
    "never",
    "port_test",
    "proto_test",
    "state_test",
    "tcp_flags_test",
    "unknown",
]

NO, YES, UNK = 0, 1, 2


# ctx, mark, known bits of the mark -> NO / YES / UNK
Test = Callable[[Ctx, int, int], int]


def _flip(v: int, neg: bool) -> int:
    return v if not neg or v == UNK else 1 - v


def unknown(_c: Ctx, _m: int, _k: int) -> int:
    return UNK


def always(_c: Ctx, _m: int, _k: int) -> int:
    return YES


def never(_c: Ctx, _m: int, _k: int) -> int:
    return NO


def addr_test(value: str, neg: bool, which: str) -> Test:
    nets = [network(v) for v in value.split(",")]
    if any(n is None for n in nets):
        return unknown  # a host name: iptables resolved it when loading
    pairs = tuple(n for n in nets if n is not None)
    src = which == "src"

    def test(c: Ctx, _m: int, _k: int) -> int:
        a = c.src if src else c.dst
        if a is None:
            return UNK
        hit = any(a & mask == net for net, mask in pairs)
        return YES if hit != neg else NO

    return test


def iface_test(value: str, neg: bool, which: str) -> Test:
    prefix = value.endswith("+")
    name = value[:-1] if prefix else value
    inbound = which == "in"

    def test(c: Ctx, _m: int, _k: int) -> int:
        i = c.iif if inbound else c.oif
        # No device on this hook (in OUTPUT, say): a positive match fails.
        hit = i is not None and (i.startswith(name) if prefix else i == name)
        return YES if hit != neg else NO

    return test


def proto_test(value: str, neg: bool) -> Test:
    want = proto_number(value.lower())
    if want is None:
        return unknown
    if want == 0:
        return never if neg else always

    def test(c: Ctx, _m: int, _k: int) -> int:
        if c.proto is None:
            return UNK
        return YES if (c.proto == want) != neg else NO

    return test


def _port_ranges(value: str) -> tuple[tuple[int, int], ...] | None:
    out: list[tuple[int, int]] = []
    for item in value.split(","):
        lo, colon, hi = item.partition(":")
        if not colon:
            hi = lo
        lo = lo or "0"
        hi = hi or "65535"
        if not (lo.isdigit() and hi.isdigit()):
            return None  # a service name
        out.append((int(lo), int(hi)))
    return tuple(out)


def port_test(value: str, neg: bool, which: str) -> Test:
    ranges = _port_ranges(value)
    if ranges is None:
        return unknown

    def hit(port: int | None) -> int:
        if port is None:
            return UNK
        return YES if any(lo <= port <= hi for lo, hi in ranges) else NO

    def test(c: Ctx, _m: int, _k: int) -> int:
        if c.proto not in PORTED:
            return NO  # the port match only sees packets of its protocol
        if which == "src":
            v = hit(c.sport)
        elif which == "dst":
            v = hit(c.dport)
        else:  # multiport --ports: either port
            s, d = hit(c.sport), hit(c.dport)
            v = YES if YES in (s, d) else UNK if UNK in (s, d) else NO
        return _flip(v, neg)

    return test


_TCP_FLAGS = {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128}


def _flag_bits(text: str) -> int | None:
    if text == "ALL":
        return 255
    if text == "NONE":
        return 0
    bits = 0
    for name in text.split(","):
        bit = _TCP_FLAGS.get(name)
        if bit is None:
            return None
        bits |= bit
    return bits


def tcp_flags_test(mask_text: str, comp_text: str, neg: bool) -> Test:
    mask, comp = _flag_bits(mask_text), _flag_bits(comp_text)
    if mask is None or comp is None:
        return unknown
    ack = _TCP_FLAGS["ACK"]

    def test(c: Ctx, _m: int, _k: int) -> int:
        if c.proto != 6:
            return NO
        if c.state == "NEW":
            v = YES if _TCP_FLAGS["SYN"] & mask == comp else NO  # a NEW TCP packet is a SYN
        elif c.state == "ESTABLISHED" and mask & ack and not comp & ack:
            v = NO  # every packet of an established connection carries ACK
        else:
            v = UNK
        return _flip(v, neg)

    return test


_ICMP_TYPES = {"echo-request": 8, "ping": 8, "echo-reply": 0, "pong": 0}


def icmp_test(value: str, neg: bool) -> Test:
    if value == "any":
        kind: int | None = -1
    else:
        head, _, code = value.partition("/")
        kind = _ICMP_TYPES.get(head, int(head) if head.isdigit() else None)
        if code and code != "0":
            kind = None
    if kind not in (-1, 0, 8):
        return unknown

    def test(c: Ctx, _m: int, _k: int) -> int:
        if c.proto != 1:
            return NO
        if kind == -1:
            v = YES
        elif c.state == "NEW":  # an echo request opens the flow ...
            v = YES if kind == 8 else NO
        elif c.state == "ESTABLISHED":  # ... and its reply is established
            v = YES if kind == 0 else NO
        else:
            v = UNK
        return _flip(v, neg)

    return test


_VIRTUAL_STATES = frozenset({"SNAT", "DNAT"})


def state_test(value: str, neg: bool) -> Test:
    states = frozenset(value.upper().split(","))
    virtual = bool(states & _VIRTUAL_STATES)

    def test(c: Ctx, _m: int, _k: int) -> int:
        # Whether the connection was NATed (the SNAT/DNAT states) is not known here.
        v = YES if c.state in states else UNK if virtual else NO
        return _flip(v, neg)

    return test


def mark_pair(text: str) -> tuple[int, int] | None:
    value, slash, mask = text.partition("/")
    try:
        v = int(value, 0) & FULL
        m = int(mask, 0) & FULL if slash else FULL
    except ValueError:
        return None
    return v, m


def mark_test(value: str, neg: bool) -> Test:
    pair = mark_pair(value)
    if pair is None:
        return unknown
    want, mask = pair

    def test(_c: Ctx, mark: int, known: int) -> int:
        if mask & ~known:
            sure = mask & known
            if mark & sure != want & sure:
                return _flip(NO, neg)
            return UNK
        return _flip(YES if mark & mask == want else NO, neg)

    return test


_MULTICAST = (0xE0000000, 0xF0000000)
_LOOPBACK = (0x7F000000, 0xFF000000)


def addrtype_test(value: str, neg: bool, which: str) -> Test:
    types = value.upper().split(",")
    src = which == "src"

    def one(kind: str, a: int, c: Ctx) -> int:
        local = a & _LOOPBACK[1] == _LOOPBACK[0] or (c.locals is not None and a in c.locals)
        if kind == "LOCAL":
            return YES if local else UNK if c.locals is None else NO
        if kind == "MULTICAST":
            return YES if a & _MULTICAST[1] == _MULTICAST[0] else NO
        if kind == "UNICAST" and (local or a & _MULTICAST[1] == _MULTICAST[0]):
            return NO
        return UNK  # broadcast, blackhole, ...: the routing table decides

    def test(c: Ctx, _m: int, _k: int) -> int:
        a = c.src if src else c.dst
        if a is None:
            return UNK
        found = [one(t, a, c) for t in types]
        v = YES if YES in found else UNK if UNK in found else NO
        return _flip(v, neg)

    return test
