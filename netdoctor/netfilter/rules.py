"""One iptables rule compiled from its ``iptables-save`` arguments: its tests (cheapest first)
and what its target does; compiled rules and chains are cached across nodes.

Part of the firewall evaluation (``netdoctor.netfilter``): ``iptables`` walks the chains over
these. A match this module does not model compiles to a test that cannot tell (``UNK``), never
to a guess.
"""

from __future__ import annotations

from netdoctor.model.nodefacts import Chain, IptRule
from netdoctor.netfilter.matches import (
    NO,
    UNK,
    YES,
    Test,
    addr_test,
    addrtype_test,
    always,
    icmp_test,
    iface_test,
    mark_pair,
    mark_test,
    never,
    port_test,
    proto_test,
    state_test,
    tcp_flags_test,
    unknown,
)
from netdoctor.netfilter.packet import FULL, Ctx, network

__all__ = [
    "ACTIONS",
    "HARMLESS",
    "K_ACCEPT",
    "K_CONTINUE",
    "K_DROP",
    "K_FORGET",
    "K_GOTO",
    "K_JUMP",
    "K_MARK",
    "K_NAT",
    "K_NONE",
    "K_REJECT",
    "K_RETURN",
    "K_UNKNOWN",
    "Rule",
    "chain_code",
    "compiled",
    "stub",
]

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
    K_NONE,
    K_ACCEPT,
    K_DROP,
    K_REJECT,
    K_RETURN,
    K_JUMP,
    K_GOTO,
    K_MARK,
    K_FORGET,
    K_CONTINUE,
    K_NAT,
    K_UNKNOWN,
) = range(12)
HARMLESS = frozenset({K_NONE, K_CONTINUE})

ACTIONS = {
    K_ACCEPT: ("accept", "accept"),
    K_DROP: ("drop", "drop"),
    K_REJECT: ("drop", "reject"),
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


class Rule:
    """One rule, compiled: its tests (cheapest first) and what its target does."""

    __slots__ = ("args", "dfast", "kind", "mark", "ready", "target", "tests")

    def __init__(self, args: tuple[str, ...]) -> None:
        self.args = args
        self.ready = True  # False: a stub that knows only the destination (see stub)
        self.tests: tuple[tuple[Test, str], ...] = ()
        self.dfast: tuple[int, int] | None = None  # a positive -d with one network: skip fast
        self.kind = K_NONE
        self.target = ""
        self.mark = (0, 0)  # MARK: (xor value, cleared mask); CONNMARK restore: (0, forgotten)


def _compile(args: tuple[str, ...]) -> Rule:
    rule = Rule(args)
    basic: list[tuple[Test, str]] = []
    extra: list[tuple[Test, str]] = []
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
                extra.append((unknown, f"-m {module}"))
            neg = False
            continue
        if tok in _FRAGMENT:
            basic.append((always if neg else never, tok))  # packets here are whole
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
                basic.append((proto_test(value, neg), f"-p {value}"))
            elif field in ("src", "dst"):
                basic.append((addr_test(value, neg, field), f"{tok} {value}"))
                net = network(value)
                if field == "dst" and not neg and net is not None and rule.dfast is None:
                    rule.dfast = net
            else:
                basic.append((iface_test(value, neg, field), f"{tok} {value}"))
            neg = False
            continue
        spec = _MODULES.get(module or "", {}).get(tok)
        if spec is None and proto is not None:
            spec = _MODULES.get(proto, {}).get(tok)  # `-p tcp --dport 80` loads tcp implicitly
        if spec is None:
            if module in _MODULES:
                extra.append((unknown, f"-m {module} {tok}"))
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


def _option_test(what: str, values: tuple[str, ...], neg: bool) -> Test | None:
    if what == "ignore":
        return None
    if what == "?" or len(values) < (2 if what == "flags" else 0 if what == "syn" else 1):
        return unknown
    if what in ("sport", "dport"):
        return port_test(values[0], neg, "src" if what == "sport" else "dst")
    if what == "ports":
        return port_test(values[0], neg, "any")
    if what == "syn":
        return tcp_flags_test("FIN,SYN,RST,ACK", "SYN", neg)
    if what == "flags":
        return tcp_flags_test(values[0], values[1], neg)
    if what == "icmp":
        return icmp_test(values[0], neg)
    if what == "state":
        return state_test(values[0], neg)
    if what == "mark":
        return mark_test(values[0], neg)
    if what == "set":
        return _set_test(values[0], values[1], neg)
    return addrtype_test(values[0], neg, "src" if what == "srctype" else "dst")


def _set_test(name: str, flags: str, neg: bool) -> Test:
    """``-m set --match-set NAME src|dst`` for hash:ip/hash:net sets whose contents are known."""
    if flags not in ("src", "dst"):
        return unknown  # several dimensions (ip,port...): not modelled

    def test(c: Ctx, _m: int, _k: int) -> int:
        members = c.sets.get(name)
        a = c.src if flags == "src" else c.dst
        if members is None or a is None:
            return UNK
        hit = any(a & mask == net for net, mask in members)
        return YES if hit != neg else NO

    return test


def _target(rule: Rule, target: str, targs: tuple[str, ...], goto: bool) -> None:
    rule.target = target
    if goto:
        rule.kind = K_GOTO
    elif target == "ACCEPT":
        rule.kind = K_ACCEPT
    elif target == "DROP":
        rule.kind = K_DROP
    elif target == "REJECT":
        rule.kind = K_REJECT
    elif target == "RETURN":
        rule.kind = K_RETURN
    elif target == "MARK":
        pair = _mark_target(targs)
        rule.kind, rule.mark = (K_MARK, pair) if pair is not None else (K_UNKNOWN, (0, 0))
    elif target == "CONNMARK" and "--restore-mark" in targs:
        rule.kind, rule.mark = K_FORGET, (0, _restore_mask(targs))
    elif target in _CONTINUE:
        rule.kind = K_CONTINUE
    elif target in _NAT:
        rule.kind = K_NAT
    elif target in _OPAQUE:
        rule.kind = K_UNKNOWN
    else:
        rule.kind = K_JUMP


def _mark_target(targs: tuple[str, ...]) -> tuple[int, int] | None:
    """MARK's option as ``--set-xmark`` (xor value, cleared mask): mark = (mark & ~m) ^ v."""
    if len(targs) < 2:
        return None
    opt, pair = targs[0], mark_pair(targs[1])
    if pair is None:
        return None
    v, m = pair
    explicit_mask = "/" in targs[1]
    if opt == "--set-xmark":
        return v, m
    if opt == "--set-mark":  # iptables loads it as --set-xmark v/(v|m): clear, then OR
        return v, (v | m) if explicit_mask else FULL
    if opt == "--or-mark":
        return v, v
    if opt == "--and-mark":
        return 0, ~v & FULL
    if opt == "--xor-mark":
        return v, 0
    return None


def _restore_mask(targs: tuple[str, ...]) -> int:
    """The packet mark bits ``CONNMARK --restore-mark`` overwrites from the (unknown) ctmark."""
    mask = FULL
    for opt in ("--nfmask", "--mask"):
        if opt in targs:
            at = targs.index(opt) + 1
            pair = mark_pair(targs[at]) if at < len(targs) else None
            if pair is not None:
                mask = pair[0]
    return mask


# Compiled rules are shared across nodes (kube-proxy's rules repeat on each) and chains.
_RULE_CACHE: dict[str, Rule] = {}
_CHAIN_CACHE: dict[int, tuple[tuple[IptRule, ...], list[Rule | None]]] = {}
_RULE_CACHE_MAX = 1 << 17
_CHAIN_CACHE_MAX = 1 << 12


def compiled(rule: IptRule) -> Rule:
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


def stub(rule: IptRule) -> Rule:
    """The rule, compiled if it was before, else a stub that knows only its destination: a
    large kube-proxy chain is one rule per cluster IP, and a packet goes to one of them."""
    found = _RULE_CACHE.get(rule.text) if rule.text else None
    if found is not None and (found.args is rule.args or found.args == rule.args):
        return found
    made = Rule(rule.args)
    made.ready = False
    if rule.destination and not rule.destination_neg:
        made.dfast = network(rule.destination)
    return made


def chain_code(chain: Chain) -> tuple[tuple[IptRule, ...], list[Rule | None]]:
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
