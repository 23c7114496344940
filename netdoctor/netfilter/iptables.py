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

The code: the packet and the result are in ``packet``, the match modules in ``matches``, the
compiled rules in ``rules``; this module walks the chains (``evaluate``).
"""

from __future__ import annotations

from collections.abc import Mapping

from netdoctor.model.nodefacts import Chain, IptRule, Ruleset
from netdoctor.netfilter.matches import NO, UNK, YES
from netdoctor.netfilter.packet import FULL, Ctx, Decision, Packet, Step
from netdoctor.netfilter.rules import (
    ACTIONS,
    HARMLESS,
    K_CONTINUE,
    K_FORGET,
    K_GOTO,
    K_JUMP,
    K_MARK,
    K_NAT,
    K_RETURN,
    K_UNKNOWN,
    Rule,
    chain_code,
    compiled,
    stub,
)

__all__ = ["MAX_FORKS", "Decision", "Packet", "Step", "evaluate"]

MAX_FORKS = 64


# --- walking the chains -----------------------------------------------------------------------


class _Frame:
    __slots__ = ("code", "name", "next", "rules")

    def __init__(self, name: str, chain: Chain) -> None:
        self.name = name
        self.rules, self.code = chain_code(chain)
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
        self, chains: Mapping[str, Chain], table: str, chain: str, policy: str | None, ctx: Ctx
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
        pending: tuple[IptRule, Rule] | None = None,
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
            found = NO
            hit: Rule | None = None
            while i < n:
                code = codes[i]
                if code is None:
                    code = codes[i] = stub(rules[i])
                i += 1
                fast = code.dfast
                if fast is not None and dst >= 0 and dst & fast[1] != fast[0]:
                    continue
                if not code.ready:
                    code = codes[i - 1] = compiled(rules[i - 1])
                found = YES
                for test, _ in code.tests:
                    v = test(ctx, mark, known)
                    if v == NO:
                        found = NO
                        break
                    if v == UNK:
                        found = UNK
                if found == NO or (found == UNK and code.kind in HARMLESS):
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
            if found == YES:
                pending = (rule, hit)
                continue
            why = next(d for t, d in hit.tests if t(ctx, mark, known) == UNK)
            steps.append(Step(frame.name, rule, "unknown-match", why))
            return self.fork(frames, mark, known, steps, rule, hit, why)

    def fork(
        self,
        frames: list[_Frame],
        mark: int,
        known: int,
        steps: list[Step],
        rule: IptRule,
        code: Rule,
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
        code: Rule,
        mark: int,
        known: int,
        steps: list[Step],
    ) -> Decision | tuple[int, int]:
        """Apply a matching rule's target: a decision, or the mark for the rules after it."""
        name = frames[-1].name
        kind = code.kind
        where = f"line {rule.line} in {name}"
        if kind in ACTIONS:
            verdict, action = ACTIONS[kind]
            steps.append(Step(name, rule, action))
            return self.decide(verdict, steps, f"{code.target} at {where}", rule)
        if kind == K_CONTINUE:
            steps.append(Step(name, rule, "continue", code.target))
        elif kind in (K_MARK, K_FORGET):
            value, mask = code.mark
            if kind == K_MARK:
                mark, known = ((mark & ~mask) ^ value) & FULL, known | mask
            else:
                mark, known = mark & ~mask, known & ~mask
            detail = (
                f"{mark:#x}" if known == FULL else f"{mark:#x} (bits {~known & FULL:#x} unknown)"
            )
            steps.append(Step(name, rule, "mark", detail))
        elif kind == K_RETURN:
            steps.append(Step(name, rule, "return"))
            frames.pop()
        elif kind == K_NAT:
            detail = " ".join((code.target, *rule.target_args))
            steps.append(Step(name, rule, "accept", detail))
            return self.decide("accept", steps, f"{code.target} at {where} ends the chain", rule)
        elif kind == K_UNKNOWN:
            steps.append(Step(name, rule, "unknown-target", code.target))
            return self.decide("unknown", steps, f"target {code.target} at {where} is not modelled")
        elif kind in (K_JUMP, K_GOTO):
            goto = kind == K_GOTO
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
    walk = _Walk(t.chains, table, chain, start.policy, Ctx(packet))
    return walk.run([_Frame(chain, start)], packet.mark & FULL, FULL, [])
