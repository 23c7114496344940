"""iptables-save parser, on rulesets built with real iptables commands in a namespace."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from netdoctor.errors import ParseError
from netdoctor.model.nodefacts import IptRule, Ruleset
from netdoctor.parsers.iptables import parse_iptables_save

Load = Callable[[str], bytes]


def _rules(ruleset: Ruleset, table: str, chain: str) -> tuple[IptRule, ...]:
    found = ruleset.chain(table, chain)
    assert found is not None, f"{table}/{chain} missing"
    return found.rules


def test_docker_forward_policy_drop_is_read(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-docker-legacy.txt"), "f")
    forward = rs.chain("filter", "FORWARD")
    assert forward is not None
    assert forward.policy == "DROP"
    assert [(c.name, c.policy) for c in rs.tables["filter"].chains.values()] == [
        ("INPUT", "ACCEPT"),
        ("FORWARD", "DROP"),
        ("OUTPUT", "ACCEPT"),
        ("DOCKER", None),
        ("DOCKER-ISOLATION-STAGE-1", None),
        ("DOCKER-ISOLATION-STAGE-2", None),
        ("DOCKER-USER", None),
    ]


def test_docker_forward_rules_keep_file_order_and_line_numbers(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-docker-legacy.txt"), "f")
    forward = _rules(rs, "filter", "FORWARD")
    assert [r.target for r in forward] == [
        "DOCKER-USER",
        "DOCKER-ISOLATION-STAGE-1",
        "ACCEPT",
        "DOCKER",
        "ACCEPT",
        "ACCEPT",
    ]
    # Line numbers count from the first line given to the parser.
    assert [r.line for r in forward] == [25, 26, 27, 28, 29, 30]
    lines = command_output("iptables-save-docker-legacy.txt").decode().split("\n")
    assert all(lines[r.line - 1] == r.text for r in forward)


def test_backend_comes_from_the_generated_by_header(command_output: Load) -> None:
    assert parse_iptables_save(command_output("iptables-save-docker-legacy.txt"), "f").backend == (
        "legacy"
    )
    assert parse_iptables_save(command_output("iptables-save-calico.txt"), "f").backend == (
        "nf_tables"
    )
    assert parse_iptables_save(b"*filter\nCOMMIT\n", "f").backend is None


def test_legacy_tables_warning_of_iptables_nft_is_ignored(command_output: Load) -> None:
    data = command_output("iptables-save-flannel.txt")
    assert data.startswith(b"# Warning: iptables-legacy tables present")
    rs = parse_iptables_save(data, "f")
    assert rs.backend == "nf_tables"
    assert list(rs.tables) == ["filter", "nat"]


def test_flannel_forward_accepts_the_pod_network(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-flannel.txt"), "f")
    fwd = _rules(rs, "filter", "FLANNEL-FWD")
    assert [(r.source, r.destination, r.target, r.comment) for r in fwd] == [
        ("10.244.0.0/16", None, "ACCEPT", "flanneld forward"),
        (None, "10.244.0.0/16", "ACCEPT", "flanneld forward"),
    ]


def test_flannel_masquerade_negates_multicast_destination(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-flannel.txt"), "f")
    masq = _rules(rs, "nat", "FLANNEL-POSTRTG")[-1]
    assert (masq.source, masq.source_neg) == ("10.244.0.0/16", False)
    assert (masq.destination, masq.destination_neg) == ("224.0.0.0/4", True)
    assert (masq.target, masq.target_args) == ("MASQUERADE", ("--random-fully",))
    inverse = _rules(rs, "nat", "FLANNEL-POSTRTG")[-2]
    assert (inverse.source, inverse.source_neg) == ("10.244.0.0/16", True)


def test_kube_proxy_service_chain_keeps_statistic_match_and_comment(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-kube-proxy.txt"), "f")
    svc = _rules(rs, "nat", "KUBE-SVC-TCOU7JCQXEZGVUNU")
    assert [r.target for r in svc] == [
        "KUBE-MARK-MASQ",
        "KUBE-SEP-IT2ZTR26TO4XFPTO",
        "KUBE-SEP-YIL6JZP7A3QYXJU2",
    ]
    first_sep = svc[1]
    assert first_sep.matches == ("comment", "statistic")
    assert first_sep.comment == "kube-system/kube-dns:dns -> 10.244.1.5:53"
    assert "--probability" in first_sep.args


def test_kube_proxy_cluster_ip_rule_decodes_protocol_and_port(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-kube-proxy.txt"), "f")
    (dns, nodeports) = _rules(rs, "nat", "KUBE-SERVICES")
    assert (dns.destination, dns.protocol, dns.dports, dns.matches) == (
        "10.96.0.10/32",
        "udp",
        "53",
        ("comment", "udp"),
    )
    assert nodeports.comment == (
        "kubernetes service nodeports; NOTE: this must be the last rule in this chain"
    )
    dnat = _rules(rs, "nat", "KUBE-SEP-IT2ZTR26TO4XFPTO")[1]
    assert (dnat.target, dnat.target_args) == ("DNAT", ("--to-destination", "10.244.1.5:53"))


def test_masquerade_mark_rule_with_negated_match_is_not_a_negated_source(
    command_output: Load,
) -> None:
    rs = parse_iptables_save(command_output("iptables-save-kube-proxy.txt"), "f")
    first = _rules(rs, "nat", "KUBE-POSTROUTING")[0]
    assert first.args == ("-m", "mark", "!", "--mark", "0x4000/0x4000", "-j", "RETURN")
    assert not (first.source_neg)
    assert not (first.destination_neg)
    assert not (first.protocol_neg)
    assert first.matches == ("mark",)


def test_reject_rule_keeps_its_target_arguments(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-kube-proxy.txt"), "f")
    (reject,) = _rules(rs, "filter", "KUBE-SERVICES")
    assert reject.target == "REJECT"
    assert reject.target_args == ("--reject-with", "icmp-port-unreachable")
    assert reject.comment == "default/nobackend:http has no endpoints"


def test_comment_with_escaped_quotes_and_backslash_is_unescaped(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-kube-proxy.txt"), "f")
    note = _rules(rs, "filter", "KUBE-FIREWALL")[1]
    assert note.text.endswith(r'--comment "operator note: \"do not touch\" \\ ok" -j RETURN')
    assert note.comment == 'operator note: "do not touch" \\ ok'
    assert note.target == "RETURN"


def test_calico_goto_targets_are_marked_as_goto(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-calico.txt"), "f")
    dispatch = _rules(rs, "filter", "cali-from-wl-dispatch")
    assert (dispatch[0].in_iface, dispatch[0].target, dispatch[0].goto) == (
        "cali1a2b3c4d5e6",
        "cali-fw-cali1a2b3c4d5e6",
        True,
    )
    assert (dispatch[1].target, dispatch[1].goto) == ("DROP", False)


def test_calico_input_keeps_every_match_module_in_order(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-calico.txt"), "f")
    vxlan_allow = _rules(rs, "filter", "cali-INPUT")[0]
    assert vxlan_allow.matches == ("comment", "comment", "multiport", "set", "addrtype")
    assert (vxlan_allow.protocol, vxlan_allow.dports, vxlan_allow.target) == (
        "udp",
        "4789",
        "ACCEPT",
    )
    # Calico's first comment is the rule id; the prose one is still in args.
    assert vxlan_allow.comment == "cali:w7ud0UgQSEi_zKuQ"
    assert "Allow IPv4 VXLAN packets from allowed hosts" in vxlan_allow.args


def test_multiport_dports_and_source_port_ranges_are_read(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-calico.txt"), "f")
    failsafe = _rules(rs, "filter", "cali-failsafe-in")[0]
    assert (failsafe.protocol, failsafe.dports) == ("tcp", "22,179,2379,2380,5473,6443,6666,6667")
    dhcp = _rules(rs, "filter", "cali-failsafe-out")[1]
    assert (dhcp.sports, dhcp.dports) == ("67:68", None)


def test_interface_wildcards_and_raw_table_are_read(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-calico.txt"), "f")
    assert list(rs.tables) == ["raw", "filter", "nat"]
    rpf = _rules(rs, "raw", "cali-PREROUTING")[2]
    assert rpf.matches == ("comment", "mark", "rpfilter")
    assert _rules(rs, "raw", "cali-PREROUTING")[1].in_iface == "cali+"
    assert _rules(rs, "filter", "cali-OUTPUT")[1].out_iface == "cali+"


def test_docker_negated_interfaces_are_read(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-docker-legacy.txt"), "f")
    rule = _rules(rs, "filter", "DOCKER")[0]
    assert (rule.in_iface, rule.in_iface_neg, rule.out_iface, rule.out_iface_neg) == (
        "docker0",
        True,
        "docker0",
        False,
    )
    assert (rule.destination, rule.protocol, rule.dports) == ("172.17.0.2/32", "tcp", "80")


def test_old_intrapositioned_negation_is_read_like_the_modern_form(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("iptables-save-1.3-intrapositioned-negation.txt"), "f")
    rules = _rules(rs, "filter", "RH-Firewall-1-INPUT")
    ssh = rules[1]
    assert (ssh.source, ssh.source_neg, ssh.dports, ssh.dports_neg) == (
        "10.0.0.0/255.0.0.0",
        True,
        "22",
        False,
    )
    iface = rules[2]
    assert (iface.in_iface, iface.in_iface_neg, iface.protocol, iface.protocol_neg) == (
        "eth0",
        True,
        "tcp",
        True,
    )
    assert (rules[3].dports, rules[3].dports_neg) == ("53", True)
    assert rs.backend == "legacy"


def test_ip6tables_save_is_read_the_same_way(command_output: Load) -> None:
    rs = parse_iptables_save(command_output("ip6tables-save-kube-proxy.txt"), "f")
    (rule,) = _rules(rs, "filter", "KUBE-FIREWALL")
    assert (rule.source, rule.source_neg, rule.destination) == ("::1/128", True, "::1/128")


def test_crlf_and_a_byte_order_mark_are_accepted(command_output: Load) -> None:
    data = command_output("iptables-save-calico.txt")
    assert parse_iptables_save(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"), "f") == (
        parse_iptables_save(data, "f")
    )


def test_an_empty_file_is_an_empty_ruleset() -> None:
    assert parse_iptables_save(b"", "f") == Ruleset()
    assert parse_iptables_save(b"\n", "f").tables == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"-A INPUT -j ACCEPT\n", "line 1: rule outside a table"),
        (b"*filter\n:INPUT ACCEPT [0:0]\n-A NOPE -j DROP\nCOMMIT\n", "line 3: rule for chain"),
        (
            b'*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "open -j DROP\nCOMMIT\n',
            "line 3: unterminated quote",
        ),
        (b"*filter\n:INPUT ACCEPT [0:0]\nhello\nCOMMIT\n", "line 3: not a table, chain"),
        (b"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n", "line 1: table 'filter' has no"),
        (b"*filter\nCOMMIT\n*filter\nCOMMIT\n", "line 3: table 'filter' appears twice"),
        (b"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j\nCOMMIT\n", "line 3: -j without a target"),
        (b"*filter\n:INPUT ACCEPT [0:0]\n-I INPUT -j DROP\nCOMMIT\n", "line 3: expected `-A"),
        (b"*nat\n*filter\n", "line 2: table 'filter' starts before"),
        (b"COMMIT\n", "line 1: COMMIT outside a table"),
    ],
)
def test_malformed_lines_are_parse_errors_naming_the_line(text: bytes, problem: str) -> None:
    with pytest.raises(ParseError) as e:
        parse_iptables_save(text, "nodes/n1/iptables-save.txt")
    assert e.value.problem.startswith(problem), e.value.problem
    assert e.value.file == "nodes/n1/iptables-save.txt"


def test_a_quote_inside_an_argument_joins_the_argument() -> None:
    rs = parse_iptables_save(
        b'*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment pre"fix here"-j DROP\n'
        b"COMMIT\n",
        "f",
    )
    (rule,) = _rules(rs, "filter", "INPUT")
    assert rule.comment == "prefix here"
    assert (rule.target, rule.args[-2:]) == ("DROP", ("-j", "DROP"))


def test_invalid_utf8_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as e:
        parse_iptables_save(b"*filter\n:INPUT ACCEPT [0:0]\n# caf\xe9\nCOMMIT\n", "f")
    assert e.value.problem.startswith("not UTF-8 text")
