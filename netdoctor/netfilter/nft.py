"""One IPv4 packet through an nftables hook, as ``nft -j list ruleset`` describes the rules.

Sits beside the iptables evaluator, below the checks and the trace. Every filter-type base
chain of the ``ip`` and ``inet`` families on the hook runs, lowest priority first, and the
packet survives only if each of them accepts it (an accept ends one base chain, not the hook);
a drop or reject in any of them drops it. Within a chain rules run in order; ``jump`` pushes
the return position, ``goto`` does not, ``return`` and the end of a regular chain pop it, and
the end of a base chain applies its policy.

Matches are three-valued (matches, does not, cannot tell). Known: ``ip saddr/daddr/protocol``
(addresses, prefixes, ranges, anonymous and named sets with their printed elements),
``tcp/udp/sctp/th sport/dport`` (which also imply the L4 protocol, as nft adds that dependency
itself), ``meta l4proto/nfproto/protocol/iifname/oifname`` (``*`` wildcards), ``ct state``,
``ct status`` for packets that were not NATed, ``ip6 ...`` (never an IPv4 packet), verdict maps
keyed on a known match. Anything else (marks, ``xt`` matches of iptables-nft other than
comment, meters, socket, fib, ...) cannot be told; when such a rule could change the outcome
both ways are followed and the verdict holds only if they agree, else it is ``unknown``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from netdoctor.model.nftables import NftChain, NftRule, NftRuleset
from netdoctor.netfilter.packet import Packet

__all__ = ["NftDecision", "NftStep", "evaluate_hook", "rule_text"]

_NO, _YES, _UNK = 0, 1, 2
MAX_FORKS = 64

_L4 = {
    "icmp": 1,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "ospf": 89,
    "vrrp": 112,
    "igmp": 2,
    "ipencap": 4,
    "ipip": 4,
    "tcp": 6,
    "udp": 17,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "sctp": 132,
    "udplite": 136,
    "dccp": 33,
}
_PORTED = {"tcp": 6, "udp": 17, "sctp": 132, "udplite": 136, "dccp": 33}


@dataclass(frozen=True)
class NftStep:
    chain: str  # "family table chain"
    rule: NftRule | None
    action: str  # jump goto return accept drop policy unknown


@dataclass(frozen=True)
class NftDecision:
    verdict: str  # accept | drop | unknown
    chain: NftChain | None  # the base chain that decided (or the last one, on accept)
    deciding: NftRule | None  # the rule that decided; None for a policy or when forks differ
    policy: str | None  # the base chain's policy when it decided
    steps: tuple[NftStep, ...]
    reason: str  # one short English phrase for logs


# --- values ----------------------------------------------------------------------------------


def _ip(text: object) -> int | None:
    try:
        a = ipaddress.ip_address(str(text))
    except ValueError:
        return None
    return int(a) if a.version == 4 else None


def _proto(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value) if value.isdigit() else _L4.get(value.lower())
    return None


class _Pkt:
    __slots__ = ("dport", "dst", "iif", "oif", "proto", "sport", "src", "state")

    def __init__(self, p: Packet) -> None:
        self.src, self.dst = _ip(p.src), _ip(p.dst)
        self.proto = _proto(p.proto.lower())
        self.sport, self.dport = p.sport, p.dport
        self.iif, self.oif = p.in_iface, p.out_iface
        self.state = p.ctstate.lower()


def _elements(right: Any, sets: dict[str, tuple[Any, ...]]) -> tuple[list[Any], bool] | None:
    """The elements a right-hand side stands for, and whether it is a set (membership);
    None for a named set whose contents are not in the ruleset."""
    if isinstance(right, str) and right.startswith("@"):
        elems = sets.get(right[1:])
        return (list(elems), True) if elems is not None else None
    if isinstance(right, dict) and "set" in right:
        s = right["set"]
        return (list(s) if isinstance(s, list) else [s]), True
    if isinstance(right, list):
        return list(right), True
    return [right], False


def _unwrap(e: Any) -> Any:
    return e["elem"].get("val") if isinstance(e, dict) and isinstance(e.get("elem"), dict) else e


def _elem_hit(kind: str, value: Any, e: Any) -> int:
    e = _unwrap(e)
    if kind == "addr":
        if isinstance(e, dict) and "prefix" in e:
            base, plen = _ip(e["prefix"].get("addr")), e["prefix"].get("len")
            if base is None or not isinstance(plen, int):
                return _UNK
            mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
            return _YES if value & mask == base & mask else _NO
        if isinstance(e, dict) and "range" in e:
            lo, hi = (_ip(x) for x in e["range"])
            return _UNK if lo is None or hi is None else (_YES if lo <= value <= hi else _NO)
        a = _ip(e)
        return _UNK if a is None else (_YES if a == value else _NO)
    if kind in ("num", "proto"):
        if isinstance(e, dict) and "range" in e:
            lo, hi = (_proto(x) if kind == "proto" else x for x in e["range"])
            if not isinstance(lo, int) or not isinstance(hi, int):
                return _UNK
            return _YES if lo <= value <= hi else _NO
        n = _proto(e) if kind == "proto" else e
        return _UNK if not isinstance(n, int) else (_YES if n == value else _NO)
    if kind == "iface":
        if not isinstance(e, str):
            return _UNK
        if e.endswith("*") and not e.endswith("\\*"):
            return _YES if value.startswith(e[:-1]) else _NO
        return _YES if value == e.replace("\\*", "*") else _NO
    if kind == "word":
        return _YES if isinstance(e, str) and e.lower() == value else _NO
    return _UNK


def _any(results: Iterable[int]) -> int:
    out = _NO
    for r in results:
        if r == _YES:
            return _YES
        if r == _UNK:
            out = _UNK
    return out


# --- the left-hand side: what the packet has -------------------------------------------------

# (kind, value); value None = the packet has no such field (the match fails); "unknown" = UNK;
# "absent" = an implied protocol dependency fails.
_Left = tuple[str, Any]


def _left(p: _Pkt, left: Any) -> _Left | None:
    """The packet's value for a match's left side; None when it cannot be told."""
    if not isinstance(left, dict) or len(left) != 1:
        return None
    ((what, spec),) = left.items()
    if not isinstance(spec, dict):
        return None
    if what == "payload":
        proto, field = spec.get("protocol"), spec.get("field")
        if proto == "ip":
            if field == "saddr":
                return ("addr", p.src)
            if field == "daddr":
                return ("addr", p.dst)
            if field == "protocol":
                return ("proto", p.proto)
            return None
        if proto in ("ip6", "arp"):
            return ("absent", None)
        if proto in _PORTED or proto == "th":
            if field not in ("sport", "dport"):
                return None
            if proto == "th":
                if p.proto not in _PORTED.values():
                    return ("absent", None)
            elif p.proto != _PORTED[proto]:
                return ("absent", None)
            port = p.dport if field == "dport" else p.sport
            return ("num", port) if port is not None else None
        if proto in ("icmp", "igmp", "gre", "esp", "ah") and p.proto != _L4[proto]:
            return ("absent", None)
        return None
    if what == "meta":
        key = spec.get("key")
        if key == "l4proto":
            return ("proto", p.proto)
        if key == "nfproto":
            return ("word", "ipv4")
        if key == "protocol":
            return ("word", "ip")
        if key == "iifname":
            return ("iface", p.iif) if p.iif is not None else ("absent", None)
        if key == "oifname":
            return ("iface", p.oif) if p.oif is not None else ("absent", None)
        return None
    if what == "ct":
        key = spec.get("key")
        if key == "state":
            return ("word", p.state)
        if key == "status":
            return ("status", None)
        return None
    return None


def _match(p: _Pkt, m: Any, sets: dict[str, tuple[Any, ...]]) -> int:
    if not isinstance(m, dict):
        return _UNK
    op = m.get("op", "==")
    left = _left(p, m.get("left"))
    if left is None:
        return _UNK
    kind, value = left
    if kind == "absent":
        return _NO  # nft's implied dependency (udp dport -> l4proto udp) fails
    if kind == "status":
        # ct status dnat/snat: the packets evaluated here were not NATed; other bits unknown
        elems = _elements(m.get("right"), sets)
        words = [e for e in (elems[0] if elems else []) if isinstance(e, str)]
        if words and all(w in ("dnat", "snat") for w in words):
            return _YES if op == "!=" else _NO
        return _UNK
    if value is None:
        return _NO if kind in ("addr", "proto") else _UNK
    if op in ("<", ">", "<=", ">="):
        r = m.get("right")
        if kind != "num" or not isinstance(r, int):
            return _UNK
        ok = {"<": value < r, ">": value > r, "<=": value <= r, ">=": value >= r}[op]
        return _YES if ok else _NO
    elems = _elements(m.get("right"), sets)
    if elems is None:
        return _UNK
    hit = _any(_elem_hit(kind, value, e) for e in elems[0])
    if op in ("==", "in"):
        return hit
    if op == "!=":
        return {_YES: _NO, _NO: _YES}.get(hit, _UNK)
    return _UNK


# --- statements ------------------------------------------------------------------------------

_CONTINUE = frozenset(
    {"counter", "log", "limit", "mangle", "notrack", "set", "quota", "ct count", "synproxy"}
)
_VERDICTS = frozenset({"accept", "drop", "reject", "jump", "goto", "return", "continue"})


def _verdict_of(stmt: dict[str, Any]) -> tuple[str, str | None] | None:
    ((key, body),) = stmt.items()
    if key in ("accept", "drop", "return", "continue"):
        return key, None
    if key == "reject":
        return "drop", None
    if key in ("jump", "goto") and isinstance(body, dict) and isinstance(body.get("target"), str):
        return key, body["target"]
    return None


@dataclass(frozen=True)
class _Res:
    verdict: str  # accept drop unknown
    rule: NftRule | None
    policy: str | None
    steps: tuple[NftStep, ...]
    reason: str


class _Walk:
    def __init__(self, rs: NftRuleset, p: _Pkt, base: NftChain) -> None:
        self.rs, self.p, self.base = rs, p, base
        self.family, self.table = base.family, base.table
        self.sets = {
            name: s.elem
            for (fam, tab, name), s in rs.sets.items()
            if fam == self.family and tab == self.table
        }
        self.forks = 0

    def label(self, chain: str) -> str:
        return f"{self.family} {self.table} {chain}"

    def run(self, frames: tuple[tuple[str, int], ...], steps: tuple[NftStep, ...]) -> _Res:
        while frames:
            chain, idx = frames[-1]
            rules = self.rs.rules.get((self.family, self.table, chain), ())
            if idx >= len(rules):
                frames = frames[:-1]
                if not frames:
                    pol = self.base.policy or "accept"
                    st = (*steps, NftStep(self.label(chain), None, "policy"))
                    return _Res(pol, None, pol, st, f"{chain} policy {pol}")
                steps = (*steps, NftStep(self.label(chain), None, "return"))
                continue
            rule = rules[idx]
            frames = (*frames[:-1], (chain, idx + 1))
            outcome = self.rule(rule)
            if outcome is None:
                continue  # did not match, or matched without a verdict
            certain, action, target = outcome
            if not certain:
                self.forks += 1
                if self.forks > MAX_FORKS:
                    return _Res("unknown", rule, None, steps, "too many undecidable rules")
                taken = self.apply(rule, action, target, frames, steps)
                skipped = self.run(frames, steps)
                if taken.verdict == skipped.verdict:
                    same = taken.rule is skipped.rule and taken.policy == skipped.policy
                    return _Res(
                        taken.verdict,
                        taken.rule if same else None,
                        taken.policy if same else None,
                        taken.steps,
                        taken.reason,
                    )
                st = (*steps, NftStep(self.label(chain), rule, "unknown"))
                return _Res("unknown", rule, None, st, f"cannot tell: {rule_text(rule)}")
            return self.apply(rule, action, target, frames, steps)
        return _Res("unknown", None, None, steps, "empty walk")

    def apply(
        self,
        rule: NftRule,
        action: str,
        target: str | None,
        frames: tuple[tuple[str, int], ...],
        steps: tuple[NftStep, ...],
    ) -> _Res:
        st = (*steps, NftStep(self.label(rule.chain), rule, action))
        if action in ("accept", "drop"):
            return _Res(action, rule, None, st, f"{action} by {rule_text(rule)}")
        if action == "unknown":
            return _Res("unknown", rule, None, st, f"cannot tell: {rule_text(rule)}")
        if action == "return":
            frames = frames[:-1]
            if not frames:
                pol = self.base.policy or "accept"
                return _Res(pol, None, pol, st, f"return from base chain: policy {pol}")
            return self.run(frames, st)
        if action == "continue":
            return self.run(frames, st)
        assert target is not None
        if (self.family, self.table, target) not in self.rs.chains:
            return _Res("unknown", rule, None, st, f"no chain {target}")
        if len(frames) > 16:
            return _Res("unknown", rule, None, st, "jump stack too deep")
        # goto replaces the current frame (no return to it); jump pushes a new one
        frames = (*frames[:-1], (target, 0)) if action == "goto" else (*frames, (target, 0))
        return self.run(frames, st)

    def rule(self, rule: NftRule) -> tuple[bool, str, str | None] | None:
        """(certain, action, target) when the rule matches (or may); None when it does not
        match or has no verdict."""
        certain = True
        for stmt in rule.expr:
            if len(stmt) != 1:
                return (False, "unknown", None)
            ((key, body),) = stmt.items()
            if key == "match":
                r = _match(self.p, body, self.sets)
                if r == _NO:
                    return None
                if r == _UNK:
                    certain = False
                continue
            if key in _CONTINUE:
                continue
            if key == "xt":
                name = body.get("name") if isinstance(body, dict) else None
                if isinstance(body, dict) and body.get("type") == "match" and name == "comment":
                    continue
                if isinstance(body, dict) and body.get("type") == "match":
                    certain = False
                    continue
                return (certain, "unknown", None)
            if key == "vmap":
                return self.vmap(body, certain)
            v = _verdict_of(stmt)
            if v is not None:
                return (certain, v[0], v[1])
            return (certain, "unknown", None)  # queue, fwd, dup, a statement not modelled
        return None

    def vmap(self, body: Any, certain: bool) -> tuple[bool, str, str | None] | None:
        if not isinstance(body, dict):
            return (certain, "unknown", None)
        left = _left(self.p, body.get("key"))
        data = body.get("data")
        pairs = data.get("set") if isinstance(data, dict) else None
        if left is None or not isinstance(pairs, list):
            return (certain, "unknown", None)
        kind, value = left
        if kind == "absent" or value is None:
            return None
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], dict):
                return (certain, "unknown", None)
            hit = _elem_hit(kind, value, pair[0])
            if hit == _UNK:
                return (False, "unknown", None)
            if hit == _YES:
                v = _verdict_of(pair[1])
                return (certain, v[0], v[1]) if v else (certain, "unknown", None)
        return None


def evaluate_hook(
    ruleset: NftRuleset,
    hook: str,
    packet: Packet,
    *,
    skip_tables: frozenset[tuple[str, str]] = frozenset(),
) -> NftDecision:
    """The verdict of every filter base chain on ``hook`` (``input``, ``forward``, ...) of the
    ``ip`` and ``inet`` families for one IPv4 packet. ``skip_tables`` leaves out (family, table)
    pairs evaluated elsewhere (iptables-nft's own tables, which ``iptables-save`` shows)."""
    p = _Pkt(packet)
    chains = [
        c
        for c in ruleset.base_chains(hook, ("ip", "inet"))
        if (c.family, c.table) not in skip_tables
    ]
    if not chains:
        return NftDecision("accept", None, None, None, (), f"no base chain on {hook}")
    steps: list[NftStep] = []
    unknown: NftDecision | None = None
    last: NftDecision | None = None
    for c in chains:
        res = _Walk(ruleset, p, c).run(((c.name, 0),), ())
        steps += res.steps
        d = NftDecision(res.verdict, c, res.rule, res.policy, tuple(steps), res.reason)
        if res.verdict == "drop":
            return d
        if res.verdict == "unknown" and unknown is None:
            unknown = d
        last = d
    return unknown or last or NftDecision("accept", None, None, None, (), "accepted")


# --- text ------------------------------------------------------------------------------------


def _right_text(r: Any) -> str:
    if isinstance(r, dict):
        if "prefix" in r:
            return f"{r['prefix'].get('addr')}/{r['prefix'].get('len')}"
        if "range" in r and isinstance(r["range"], list) and len(r["range"]) == 2:
            return f"{r['range'][0]}-{r['range'][1]}"
        if "set" in r:
            items = r["set"] if isinstance(r["set"], list) else [r["set"]]
            return "{ " + ", ".join(_right_text(_unwrap(i)) for i in items) + " }"
        return str(r)
    if isinstance(r, list):
        return ",".join(_right_text(i) for i in r)
    if isinstance(r, str) and " " in r:
        return f'"{r}"'
    return str(r)


def _left_text(left: Any) -> str:
    if isinstance(left, dict) and len(left) == 1:
        ((what, spec),) = left.items()
        if isinstance(spec, dict):
            if what == "payload":
                return f"{spec.get('protocol')} {spec.get('field')}"
            if what == "meta":
                key = spec.get("key")
                return str(key) if key in ("iifname", "oifname", "iif", "oif") else f"meta {key}"
            if what == "ct":
                return f"ct {spec.get('key')}"
    return str(left)


def rule_text(rule: NftRule) -> str:
    """The rule in nft's own syntax, as `nft list ruleset` would print it (close enough to
    recognise; the handle identifies it exactly)."""
    words: list[str] = []
    for stmt in rule.expr:
        if len(stmt) != 1:
            continue
        ((key, body),) = stmt.items()
        if key == "match" and isinstance(body, dict):
            op = body.get("op", "==")
            words.append(_left_text(body.get("left")))
            if op not in ("==", "in"):
                words.append(op)
            words.append(_right_text(body.get("right")))
        elif key in ("jump", "goto") and isinstance(body, dict):
            words.append(f"{key} {body.get('target')}")
        elif key == "reject":
            words.append("reject")
        elif key == "xt" and isinstance(body, dict):
            words.append(f"xt {body.get('type')} {body.get('name')}")
        elif key == "counter":
            continue
        else:
            words.append(key)
    if rule.comment:
        words.append(f'comment "{rule.comment}"')
    return " ".join(words)
