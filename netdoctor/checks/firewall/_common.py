"""What both firewall checks share: the rule or policy that certainly drops one packet in a
node's filter chain (``firewall_drop``: iptables-save first, then the nftables tables it does
not show; ``Blocked`` says where and how to undo it). The route index, pod sample and arrival
interface they also use live in ``checks/_support/noderoutes.py``.

Checks layer, below ``forward`` and ``overlay_port``; it registers no check (a module whose name
starts with ``_`` is not scanned).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netdoctor.checks._support.registry import Note, Skip
from netdoctor.model.findings import Evidence, Message
from netdoctor.model.nftables import NftRuleset, decode_ruleset
from netdoctor.model.nodefacts import IptRule, NetFacts
from netdoctor.model.snapshot import Snapshot
from netdoctor.netfilter import Decision, Packet, evaluate
from netdoctor.netfilter.nft import NftDecision, evaluate_hook, rule_text

__all__ = [
    "POLICY_CHAINS",
    "Blocked",
    "firewall_drop",
    "nft_of",
    "no_firewall_note",
    "no_firewall_skip",
]


# Chains that enforce NetworkPolicy (Calico's per-endpoint and per-policy chains, kube-router's,
# the lab's): a drop there is a policy's verdict on one flow (NET-701), not the node's FORWARD.
POLICY_CHAINS = ("cali-tw-", "cali-fw-", "cali-pi-", "cali-po-", "KUBE-POD-FW-", "KUBE-NWPLCY-")


def _delete_command(rule: IptRule, table: str) -> str:
    spec = rule.text.strip()
    if spec.startswith("-A "):
        spec = "-D " + spec[3:]
    return f"iptables -t {table} {spec}" if table != "filter" else f"iptables {spec}"


# iptables-nft writes these tables; iptables-save shows them, so the nft walk leaves them out
_IPTABLES_NFT_TABLES = frozenset(("ip", t) for t in ("filter", "nat", "mangle", "raw", "security"))


@dataclass(frozen=True)
class Blocked:
    """A certain drop, from iptables-save or the nft ruleset: the rule (or policy), where it
    is written, and how to undo it."""

    evidence: Evidence
    params: dict[str, str]  # rule, line, chain (iptables) / handle, chain, table (nft)
    variant: str  # rule | default (iptables), nft_rule | nft_policy
    delete: str | None  # the command that deletes the dropping rule
    insert_at: str  # where an accept goes first: "iptables -I INPUT 1" / "nft insert rule ..."
    nft: bool
    key: str  # the same rule, for grouping peers


def _ipt_blocked(snap: Snapshot, node: str, d: Decision) -> Blocked:
    source = snap.node_source(node, "iptables")
    rule: IptRule | None = d.deciding
    if rule is not None:
        ev = Evidence(
            source=source,
            object=f"Node/{node}",
            field=f"line {rule.line}",
            value=rule.text,
            node=node,
        )
        params = {"rule": rule.text, "line": str(rule.line), "chain": rule.chain}
        return Blocked(
            ev,
            params,
            "rule",
            _delete_command(rule, d.table),
            f"iptables -I {d.chain} 1",
            False,
            f"ipt:{rule.line}",
        )
    policy = f":{d.chain} {d.policy or 'DROP'}"
    ev = Evidence(
        source=source,
        object=f"Node/{node}",
        field=f"*{d.table} :{d.chain}",
        value=policy,
        node=node,
    )
    return Blocked(
        ev,
        {"rule": policy, "line": "", "chain": d.chain},
        "default",
        None,
        f"iptables -I {d.chain} 1",
        False,
        f"ipt:policy:{d.chain}",
    )


def _nft_blocked(snap: Snapshot, node: str, d: NftDecision) -> Blocked:
    source = snap.node_source(node, "nft")
    base = d.chain
    assert base is not None
    insert_at = f"nft insert rule {base.family} {base.table} {base.name}"
    rule = d.deciding
    if rule is not None:
        text = rule_text(rule)
        where = f"table {rule.family} {rule.table} chain {rule.chain} handle {rule.handle}"
        ev = Evidence(
            source=source,
            object=f"Node/{node}",
            field=f"{where} (rule {rule.index})",
            value=text,
            node=node,
        )
        params = {
            "rule": text,
            "handle": str(rule.handle),
            "chain": rule.chain,
            "table": f"{rule.family} {rule.table}",
        }
        delete = f"nft delete rule {rule.family} {rule.table} {rule.chain} handle {rule.handle}"
        return Blocked(ev, params, "nft_rule", delete, insert_at, True, f"nft:{where}")
    where = f"table {base.family} {base.table} chain {base.name}"
    policy = f"policy {base.policy or 'drop'}"
    ev = Evidence(source=source, object=f"Node/{node}", field=where, value=policy, node=node)
    params = {
        "rule": policy,
        "handle": "",
        "chain": base.name,
        "table": f"{base.family} {base.table}",
    }
    return Blocked(ev, params, "nft_policy", None, insert_at, True, f"nft:{where}:policy")


def nft_of(facts: NetFacts, cache: dict[int, NftRuleset | None]) -> NftRuleset | None:
    if facts.nft is None:
        return None
    key = id(facts.nft)
    if key not in cache:
        try:
            cache[key] = decode_ruleset(facts.nft)
        except ValueError:
            cache[key] = None  # the bundle reader refuses such a file; never reached from it
    return cache[key]


def firewall_drop(
    snap: Snapshot,
    node: str,
    facts: NetFacts,
    chain: str,
    packet: Packet,
    nft_cache: dict[int, NftRuleset | None],
    *,
    ignore: Callable[[Decision], bool] | None = None,
) -> Blocked | None:
    """The rule or policy on ``node`` that certainly drops ``packet`` in the filter ``chain``
    (INPUT, FORWARD): iptables-save first, then the nftables tables iptables-save does not show."""
    if facts.iptables is not None:
        d = evaluate(facts.iptables, "filter", chain, packet)
        if d.verdict == "drop" and not (ignore and ignore(d)):
            return _ipt_blocked(snap, node, d)
    rs = nft_of(facts, nft_cache)
    if rs is not None:
        legacy = facts.iptables is not None and facts.iptables.backend == "legacy"
        skip = frozenset() if facts.iptables is None or legacy else _IPTABLES_NFT_TABLES
        nd = evaluate_hook(rs, chain.lower(), packet, skip_tables=skip)
        if nd.verdict == "drop" and not _nft_policy_drop(nd):
            return _nft_blocked(snap, node, nd)
    return None


def _nft_policy_drop(d: NftDecision) -> bool:
    rule = d.deciding
    if rule is not None and "policy" in (rule.comment or "").lower():
        return True
    return any(step.chain.rsplit(" ", 1)[-1].startswith(POLICY_CHAINS) for step in d.steps)


def no_firewall_note(snap: Snapshot, node: str) -> Note:
    paths = f"{snap.node_source(node, 'iptables')}, {snap.node_source(node, 'nft')}"
    return Note(Message("note.node_file_missing", {"node": node, "path": paths}))


def no_firewall_skip(snap: Snapshot) -> Skip | None:
    if snap.has("node.iptables") or snap.has("node.nft"):
        return None
    paths = f"{snap.source('node.iptables')}, {snap.source('node.nft')}"
    return Skip(Message("skip.missing", {"path": paths}))
