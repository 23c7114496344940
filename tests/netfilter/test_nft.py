"""The nft ruleset parser and evaluator over real `nft -j list ruleset` captures
(tests/fixtures/commands/nft/capture.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdoctor.errors import ParseError
from netdoctor.netfilter import Packet
from netdoctor.netfilter.nft import evaluate_hook, rule_text
from netdoctor.parsers.nft import parse_nft_ruleset

NFT = Path(__file__).resolve().parents[1] / "fixtures" / "commands" / "nft"


def ruleset(name: str):
    f = NFT / f"nft-ruleset-{name}.json"
    return parse_nft_ruleset(f.read_bytes(), str(f))


def verdict(name: str, hook: str, src: str, proto: str, dport: int | None = None, **kw):
    d = evaluate_hook(
        ruleset(name),
        hook,
        Packet(src=src, dst=kw.pop("dst", "10.6.131.36"), proto=proto, dport=dport, **kw),
    )
    rule = d.deciding
    return d.verdict, d.chain.name if d.chain else None, rule.handle if rule else d.policy


def test_the_parser_keeps_hooks_priorities_policies_handles_and_positions():
    rs = ruleset("host")
    assert [
        (c.table, c.name, c.prio, c.policy) for c in rs.base_chains("input", ("ip", "inet"))
    ] == [
        ("extra", "input_early", -10, "accept"),
        ("filter", "input", 0, "drop"),
    ]
    vxlan = next(r for r in rs.rules[("inet", "filter", "input")] if r.handle == 12)
    assert vxlan.index == 6
    assert (
        rule_text(vxlan)
        == 'ip saddr 10.6.131.0/24 udp dport 8472 drop comment "block vxlan from the rack"'
    )
    assert rs.sets[("inet", "filter", "k8s_peers")].elem == ("10.6.131.10", "10.6.131.35")


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (b'{"nftables": [{"rule": {"family": "inet", "table": "filter"}}]}', "'chain'"),
        (
            b'{"nftables": [{"chain": {"family": "ip", "table": "t", "name": "c", "prio": "x"}}]}',
            "prio",
        ),
        (
            b'{"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c", "expr": 3}}]}',
            "expr",
        ),
        (b'{"nftables": [1]}', "item 0"),
    ],
)
def test_malformed_rulesets_are_one_parse_error_naming_the_file(doc, problem):
    with pytest.raises(ParseError) as e:
        parse_nft_ruleset(doc, "nodes/n1/nft-ruleset.json")
    assert "nodes/n1/nft-ruleset.json" in str(e.value)
    assert problem in str(e.value)


def test_a_drop_of_vxlan_from_the_rack_prefix_is_named_by_its_handle():
    assert verdict("host", "input", "10.6.131.35", "udp", 8472) == ("drop", "input", 12)


def test_a_named_set_of_peers_accepts_bgp_and_others_fall_to_the_drop_policy():
    assert verdict("host", "input", "10.6.131.35", "tcp", 179) == ("accept", "input", 13)
    assert verdict("host", "input", "10.6.132.35", "tcp", 179) == ("drop", "input", "drop")


def test_every_base_chain_on_the_hook_must_accept_in_priority_order():
    # input_early (prio -10) accepts IPIP from 10.6.131.0/24, but inet input has no accept for it
    assert verdict("host", "input", "10.6.131.35", "ipip") == ("drop", "input", "drop")
    # from outside the interval set, the earlier chain drops it first
    assert verdict("host", "input", "10.9.131.35", "ipip") == ("drop", "input_early", 3)


def test_jump_and_return_follow_the_calling_chain():
    fwd = {"dst": "10.30.2.3", "in_iface": "cali1"}
    assert verdict("host", "forward", "10.30.1.2", "tcp", 80, out_iface="tunl0", **fwd) == (
        "accept",
        "forward",
        20,
    )
    # pods returns for docker0, then nothing else accepts: the forward policy drops it
    assert verdict("host", "forward", "10.30.1.2", "tcp", 80, out_iface="docker0", **fwd) == (
        "drop",
        "forward",
        "drop",
    )


def test_firewalld_rejects_what_its_zone_does_not_allow_through_gotos():
    assert verdict("firewalld", "input", "10.6.131.35", "udp", 4789, in_iface="eno1") == (
        "accept",
        "filter_INPUT",
        45,
    )
    assert verdict("firewalld", "input", "10.6.131.35", "udp", 8472, in_iface="eno1") == (
        "drop",
        "filter_INPUT",
        19,
    )


def test_iptables_nft_tables_are_evaluated_with_their_comment_match_and_can_be_skipped():
    assert verdict("iptables-nft", "input", "10.6.131.35", "udp", 8472) == ("drop", "INPUT", 8)
    d = evaluate_hook(
        ruleset("iptables-nft"),
        "input",
        Packet(src="10.6.131.35", dst="10.6.131.36", proto="udp", dport=8472),
        skip_tables=frozenset({("ip", "filter")}),
    )
    assert d.verdict == "accept"


def test_an_xt_match_nft_cannot_show_is_unknown_not_a_guess():
    # INPUT: udp 8472 is not matched for 53; the physdev xt match may accept or not; the
    # policy accepts either way, so the verdict still holds
    assert verdict("iptables-nft", "input", "10.6.131.35", "udp", 53)[0] == "accept"
    # FORWARD: -o docker0 + xt conntrack may accept, else the policy drops: cannot tell
    d = evaluate_hook(
        ruleset("iptables-nft"),
        "forward",
        Packet(
            src="10.30.1.2",
            dst="172.17.0.2",
            proto="tcp",
            dport=80,
            in_iface="eth0",
            out_iface="docker0",
            ctstate="ESTABLISHED",
        ),
    )
    assert d.verdict == "unknown"


def test_the_trace_stops_at_an_nft_base_chain_that_iptables_accepts_but_nft_drops(tmp_path):
    import shutil

    from netdoctor.sources import BundleSource
    from netdoctor.trace.path import trace

    root = Path(__file__).resolve().parents[2]
    bundle = tmp_path / "b"
    shutil.copytree(root / "examples" / "healthy-calico", bundle)
    scenario = next((root / "tests" / "scenarios").glob("32_*"))
    shutil.copy(
        scenario / "nodes" / "l20-gpu-05" / "nft-ruleset.json",
        bundle / "nodes" / "l20-gpu-05" / "nft-ruleset.json",
    )
    path = trace(BundleSource(str(bundle)).load(), "default/netdebug04", "default/netdebug05")
    drop = next(h for h in path.hops if h.verdict == "drop")
    before = path.hops[drop.index - 1]
    assert (before.stage, before.verdict, before.node) == ("filter-input", "pass", "l20-gpu-05")
    assert (drop.stage, drop.node, drop.message.key) == (
        "filter-input",
        "l20-gpu-05",
        "hop.filter-input.nft_drop",
    )
    assert drop.cause == "overlay-port-blocked"
    assert drop.evidence[0].value == "policy drop"
