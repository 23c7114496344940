"""One packet through one iptables chain, as the kernel's ``ipt_do_table`` walks it.

Sits below the checks and the trace: they ask "does the FORWARD chain of node n1's filter table
let this packet through?" and get a ``Decision`` with the rule that decided and the path through
the chains, for evidence. Pure: no I/O, no clock.

Rules are evaluated in order; a rule matches when every criterion matches, in three values
(matches, does not, cannot tell). Jumps push the calling position, gotos do not, RETURN and
the end of a user chain pop it, and an empty stack means the built-in chain's policy. ``MARK``
changes the packet's mark for the rules after it; the mark is tracked bit by bit, so a
``CONNMARK --restore-mark`` makes the restored bits unknown rather than wrong.

When a rule's match cannot be evaluated (``-m set``, ``-m physdev``, ``-m statistic``, ...)
and its target could change the outcome, both branches are evaluated; the verdict holds when
they agree, else it is ``unknown``. ``Decision.deciding`` and ``Decision.policy`` are ``None``
when the two branches agree on the verdict through different rules.

Not modelled: the nat and mangle tables' order around filter (each chain is evaluated on its
own; a NAT target ends a nat chain as an accept without rewriting the packet), conntrack beyond
the state the caller gives (ICMP is an echo: NEW is the request, ESTABLISHED the reply; a NEW
TCP packet is a SYN), fragments (packets are whole), IPv6, ipset contents, socket owners, rate
and random matches (``-m limit`` is taken to match), and extension targets beyond the
common ones (``NFQUEUE``, ``TPROXY``, ... give ``unknown``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from netdoctor.model.nodefacts import Chain, IptRule, Ruleset

__all__ = ["Decision", "Packet", "Step", "evaluate"]


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


# --- three-valued matching ------------------------------------------------------------------

_NO, _YES, _UNK = 0, 1, 2
_FULL = 0xFFFFFFFF
MAX_FORKS = 64


class _Ctx:
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
        self.proto = _proto_number(p.proto.lower(), _PACKET_PROTOCOLS)
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
    return {name: tuple(n for n in map(_network, cidrs) if n is not None) for name, cidrs in ipsets}


# ctx, mark, known bits of the mark -> _NO / _YES / _UNK
_Test = Callable[[_Ctx, int, int], int]


def _flip(v: int, neg: bool) -> int:
    return v if not neg or v == _UNK else 1 - v


def _unknown(_c: _Ctx, _m: int, _k: int) -> int:
    return _UNK


def _always(_c: _Ctx, _m: int, _k: int) -> int:
    return _YES


def _never(_c: _Ctx, _m: int, _k: int) -> int:
    return _NO


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


def _network(text: str) -> tuple[int, int] | None:
    """``a.b.c.d``, ``a.b.c.d/len`` or ``a.b.c.d/m.a.s.k`` -> (network, mask)."""
    addr, slash, plen = text.partition("/")
    base = _ip4(addr)
    if base is None:
        return None
    if not slash:
        return base, _FULL
    if plen.isdigit():
        n = int(plen)
        if n > 32:
            return None
        mask = (_FULL << (32 - n)) & _FULL
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
_PORTED = frozenset({6, 17, 33, 132, 136})


def _proto_number(name: str, names: Mapping[str, int] = _PROTOCOLS) -> int | None:
    if name.isdigit():
        n = int(name)
        return n if n < 256 else None
    return names.get(name)


def _addr_test(value: str, neg: bool, which: str) -> _Test:
    nets = [_network(v) for v in value.split(",")]
    if any(n is None for n in nets):
        return _unknown  # a host name: iptables resolved it when loading
    pairs = tuple(n for n in nets if n is not None)
    src = which == "src"

    def test(c: _Ctx, _m: int, _k: int) -> int:
        a = c.src if src else c.dst
        if a is None:
            return _UNK
        hit = any(a & mask == net for net, mask in pairs)
        return _YES if hit != neg else _NO

    return test


def _iface_test(value: str, neg: bool, which: str) -> _Test:
    prefix = value.endswith("+")
    name = value[:-1] if prefix else value
    inbound = which == "in"

    def test(c: _Ctx, _m: int, _k: int) -> int:
        i = c.iif if inbound else c.oif
        # No device on this hook (in OUTPUT, say): a positive match fails.
        hit = i is not None and (i.startswith(name) if prefix else i == name)
        return _YES if hit != neg else _NO

    return test


def _proto_test(value: str, neg: bool) -> _Test:
    want = _proto_number(value.lower())
    if want is None:
        return _unknown
    if want == 0:
        return _never if neg else _always

    def test(c: _Ctx, _m: int, _k: int) -> int:
        if c.proto is None:
            return _UNK
        return _YES if (c.proto == want) != neg else _NO

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


def _port_test(value: str, neg: bool, which: str) -> _Test:
    ranges = _port_ranges(value)
    if ranges is None:
        return _unknown

    def hit(port: int | None) -> int:
        if port is None:
            return _UNK
        return _YES if any(lo <= port <= hi for lo, hi in ranges) else _NO

    def test(c: _Ctx, _m: int, _k: int) -> int:
        if c.proto not in _PORTED:
            return _NO  # the port match only sees packets of its protocol
        if which == "src":
            v = hit(c.sport)
        elif which == "dst":
            v = hit(c.dport)
        else:  # multiport --ports: either port
            s, d = hit(c.sport), hit(c.dport)
            v = _YES if _YES in (s, d) else _UNK if _UNK in (s, d) else _NO
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


def _tcp_flags_test(mask_text: str, comp_text: str, neg: bool) -> _Test:
    mask, comp = _flag_bits(mask_text), _flag_bits(comp_text)
    if mask is None or comp is None:
        return _unknown
    ack = _TCP_FLAGS["ACK"]

    def test(c: _Ctx, _m: int, _k: int) -> int:
        if c.proto != 6:
            return _NO
        if c.state == "NEW":
            v = _YES if _TCP_FLAGS["SYN"] & mask == comp else _NO  # a NEW TCP packet is a SYN
        elif c.state == "ESTABLISHED" and mask & ack and not comp & ack:
            v = _NO  # every packet of an established connection carries ACK
        else:
            v = _UNK
        return _flip(v, neg)

    return test


_ICMP_TYPES = {"echo-request": 8, "ping": 8, "echo-reply": 0, "pong": 0}


def _icmp_test(value: str, neg: bool) -> _Test:
    if value == "any":
        kind: int | None = -1
    else:
        head, _, code = value.partition("/")
        kind = _ICMP_TYPES.get(head, int(head) if head.isdigit() else None)
        if code and code != "0":
            kind = None
    if kind not in (-1, 0, 8):
        return _unknown

    def test(c: _Ctx, _m: int, _k: int) -> int:
        if c.proto != 1:
            return _NO
        if kind == -1:
            v = _YES
        elif c.state == "NEW":  # an echo request opens the flow ...
            v = _YES if kind == 8 else _NO
        elif c.state == "ESTABLISHED":  # ... and its reply is established
            v = _YES if kind == 0 else _NO
        else:
            v = _UNK
        return _flip(v, neg)

    return test


_VIRTUAL_STATES = frozenset({"SNAT", "DNAT"})


def _state_test(value: str, neg: bool) -> _Test:
    states = frozenset(value.upper().split(","))
    virtual = bool(states & _VIRTUAL_STATES)

    def test(c: _Ctx, _m: int, _k: int) -> int:
        # Whether the connection was NATed (the SNAT/DNAT states) is not known here.
        v = _YES if c.state in states else _UNK if virtual else _NO
        return _flip(v, neg)

    return test


def _mark_pair(text: str) -> tuple[int, int] | None:
    value, slash, mask = text.partition("/")
    try:
        v = int(value, 0) & _FULL
        m = int(mask, 0) & _FULL if slash else _FULL
    except ValueError:
        return None
    return v, m


def _mark_test(value: str, neg: bool) -> _Test:
    pair = _mark_pair(value)
    if pair is None:
        return _unknown
    want, mask = pair

    def test(_c: _Ctx, mark: int, known: int) -> int:
        if mask & ~known:
            sure = mask & known
            if mark & sure != want & sure:
                return _flip(_NO, neg)
            return _UNK
        return _flip(_YES if mark & mask == want else _NO, neg)

    return test


_MULTICAST = (0xE0000000, 0xF0000000)
_LOOPBACK = (0x7F000000, 0xFF000000)


def _addrtype_test(value: str, neg: bool, which: str) -> _Test:
    types = value.upper().split(",")
    src = which == "src"

    def one(kind: str, a: int, c: _Ctx) -> int:
        local = a & _LOOPBACK[1] == _LOOPBACK[0] or (c.locals is not None and a in c.locals)
        if kind == "LOCAL":
            return _YES if local else _UNK if c.locals is None else _NO
        if kind == "MULTICAST":
            return _YES if a & _MULTICAST[1] == _MULTICAST[0] else _NO
        if kind == "UNICAST" and (local or a & _MULTICAST[1] == _MULTICAST[0]):
            return _NO
        return _UNK  # broadcast, blackhole, ...: the routing table decides

    def test(c: _Ctx, _m: int, _k: int) -> int:
        a = c.src if src else c.dst
        if a is None:
            return _UNK
        found = [one(t, a, c) for t in types]
        v = _YES if _YES in found else _UNK if _UNK in found else _NO
        return _flip(v, neg)

    return test


# --- compiling one rule ---------------------------------------------------------------------

# Targets that never end the chain or change what later rules see.
_CONTINUE = frozenset(
    {
        "AUDIT",
        "CHECKSUM",
        "CLASSIFY",
        "CONNMARK",
        "CONNSECMARK",
        "CT",
        "DSCP",
        "HL",
        "IDLETIMER",
        "LOG",
        "NFLOG",
        "NOTRACK",
        "SECMARK",
        "SET",
        "TCPMSS",
        "TEE",
        "TOS",
        "TRACE",
        "TTL",
        "ULOG",
    }
)
_NAT = frozenset({"DNAT", "MASQUERADE", "NETMAP", "REDIRECT", "SNAT"})
# Extension targets this module does not model (checked before looking for a chain).
_OPAQUE = frozenset({"NFQUEUE", "QUEUE", "TPROXY", "SYNPROXY", "HMARK", "TARPIT", "DELUDE"})

# Kinds of target.
(
    _K_NONE,
    _K_ACCEPT,
    _K_DROP,
    _K_REJECT,
    _K_RETURN,
    _K_JUMP,
    _K_GOTO,
    _K_MARK,
    _K_FORGET,
    _K_CONTINUE,
    _K_NAT,
    _K_UNKNOWN,
) = range(12)
_HARMLESS = frozenset({_K_NONE, _K_CONTINUE})

_ACTIONS = {
    _K_ACCEPT: ("accept", "accept"),
    _K_DROP: ("drop", "drop"),
    _K_REJECT: ("drop", "reject"),
}

_JUMPS = frozenset({"-j", "--jump", "-g", "--goto"})
_GOTOS = frozenset({"-g", "--goto"})
_MATCHES = frozenset({"-m", "--match"})
_FRAGMENT = frozenset({"-f", "--fragment"})
_BASIC: dict[str, str] = {
    "-p": "proto",
    "--protocol": "proto",
    "-s": "src",
    "--source": "src",
    "--src": "src",
    "-d": "dst",
    "--destination": "dst",
    "--dst": "dst",
    "-i": "in",
    "--in-interface": "in",
    "-o": "out",
    "--out-interface": "out",
}

# module -> option -> (number of values, what it tests). "?" marks an option not modelled.
_PORT_OPTS = {
    "--sport": (1, "sport"),
    "--source-port": (1, "sport"),
    "--dport": (1, "dport"),
    "--destination-port": (1, "dport"),
}
_CT_OTHER = (
    "--ctproto",
    "--ctorigsrc",
    "--ctorigdst",
    "--ctreplsrc",
    "--ctrepldst",
    "--ctorigsrcport",
    "--ctorigdstport",
    "--ctreplsrcport",
    "--ctrepldstport",
    "--ctstatus",
    "--ctexpire",
    "--ctdir",
)
_MODULES: dict[str, dict[str, tuple[int, str]]] = {
    "tcp": {
        **_PORT_OPTS,
        "--syn": (0, "syn"),
        "--tcp-flags": (2, "flags"),
        "--tcp-option": (1, "?"),
    },
    "udp": dict(_PORT_OPTS),
    "udplite": dict(_PORT_OPTS),
    "sctp": {**_PORT_OPTS, "--chunk-types": (2, "?")},
    "dccp": {**_PORT_OPTS, "--dccp-types": (1, "?"), "--dccp-option": (1, "?")},
    "icmp": {"--icmp-type": (1, "icmp")},
    "multiport": {
        "--sports": (1, "sport"),
        "--source-ports": (1, "sport"),
        "--dports": (1, "dport"),
        "--destination-ports": (1, "dport"),
        "--ports": (1, "ports"),
    },
    "conntrack": {
        "--ctstate": (1, "state"),
        # Conntrack's other criteria are about the connection's other direction or its
        # history, which the packet does not carry.
        **dict.fromkeys(_CT_OTHER, (1, "?")),
    },
    "state": {"--state": (1, "state")},
    "mark": {"--mark": (1, "mark")},
    "addrtype": {
        "--src-type": (1, "srctype"),
        "--dst-type": (1, "dsttype"),
        "--limit-iface-in": (0, "?"),
        "--limit-iface-out": (0, "?"),
    },
    "comment": {"--comment": (1, "ignore")},
    "set": {"--match-set": (2, "set"), "--return-nomatch": (0, "?")},
    "limit": {"--limit": (1, "ignore"), "--limit-burst": (1, "ignore")},
}


class _Rule:
    """One rule, compiled: its tests (cheapest first) and what its target does."""

    __slots__ = ("args", "dfast", "kind", "mark", "ready", "target", "tests")

    def __init__(self, args: tuple[str, ...]) -> None:
        self.args = args
        self.ready = True  # False: a stub that knows only the destination (see _stub)
        self.tests: tuple[tuple[_Test, str], ...] = ()
        self.dfast: tuple[int, int] | None = None  # a positive -d with one network: skip fast
        self.kind = _K_NONE
        self.target = ""
        self.mark = (0, 0)  # MARK: (xor value, cleared mask); CONNMARK restore: (0, forgotten)


def _compile(args: tuple[str, ...]) -> _Rule:
    rule = _Rule(args)
    basic: list[tuple[_Test, str]] = []
    extra: list[tuple[_Test, str]] = []
    module: str | None = None
    proto: str | None = None
    neg = False
    i, n = 0, len(args)
    while i < n:
        tok = args[i]
        i += 1
        if tok == "!":
            neg = True
            continue
        if tok in _JUMPS:
            if i < n:
                _target(rule, args[i], args[i + 1 :], tok in _GOTOS)
            break
        if tok in _MATCHES:
            module = args[i] if i < n else ""
            i += 1
            if module not in _MODULES:
                extra.append((_unknown, f"-m {module}"))
            neg = False
            continue
        if tok in _FRAGMENT:
            basic.append((_always if neg else _never, tok))  # packets here are whole
            neg = False
            continue
        if tok[:1] != "-":
            neg = False  # a value of an option that was skipped
            continue
        if i < n and args[i] == "!":  # the old intrapositioned form: -s ! 10.0.0.0/8
            neg = True
            i += 1
        field = _BASIC.get(tok)
        if field is not None:
            value = args[i] if i < n else ""
            i += 1
            if field == "proto":
                proto = value.lower()
                basic.append((_proto_test(value, neg), f"-p {value}"))
            elif field in ("src", "dst"):
                basic.append((_addr_test(value, neg, field), f"{tok} {value}"))
                net = _network(value)
                if field == "dst" and not neg and net is not None and rule.dfast is None:
                    rule.dfast = net
            else:
                basic.append((_iface_test(value, neg, field), f"{tok} {value}"))
            neg = False
            continue
        spec = _MODULES.get(module or "", {}).get(tok)
        if spec is None and proto is not None:
            spec = _MODULES.get(proto, {}).get(tok)  # `-p tcp --dport 80` loads tcp implicitly
        if spec is None:
            if module in _MODULES:
                extra.append((_unknown, f"-m {module} {tok}"))
            neg = False
            continue
        count, what = spec
        values = args[i : i + count]
        i += count
        test = _option_test(what, values, neg)
        if test is not None:
            extra.append((test, f"-m {module or proto} {tok}"))
        neg = False
    rule.tests = (*basic, *extra)
    return rule


def _option_test(what: str, values: tuple[str, ...], neg: bool) -> _Test | None:
    if what == "ignore":
        return None
    if what == "?" or len(values) < (2 if what == "flags" else 0 if what == "syn" else 1):
        return _unknown
    if what in ("sport", "dport"):
        return _port_test(values[0], neg, "src" if what == "sport" else "dst")
    if what == "ports":
        return _port_test(values[0], neg, "any")
    if what == "syn":
        return _tcp_flags_test("FIN,SYN,RST,ACK", "SYN", neg)
    if what == "flags":
        return _tcp_flags_test(values[0], values[1], neg)
    if what == "icmp":
        return _icmp_test(values[0], neg)
    if what == "state":
        return _state_test(values[0], neg)
    if what == "mark":
        return _mark_test(values[0], neg)
    if what == "set":
        return _set_test(values[0], values[1], neg)
    return _addrtype_test(values[0], neg, "src" if what == "srctype" else "dst")


def _set_test(name: str, flags: str, neg: bool) -> _Test:
    """``-m set --match-set NAME src|dst`` for hash:ip/hash:net sets whose contents are known."""
    if flags not in ("src", "dst"):
        return _unknown  # several dimensions (ip,port...): not modelled

    def test(c: _Ctx, _m: int, _k: int) -> int:
        members = c.sets.get(name)
        a = c.src if flags == "src" else c.dst
        if members is None or a is None:
            return _UNK
        hit = any(a & mask == net for net, mask in members)
        return _YES if hit != neg else _NO

    return test


def _target(rule: _Rule, target: str, targs: tuple[str, ...], goto: bool) -> None:
    rule.target = target
    if goto:
        rule.kind = _K_GOTO
    elif target == "ACCEPT":
        rule.kind = _K_ACCEPT
    elif target == "DROP":
        rule.kind = _K_DROP
    elif target == "REJECT":
        rule.kind = _K_REJECT
    elif target == "RETURN":
        rule.kind = _K_RETURN
    elif target == "MARK":
        pair = _mark_target(targs)
        rule.kind, rule.mark = (_K_MARK, pair) if pair is not None else (_K_UNKNOWN, (0, 0))
    elif target == "CONNMARK" and "--restore-mark" in targs:
        rule.kind, rule.mark = _K_FORGET, (0, _restore_mask(targs))
    elif target in _CONTINUE:
        rule.kind = _K_CONTINUE
    elif target in _NAT:
        rule.kind = _K_NAT
    elif target in _OPAQUE:
        rule.kind = _K_UNKNOWN
    else:
        rule.kind = _K_JUMP


def _mark_target(targs: tuple[str, ...]) -> tuple[int, int] | None:
    """MARK's option as ``--set-xmark`` (xor value, cleared mask): mark = (mark & ~m) ^ v."""
    if len(targs) < 2:
        return None
    opt, pair = targs[0], _mark_pair(targs[1])
    if pair is None:
        return None
    v, m = pair
    explicit_mask = "/" in targs[1]
    if opt == "--set-xmark":
        return v, m
    if opt == "--set-mark":  # iptables loads it as --set-xmark v/(v|m): clear, then OR
        return v, (v | m) if explicit_mask else _FULL
    if opt == "--or-mark":
        return v, v
    if opt == "--and-mark":
        return 0, ~v & _FULL
    if opt == "--xor-mark":
        return v, 0
    return None


def _restore_mask(targs: tuple[str, ...]) -> int:
    """The packet mark bits ``CONNMARK --restore-mark`` overwrites from the (unknown) ctmark."""
    mask = _FULL
    for opt in ("--nfmask", "--mask"):
        if opt in targs:
            at = targs.index(opt) + 1
            pair = _mark_pair(targs[at]) if at < len(targs) else None
            if pair is not None:
                mask = pair[0]
    return mask


# Compiled rules are shared across nodes (kube-proxy's rules repeat on each) and chains.
_RULE_CACHE: dict[str, _Rule] = {}
_CHAIN_CACHE: dict[int, tuple[tuple[IptRule, ...], list[_Rule | None]]] = {}
_RULE_CACHE_MAX = 1 << 17
_CHAIN_CACHE_MAX = 1 << 12


def _compiled(rule: IptRule) -> _Rule:
    key = rule.text
    found = _RULE_CACHE.get(key) if key else None
    if found is not None and (found.args is rule.args or found.args == rule.args):
        return found
    made = _compile(rule.args)
    if key:
        if len(_RULE_CACHE) >= _RULE_CACHE_MAX:
            _RULE_CACHE.clear()
        _RULE_CACHE[key] = made
    return made


def _stub(rule: IptRule) -> _Rule:
    """The rule, compiled if it was before, else a stub that knows only its destination: a
    large kube-proxy chain is one rule per cluster IP, and a packet goes to one of them."""
    found = _RULE_CACHE.get(rule.text) if rule.text else None
    if found is not None and (found.args is rule.args or found.args == rule.args):
        return found
    stub = _Rule(rule.args)
    stub.ready = False
    if rule.destination and not rule.destination_neg:
        stub.dfast = _network(rule.destination)
    return stub


def _chain_code(chain: Chain) -> tuple[tuple[IptRule, ...], list[_Rule | None]]:
    """The chain's rules and their compiled forms, compiled as evaluation reaches them."""
    rules = chain.rules
    entry = _CHAIN_CACHE.get(id(rules))
    if entry is not None and entry[0] is rules:
        return entry
    if len(_CHAIN_CACHE) >= _CHAIN_CACHE_MAX:
        _CHAIN_CACHE.clear()
    entry = (rules, [None] * len(rules))  # the entry holds the tuple, so its id stays unique
    _CHAIN_CACHE[id(rules)] = entry
    return entry


# --- walking the chains -----------------------------------------------------------------------


class _Frame:
    __slots__ = ("code", "name", "next", "rules")

    def __init__(self, name: str, chain: Chain) -> None:
        self.name = name
        self.rules, self.code = _chain_code(chain)
        self.next = 0

    def copy(self) -> _Frame:
        other = _Frame.__new__(_Frame)
        other.name, other.rules, other.code, other.next = (
            self.name,
            self.rules,
            self.code,
            self.next,
        )
        return other


class _Walk:
    """One evaluation: the table, the packet, and the fork budget shared by every branch."""

    def __init__(
        self, chains: Mapping[str, Chain], table: str, chain: str, policy: str | None, ctx: _Ctx
    ) -> None:
        self.chains = chains
        self.table = table
        self.chain = chain
        self.policy = policy
        self.ctx = ctx
        self.forks = 0

    def decide(
        self,
        verdict: str,
        steps: list[Step],
        reason: str,
        deciding: IptRule | None = None,
        policy: str | None = None,
    ) -> Decision:
        return Decision(verdict, self.table, self.chain, deciding, policy, tuple(steps), reason)

    def run(
        self,
        frames: list[_Frame],
        mark: int,
        known: int,
        steps: list[Step],
        pending: tuple[IptRule, _Rule] | None = None,
    ) -> Decision:
        ctx = self.ctx
        dst = ctx.dst if ctx.dst is not None else -1
        while True:
            if pending is not None:
                outcome = self.act(frames, *pending, mark, known, steps)
                pending = None
                if isinstance(outcome, Decision):
                    return outcome
                mark, known = outcome
            if not frames:
                return self.end_of_builtin(steps)
            frame = frames[-1]
            rules, codes, i, n = frame.rules, frame.code, frame.next, len(frame.rules)
            found = _NO
            hit: _Rule | None = None
            while i < n:
                code = codes[i]
                if code is None:
                    code = codes[i] = _stub(rules[i])
                i += 1
                fast = code.dfast
                if fast is not None and dst >= 0 and dst & fast[1] != fast[0]:
                    continue
                if not code.ready:
                    code = codes[i - 1] = _compiled(rules[i - 1])
                found = _YES
                for test, _ in code.tests:
                    v = test(ctx, mark, known)
                    if v == _NO:
                        found = _NO
                        break
                    if v == _UNK:
                        found = _UNK
                if found == _NO or (found == _UNK and code.kind in _HARMLESS):
                    continue
                hit = code
                break
            frame.next = i
            if hit is None:  # the end of the chain: an implicit RETURN
                frames.pop()
                if frames or frame.name != self.chain:
                    steps.append(Step(frame.name, None, "return"))
                continue
            rule = rules[i - 1]
            if found == _YES:
                pending = (rule, hit)
                continue
            why = next(d for t, d in hit.tests if t(ctx, mark, known) == _UNK)
            steps.append(Step(frame.name, rule, "unknown-match", why))
            return self.fork(frames, mark, known, steps, rule, hit, why)

    def fork(
        self,
        frames: list[_Frame],
        mark: int,
        known: int,
        steps: list[Step],
        rule: IptRule,
        code: _Rule,
        why: str,
    ) -> Decision:
        self.forks += 1
        if self.forks > MAX_FORKS:
            return self.decide("unknown", steps, f"more than {MAX_FORKS} matches cannot be told")
        base = len(steps)  # the path up to the unknown match, shared by both branches
        copies = [f.copy() for f in frames]
        yes = self.run(copies, mark, known, list(steps), (rule, code))
        if yes.verdict == "unknown":
            return yes
        no = self.run(frames, mark, known, steps)
        if no.verdict == "unknown":
            return no
        where = f"{why} at line {rule.line}"
        if yes.verdict != no.verdict:
            common = no.steps[:base]
            return Decision(
                "unknown",
                self.table,
                self.chain,
                None,
                None,
                common,
                f"depends on {where}: {yes.verdict} if it matches, {no.verdict} if not",
            )
        same = yes.deciding is no.deciding or yes.deciding == no.deciding
        same = same and yes.policy == no.policy
        return Decision(
            no.verdict,
            self.table,
            self.chain,
            no.deciding if same else None,
            no.policy if same else None,
            no.steps,
            f"{no.reason}, whether or not {where} matches",
        )

    def end_of_builtin(self, steps: list[Step]) -> Decision:
        policy = self.policy
        if policy is None:
            return self.decide(
                "unknown", steps, f"end of user chain {self.chain}: its caller decides"
            )
        steps.append(Step(self.chain, None, "policy", policy))
        verdict = {"ACCEPT": "accept", "DROP": "drop"}.get(policy, "unknown")
        return self.decide(verdict, steps, f"policy {policy} of {self.chain}", None, policy)

    def act(
        self,
        frames: list[_Frame],
        rule: IptRule,
        code: _Rule,
        mark: int,
        known: int,
        steps: list[Step],
    ) -> Decision | tuple[int, int]:
        """Apply a matching rule's target: a decision, or the mark for the rules after it."""
        name = frames[-1].name
        kind = code.kind
        where = f"line {rule.line} in {name}"
        if kind in _ACTIONS:
            verdict, action = _ACTIONS[kind]
            steps.append(Step(name, rule, action))
            return self.decide(verdict, steps, f"{code.target} at {where}", rule)
        if kind == _K_CONTINUE:
            steps.append(Step(name, rule, "continue", code.target))
        elif kind in (_K_MARK, _K_FORGET):
            value, mask = code.mark
            if kind == _K_MARK:
                mark, known = ((mark & ~mask) ^ value) & _FULL, known | mask
            else:
                mark, known = mark & ~mask, known & ~mask
            detail = (
                f"{mark:#x}" if known == _FULL else f"{mark:#x} (bits {~known & _FULL:#x} unknown)"
            )
            steps.append(Step(name, rule, "mark", detail))
        elif kind == _K_RETURN:
            steps.append(Step(name, rule, "return"))
            frames.pop()
        elif kind == _K_NAT:
            detail = " ".join((code.target, *rule.target_args))
            steps.append(Step(name, rule, "accept", detail))
            return self.decide("accept", steps, f"{code.target} at {where} ends the chain", rule)
        elif kind == _K_UNKNOWN:
            steps.append(Step(name, rule, "unknown-target", code.target))
            return self.decide("unknown", steps, f"target {code.target} at {where} is not modelled")
        elif kind in (_K_JUMP, _K_GOTO):
            goto = kind == _K_GOTO
            chain = self.chains.get(code.target)
            if chain is None:
                steps.append(Step(name, rule, "unknown-target", code.target))
                what = "chain" if goto else "chain or target"
                return self.decide("unknown", steps, f"no {what} {code.target} ({where})")
            if any(f.name == code.target for f in frames):
                steps.append(Step(name, rule, "unknown-target", f"loop into {code.target}"))
                return self.decide("unknown", steps, f"loop: {code.target} reached again ({where})")
            steps.append(Step(name, rule, "goto" if goto else "jump", code.target))
            if goto:
                frames.pop()  # RETURN from the target skips the rest of this chain
            frames.append(_Frame(code.target, chain))
        return mark, known


def evaluate(ruleset: Ruleset | None, table: str, chain: str, packet: Packet) -> Decision:
    """The kernel's verdict on ``packet`` entering built-in ``chain`` of ``table``."""
    if ruleset is None:
        return Decision("unknown", table, chain, None, None, (), "iptables rules not collected")
    t = ruleset.tables.get(table)
    if t is None:
        return Decision("accept", table, chain, None, None, (), f"no {table} table loaded")
    start = t.chains.get(chain)
    if start is None:
        return Decision("accept", table, chain, None, None, (), f"no {chain} chain in {table}")
    walk = _Walk(t.chains, table, chain, start.policy, _Ctx(packet))
    return walk.run([_Frame(chain, start)], packet.mark & _FULL, _FULL, [])
