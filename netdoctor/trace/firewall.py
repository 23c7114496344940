"""The node's filter chains a packet crosses: iptables (``iptables-save``), then the nftables
base chains on the same hook that iptables-save does not show.

Part of the trace (``netdoctor.trace``); the rules are evaluated by ``netdoctor.netfilter``, the
cause of a drop is named by ``netdoctor.trace.causes``.
"""

from __future__ import annotations

from netdoctor.model.findings import Evidence
from netdoctor.model.nftables import decode_ruleset
from netdoctor.model.nodefacts import NetFacts
from netdoctor.netfilter import Packet, evaluate
from netdoctor.netfilter.nft import evaluate_hook
from netdoctor.netfilter.nft import rule_text as nft_rule_text
from netdoctor.trace.causes import chain_cause
from netdoctor.trace.evidence import ipt_rule_ev
from netdoctor.trace.walk import Pkt, Walk

__all__ = ["filter_chain", "nft_chain"]

# iptables-nft's own tables: iptables-save shows them, so the nft walk leaves them out
_IPT_NFT_TABLES = frozenset(("ip", t) for t in ("filter", "nat", "mangle", "raw", "security"))


def filter_chain(
    w: Walk,
    node: str,
    nfacts: NetFacts,
    chain: str,
    pkt: Pkt,
    in_iface: str | None,
    out_iface: str | None,
) -> None:
    stage = {"FORWARD": "filter-forward", "INPUT": "filter-input", "OUTPUT": "filter-output"}[chain]
    if nfacts.iptables is None and nfacts.nft is None:
        w.missing(stage, w.snap.node_source(node, "iptables"), node)
        return
    packet = Packet(
        src=pkt.src,
        dst=pkt.dst,
        proto=pkt.proto,
        sport=pkt.sport,
        dport=pkt.dport,
        in_iface=in_iface,
        out_iface=out_iface,
        ctstate=pkt.ctstate,
        local_addresses=w.node_addresses(nfacts),
        ipsets=w.idx.felix_sets,
    )
    if nfacts.iptables is None:
        nft_chain(w, node, nfacts, stage, chain, packet, pkt, accept_hop=True)
        return
    d = evaluate(nfacts.iptables, "filter", chain, packet)
    ev: list[Evidence] = []
    src = w.snap.node_source(node, "iptables")
    if d.deciding is not None:
        ev.append(ipt_rule_ev(src, node, d.deciding))
    elif d.policy is not None:
        ev.append(
            Evidence(
                source=src,
                object=f"Chain/filter/{d.chain}",
                field="policy",
                value=d.policy,
                node=node,
            )
        )
    params = {
        "node": node,
        "chain": chain,
        "in": in_iface or "",
        "out": out_iface or "",
        "rule": d.deciding.text if d.deciding else "",
        "policy": d.policy or "",
    }
    if d.verdict == "accept":
        w.hop(stage, "pass", "accept", params, ev, node=node)
        nft_chain(w, node, nfacts, stage, chain, packet, pkt, accept_hop=False)
        return
    if d.verdict == "drop":
        w.hop(
            stage,
            "drop",
            "rule" if d.deciding else "policy",
            params,
            ev,
            node=node,
            cause=chain_cause(chain, d.deciding, pkt),
        )
        return
    # Cannot tell (an ipset, a physdev match): go on as if accepted, so that a certain
    # drop further on still decides; the path stays unknown otherwise.
    w.hop(
        stage,
        "unknown",
        "unknown",
        params,
        ev,
        node=node,
        cause=chain_cause(chain, d.deciding, pkt),
    )


def nft_chain(
    w: Walk,
    node: str,
    nfacts: NetFacts,
    stage: str,
    chain: str,
    packet: Packet,
    pkt: Pkt,
    *,
    accept_hop: bool,
) -> None:
    """The nftables base chains on the same hook that iptables-save does not show: the
    packet must get through them too (netdoctor.netfilter.nft)."""
    if nfacts.nft is None:
        return
    try:
        rs = decode_ruleset(nfacts.nft)
    except ValueError:
        return  # the bundle reader refuses such a file
    legacy = nfacts.iptables is not None and nfacts.iptables.backend == "legacy"
    skip = _IPT_NFT_TABLES if nfacts.iptables is not None and not legacy else frozenset()
    d = evaluate_hook(rs, chain.lower(), packet, skip_tables=skip)
    if d.chain is None and d.verdict == "accept":
        return  # no base chain of its own on this hook
    src = w.snap.node_source(node, "nft")
    base = d.chain
    where = f"table {base.family} {base.table} chain {base.name}" if base else ""
    ev = []
    rule = d.deciding
    if rule is not None:
        ev.append(
            Evidence(
                source=src,
                object=f"Node/{node}",
                field=(f"table {rule.family} {rule.table} chain {rule.chain} handle {rule.handle}"),
                value=nft_rule_text(rule),
                node=node,
            )
        )
    elif d.policy is not None:
        ev.append(
            Evidence(
                source=src,
                object=f"Node/{node}",
                field=where,
                value=f"policy {d.policy}",
                node=node,
            )
        )
    params = {
        "node": node,
        "chain": chain,
        "in": packet.in_iface or "",
        "out": packet.out_iface or "",
        "table": f"{base.family} {base.table} {base.name}" if base else "",
        "rule": nft_rule_text(rule) if rule else f"policy {d.policy or ''}",
    }
    if d.verdict == "accept":
        if accept_hop:
            w.hop(stage, "pass", "nft_accept", params, ev, node=node)
        return
    w.hop(
        stage,
        "drop" if d.verdict == "drop" else "unknown",
        "nft_drop" if d.verdict == "drop" else "nft_unknown",
        params,
        ev,
        node=node,
        cause=chain_cause(chain, None, pkt),
    )
