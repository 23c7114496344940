"""One packet through an iptables chain: real captured rulesets, hand-written ones checked
against the kernel in network namespaces, and random rulesets that must never crash."""

from __future__ import annotations

import ctypes
import hashlib
import os
import random
import shutil
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netdoctor.model.nodefacts import Ruleset
from netdoctor.netfilter import Decision, Packet, evaluate
from netdoctor.parsers.iptables import parse_iptables_save

T = TypeVar("T")
COMMANDS = Path(__file__).resolve().parent.parent / "fixtures" / "commands"
ACTIONS = {
    "jump",
    "goto",
    "return",
    "accept",
    "drop",
    "reject",
    "mark",
    "continue",
    "policy",
    "unknown-match",
    "unknown-target",
}


def captured(name: str) -> Ruleset:
    """A real capture; its first line names the producing command and is not iptables-save."""
    data = (COMMANDS / f"iptables-save-{name}.txt").read_bytes()
    return parse_iptables_save(data.partition(b"\n")[2], name)


def ruleset(text: str) -> Ruleset:
    return parse_iptables_save(text.encode(), "test")


def forward_only(*rules: str, policy: str = "DROP", chains: tuple[str, ...] = ()) -> Ruleset:
    lines = ["*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {policy} [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [f":{c} - [0:0]" for c in chains]
    return ruleset("\n".join([*lines, *rules, "COMMIT", ""]))


def path(d: Decision) -> list[tuple[str, str, str]]:
    return [(s.chain, s.action, s.detail) for s in d.steps]


POD_TO_POD = Packet("10.244.1.2", "10.244.2.3", "tcp", 40000, 80, "cni0", "flannel.1")


# --- real captures ------------------------------------------------------------------------


def test_docker_forward_policy_drop_drops_pod_to_pod_traffic() -> None:
    d = evaluate(captured("docker-legacy"), "filter", "FORWARD", POD_TO_POD)
    assert (d.verdict, d.deciding, d.policy) == ("drop", None, "DROP")
    assert path(d) == [
        ("FORWARD", "jump", "DOCKER-USER"),
        ("DOCKER-USER", "return", ""),
        ("FORWARD", "jump", "DOCKER-ISOLATION-STAGE-1"),
        ("DOCKER-ISOLATION-STAGE-1", "return", ""),
        ("FORWARD", "policy", "DROP"),
    ]


def test_docker_forward_accepts_pod_traffic_once_a_cni_rule_accepts_it_in_docker_user() -> None:
    text = (COMMANDS / "iptables-save-docker-legacy.txt").read_text().partition("\n")[2]
    text = text.replace(
        "-A DOCKER-USER -j RETURN",
        "-A DOCKER-USER -s 10.244.0.0/16 -j ACCEPT\n-A DOCKER-USER -j RETURN",
    )
    d = evaluate(ruleset(text), "filter", "FORWARD", POD_TO_POD)
    assert d.verdict == "accept"
    assert d.deciding is not None
    assert d.deciding.text == "-A DOCKER-USER -s 10.244.0.0/16 -j ACCEPT"


def test_docker_forward_accepts_replies_to_containers_and_isolates_other_bridges() -> None:
    rs = captured("docker-legacy")
    reply = Packet("1.1.1.1", "172.17.0.2", "tcp", 443, 40000, "eth0", "docker0", "ESTABLISHED")
    d = evaluate(rs, "filter", "FORWARD", reply)
    assert (d.verdict, d.deciding and d.deciding.line) == ("accept", 27)
    out = Packet("172.17.0.2", "1.1.1.1", "tcp", 40000, 443, "docker0", "eth0")
    d = evaluate(rs, "filter", "FORWARD", out)
    assert (d.verdict, d.deciding and d.deciding.line) == ("accept", 29)
    assert ("DOCKER-ISOLATION-STAGE-1", "jump", "DOCKER-ISOLATION-STAGE-2") in path(d)
    published = Packet("1.1.1.1", "172.17.0.2", "tcp", 40000, 80, "eth0", "docker0")
    d = evaluate(rs, "filter", "FORWARD", published)
    assert (d.verdict, d.deciding and d.deciding.chain) == ("accept", "DOCKER")


def test_flannel_forward_chain_accepts_the_pod_network_by_source_then_by_destination() -> None:
    rs = captured("flannel")
    d = evaluate(rs, "filter", "FORWARD", POD_TO_POD)
    assert d.verdict == "accept"
    assert d.deciding is not None
    assert d.deciding.source == "10.244.0.0/16"
    inbound = Packet("192.168.1.9", "10.244.1.2", "udp", 5000, 53, "eth0", "cni0")
    d = evaluate(rs, "filter", "FORWARD", inbound)
    assert d.deciding is not None
    assert d.deciding.destination == "10.244.0.0/16"
    other = Packet("192.168.1.9", "192.168.2.9", "udp", 5000, 53, "eth0", "eth1")
    d = evaluate(rs, "filter", "FORWARD", other)
    assert (d.verdict, d.policy, d.deciding) == ("accept", "ACCEPT", None)


CALI = "cali1a2b3c4d5e6"


def test_calico_forward_accepts_traffic_to_a_workload_its_profile_marks_accepted() -> None:
    to_pod = Packet("10.244.2.3", "10.244.1.2", "tcp", 40000, 80, "eth0", CALI)
    d = evaluate(captured("calico"), "filter", "FORWARD", to_pod)
    assert (d.verdict, d.deciding and d.deciding.comment) == ("accept", "cali:MH9kMp5aNICL-Olv")
    assert path(d) == [
        ("FORWARD", "jump", "cali-FORWARD"),
        ("cali-FORWARD", "mark", "0x0"),
        ("cali-FORWARD", "jump", "cali-from-hep-forward"),
        ("cali-from-hep-forward", "return", ""),
        ("cali-FORWARD", "jump", "cali-to-wl-dispatch"),
        ("cali-to-wl-dispatch", "goto", f"cali-tw-{CALI}"),
        (f"cali-tw-{CALI}", "mark", "0x0"),
        (f"cali-tw-{CALI}", "jump", "cali-pri-kns.default"),
        ("cali-pri-kns.default", "mark", "0x10000"),
        ("cali-pri-kns.default", "return", ""),
        # RETURN from the chain reached by goto skips the rest of cali-to-wl-dispatch.
        (f"cali-tw-{CALI}", "return", ""),
        ("cali-FORWARD", "accept", ""),
    ]


def test_calico_forward_drops_invalid_packets_and_unknown_workload_interfaces() -> None:
    rs = captured("calico")
    invalid = Packet("10.244.2.3", "10.244.1.2", "tcp", 40000, 80, "eth0", CALI, "INVALID")
    d = evaluate(rs, "filter", "FORWARD", invalid)
    assert (d.verdict, d.deciding and d.deciding.comment) == ("drop", "cali:xPn-XQGr81-5TDyi")
    stray = Packet("10.244.2.3", "10.244.1.9", "tcp", 40000, 80, "eth0", "cali0000000000")
    d = evaluate(rs, "filter", "FORWARD", stray)
    assert (d.verdict, d.deciding and d.deciding.comment) == ("drop", "cali:FN-Y_xMQ6Ub2DeBr")


def test_calico_forward_from_a_workload_falls_to_the_accept_policy_after_the_goto_returns() -> None:
    from_pod = Packet("10.244.1.2", "10.244.2.3", "tcp", 40000, 80, CALI, "vxlan.calico")
    d = evaluate(captured("calico"), "filter", "FORWARD", from_pod)
    assert (d.verdict, d.policy) == ("accept", "ACCEPT")
    assert (f"cali-fw-{CALI}", "return", "") in path(d)
    vxlan = Packet("10.244.1.2", "10.0.0.9", "udp", 40000, 4789, CALI, "eth0")
    d = evaluate(captured("calico"), "filter", "FORWARD", vxlan)
    assert (d.verdict, d.deciding and d.deciding.comment) == ("drop", "cali:Nm0gdDNzsGsgCkYd")


def test_calico_input_vxlan_depends_on_the_ipset_so_the_verdict_is_unknown() -> None:
    # Rule 37 accepts VXLAN from hosts in the cali40all-vxlan-net set, rule 38 drops the
    # rest: the set's members are not in the bundle, and the two branches disagree.
    vxlan = Packet(
        "10.0.0.2", "10.0.0.1", "udp", 40000, 4789, "eth0", local_addresses=frozenset({"10.0.0.1"})
    )
    d = evaluate(captured("calico"), "filter", "INPUT", vxlan)
    assert (d.verdict, d.deciding, d.policy) == ("unknown", None, None)
    assert d.steps[-1].action == "unknown-match"
    assert d.steps[-1].detail == "-m set --match-set"
    assert d.steps[-1].rule is not None
    assert d.steps[-1].rule.line == 37
    assert "accept if it matches, drop if not" in d.reason


def test_known_ipset_contents_decide_the_calico_vxlan_input_rule() -> None:
    def vxlan(src: str, sets: tuple[tuple[str, tuple[str, ...]], ...]) -> Packet:
        local = frozenset({"10.0.0.1"})
        return Packet(
            src, "10.0.0.1", "udp", 40000, 4789, "eth0", local_addresses=local, ipsets=sets
        )

    hosts = (("cali40all-vxlan-net", ("10.0.0.0/29",)),)
    d = evaluate(captured("calico"), "filter", "INPUT", vxlan("10.0.0.2", hosts))
    assert (d.verdict, d.deciding and d.deciding.line) == ("accept", 37)
    d = evaluate(captured("calico"), "filter", "INPUT", vxlan("10.9.9.9", hosts))
    assert (d.verdict, d.deciding and d.deciding.line) == ("drop", 38)
    other = (("some-other-set", ("10.0.0.0/8",)),)
    assert evaluate(captured("calico"), "filter", "INPUT", vxlan("10.0.0.2", other)).verdict == (
        "unknown"
    )


def test_calico_input_vxlan_to_a_foreign_address_is_not_held_up_by_the_ipset() -> None:
    # addrtype says the destination is not local: rule 37 fails whatever the set holds.
    vxlan = Packet(
        "10.0.0.2", "10.0.0.7", "udp", 40000, 4789, "eth0", local_addresses=frozenset({"10.0.0.1"})
    )
    d = evaluate(captured("calico"), "filter", "INPUT", vxlan)
    assert d.verdict == "accept"
    assert all(s.action != "unknown-match" for s in d.steps)


def test_calico_raw_rpfilter_is_unknown_only_for_packets_from_workloads() -> None:
    rs = captured("calico")
    from_host = Packet("10.0.0.2", "10.244.1.2", "tcp", 1, 2, "eth0")
    assert evaluate(rs, "raw", "PREROUTING", from_host).verdict == "accept"
    from_pod = Packet("10.244.1.2", "10.0.0.2", "tcp", 1, 2, CALI)
    d = evaluate(rs, "raw", "PREROUTING", from_pod)
    assert (d.verdict, d.steps[-1].detail) == ("unknown", "-m rpfilter")
    assert ("cali-PREROUTING", "mark", "0x40000") in path(d)


def test_kube_proxy_forward_accepts_established_and_marked_and_drops_invalid() -> None:
    rs = captured("kube-proxy")
    est = Packet("10.244.2.3", "10.244.1.2", "tcp", 80, 40000, "eth0", "cni0", "ESTABLISHED")
    d = evaluate(rs, "filter", "FORWARD", est)
    assert (d.verdict, d.deciding and d.deciding.comment) == (
        "accept",
        "kubernetes forwarding conntrack rule",
    )
    related = Packet("10.244.2.3", "10.244.1.2", "icmp", None, None, "eth0", "cni0", "RELATED")
    assert evaluate(rs, "filter", "FORWARD", related).verdict == "accept"
    invalid = Packet("10.244.2.3", "10.244.1.2", "tcp", 80, 40000, "eth0", "cni0", "INVALID")
    d = evaluate(rs, "filter", "FORWARD", invalid)
    assert (d.verdict, d.deciding and d.deciding.line) == ("drop", 18)
    marked = Packet("1.2.3.4", "10.244.1.2", "tcp", 1, 80, "eth0", "cni0", mark=0x4000)
    d = evaluate(rs, "filter", "FORWARD", marked)
    assert (d.verdict, d.deciding and d.deciding.line) == ("accept", 19)


def test_kube_proxy_rejects_a_service_without_endpoints_as_a_drop() -> None:
    pkt = Packet("10.244.1.2", "10.96.80.80", "tcp", 40000, 80, "cni0", "eth0")
    d = evaluate(captured("kube-proxy"), "filter", "FORWARD", pkt)
    assert (d.verdict, d.steps[-1].action) == ("drop", "reject")
    assert d.deciding is not None
    assert "has no endpoints" in (d.deciding.comment or "")


def test_kube_proxy_localnet_guard_is_unknown_when_it_hinges_on_the_dnat_state() -> None:
    # `! --ctstate RELATED,ESTABLISHED,DNAT`: a NEW packet may or may not have been DNATed.
    pkt = Packet("10.0.0.5", "127.0.0.1", "tcp", 40000, 10250, "eth0")
    d = evaluate(captured("kube-proxy"), "filter", "INPUT", pkt)
    assert d.verdict == "unknown"
    assert d.steps[-1].detail == "-m conntrack --ctstate"
    est = Packet("10.0.0.5", "127.0.0.1", "tcp", 40000, 10250, "eth0", ctstate="ESTABLISHED")
    assert evaluate(captured("kube-proxy"), "filter", "INPUT", est).verdict == "accept"


def test_kube_proxy_nat_random_endpoint_choice_is_accepted_either_way() -> None:
    pkt = Packet("10.244.1.2", "10.96.0.10", "udp", 40000, 53, "cni0")
    d = evaluate(captured("kube-proxy"), "nat", "PREROUTING", pkt)
    assert (d.verdict, d.deciding, d.policy) == ("accept", None, None)  # two DNAT rules
    assert ("KUBE-SVC-TCOU7JCQXEZGVUNU", "unknown-match", "-m statistic") in path(d)
    assert d.steps[-1].detail == "DNAT --to-destination 10.244.2.7:53"
    assert "whether or not -m statistic" in d.reason


def test_old_intrapositioned_negations_are_evaluated() -> None:
    rs = captured("1.3-intrapositioned-negation")
    ssh = Packet("192.168.1.1", "10.2.3.3", "tcp", 40000, 22, "eth0", "eth1")
    assert evaluate(rs, "filter", "FORWARD", ssh).verdict == "drop"
    udp = Packet("10.1.1.2", "10.2.3.3", "udp", 40000, 53, "eth1", "eth0")
    d = evaluate(rs, "filter", "FORWARD", udp)
    assert (d.verdict, d.deciding and d.deciding.line) == ("accept", 11)
    dns = Packet("10.1.1.2", "10.2.3.3", "udp", 40000, 53, "eth0", "eth1")
    assert evaluate(rs, "filter", "FORWARD", dns).policy == "DROP"
    other = Packet("10.1.1.2", "10.2.3.3", "udp", 40000, 5353, "eth0", "eth1")
    d = evaluate(rs, "filter", "FORWARD", other)
    assert (d.verdict, d.steps[-1].action) == ("drop", "reject")


# --- semantics on hand-written rulesets ---------------------------------------------------

UDP = Packet("10.1.0.2", "10.2.0.2", "udp", 40000, 5001, "ra", "rb")


def test_a_mark_set_by_one_rule_is_matched_by_a_later_one() -> None:
    rs = forward_only(
        "-A FORWARD -j MARK --set-xmark 0x10000/0x10000",
        "-A FORWARD -m mark --mark 0x10000/0x10000 -j ACCEPT",
    )
    d = evaluate(rs, "filter", "FORWARD", UDP)
    assert (d.verdict, path(d)[0]) == ("accept", ("FORWARD", "mark", "0x10000"))
    rs = forward_only(
        "-A FORWARD -j MARK --set-xmark 0x10000/0x10000",
        "-A FORWARD -m mark ! --mark 0x10000/0x10000 -j ACCEPT",
    )
    assert evaluate(rs, "filter", "FORWARD", UDP).verdict == "drop"


@pytest.mark.parametrize(
    ("target", "before", "after"),
    [
        ("--set-xmark 0x10000/0x10000", 0x4001, 0x14001),
        ("--set-xmark 0x1/0xffff", 0x14003, 0x10001),
        ("--set-xmark 0x1/0x0", 0x3, 0x2),
        ("--set-mark 0x10/0xf0", 0x1FF, 0x11F),
        ("--set-mark 0x5", 0xFF00, 0x5),
        ("--or-mark 0x4000", 0x1, 0x4001),
        ("--and-mark 0xff", 0x1234, 0x34),
        ("--xor-mark 0x3", 0x1, 0x2),
    ],
)
def test_mark_targets_compute_the_mark_as_the_kernel_does(
    target: str, before: int, after: int
) -> None:
    rs = forward_only(
        f"-A FORWARD -j MARK {target}", f"-A FORWARD -m mark --mark {after:#x} -j ACCEPT"
    )
    d = evaluate(rs, "filter", "FORWARD", Packet("1.1.1.1", "2.2.2.2", "udp", mark=before))
    assert (d.verdict, d.steps[0].detail) == ("accept", f"{after:#x}")


def test_a_restored_connmark_makes_the_mark_unknown_only_in_its_mask() -> None:
    rs = forward_only(
        "-A FORWARD -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff",
        "-A FORWARD -m mark --mark 0x10000/0x10000 -j ACCEPT",
        "-A FORWARD -m mark --mark 0x1/0x1 -j ACCEPT",
    )
    assert evaluate(rs, "filter", "FORWARD", Packet("1.1.1.1", "2.2.2.2", "udp")).verdict == (
        "unknown"
    )
    marked = Packet("1.1.1.1", "2.2.2.2", "udp", mark=0x10000)
    d = evaluate(rs, "filter", "FORWARD", marked)
    assert (d.verdict, d.deciding and d.deciding.line) == ("accept", 6)


GOTO_OR_JUMP = forward_only(
    "-A FORWARD -p udp -m udp --dport 5004 -g SUB",
    "-A FORWARD -p udp -j CHK",
    "-A FORWARD -p udp -j ACCEPT",
    "-A CHK -p udp -m udp --dport 5001 -g SUB",
    "-A CHK -p udp -m udp --dport 5002 -j SUB",
    "-A CHK -p udp -j DROP",
    "-A SUB -j RETURN",
    chains=("CHK", "SUB"),
)


@pytest.mark.parametrize(
    ("dport", "verdict", "why"),
    [
        (5001, "accept", "goto: RETURN from SUB resumes FORWARD after the jump to CHK"),
        (5002, "drop", "jump: RETURN from SUB resumes CHK, which drops"),
        (5003, "drop", "no rule in CHK for the port"),
        (5004, "drop", "goto from the built-in chain: RETURN means its policy"),
    ],
)
def test_return_after_goto_skips_the_calling_chain_and_after_jump_does_not(
    dport: int, verdict: str, why: str
) -> None:
    d = evaluate(GOTO_OR_JUMP, "filter", "FORWARD", Packet("1.1.1.1", "2.2.2.2", "udp", 1, dport))
    assert d.verdict == verdict, why


def test_negated_addresses_interfaces_and_wildcards_match_as_iptables_says() -> None:
    rs = forward_only(
        "-A FORWARD ! -s 10.1.0.0/16 -j DROP",
        "-A FORWARD -i r+ ! -o rb -j DROP",
        "-A FORWARD ! -i ra -j DROP",
        "-A FORWARD -d 10.2.0.0/255.255.0.0 -o r+ -j ACCEPT",
    )
    assert evaluate(rs, "filter", "FORWARD", UDP).verdict == "accept"
    for pkt in (
        Packet("10.9.0.2", "10.2.0.2", "udp", 1, 2, "ra", "rb"),
        Packet("10.1.0.2", "10.2.0.2", "udp", 1, 2, "ra", "rc"),
        Packet("10.1.0.2", "10.2.0.2", "udp", 1, 2, "eth0", "rb"),
        Packet("10.1.0.2", "10.3.0.2", "udp", 1, 2, "ra", "rb"),
    ):
        assert evaluate(rs, "filter", "FORWARD", pkt).verdict == "drop", pkt


def test_a_missing_interface_fails_a_positive_match_and_passes_a_negated_one() -> None:
    rs = ruleset(
        "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n"
        "-A OUTPUT -i eth0 -j ACCEPT\n-A INPUT ! -o eth0 -j ACCEPT\nCOMMIT\n"
    )
    out = Packet("10.0.0.1", "10.0.0.2", "tcp", 1, 2, None, "eth0")
    assert evaluate(rs, "filter", "OUTPUT", out).verdict == "drop"
    inp = Packet("10.0.0.2", "10.0.0.1", "tcp", 1, 2, "eth0", None)
    assert evaluate(rs, "filter", "INPUT", inp).verdict == "accept"


@pytest.mark.parametrize(
    ("spec", "accepted", "refused"),
    [
        ("-m multiport --dports 53,80,8000:8080", (53, 80, 8000, 8042, 8080), (54, 7999, 8081)),
        ("-m multiport ! --dports 53,80", (54, 443), (53, 80)),
        ("-m multiport --ports 5001", (5001,), (5002,)),
        ("-m udp --dport 1000:2000", (1000, 2000), (999, 2001)),
        ("-m udp --dport :1023", (0, 1023), (1024,)),
        ("-m udp --dport 1024:", (1024, 65535), (1023,)),
        ("-m udp ! --dport 53", (54,), (53,)),
        ("--dport 53", (53,), (54,)),  # the protocol's module, loaded implicitly by -p
    ],
)
def test_port_lists_and_ranges_match_by_destination_port(
    spec: str, accepted: tuple[int, ...], refused: tuple[int, ...]
) -> None:
    rs = forward_only(f"-A FORWARD -p udp {spec} -j ACCEPT")
    for port in accepted:
        assert evaluate(rs, "filter", "FORWARD", Packet("a", "b", "udp", 5001, port)).verdict == (
            "accept"
        ), port
    for port in refused:
        assert evaluate(rs, "filter", "FORWARD", Packet("a", "b", "udp", 5000, port)).verdict == (
            "drop"
        ), port


@pytest.mark.parametrize("spec", ["-p 4", "-p ipencap", "-p ipv4"])
def test_protocol_4_is_ipip_by_any_of_its_names(spec: str) -> None:
    rs = forward_only(f"-A FORWARD {spec} -j ACCEPT", "-A FORWARD ! -p 4 -j REJECT")
    tunnel = Packet("192.168.0.1", "192.168.0.2", "ipip", in_iface="eth0", out_iface="eth1")
    assert evaluate(rs, "filter", "FORWARD", tunnel).verdict == "accept"
    d = evaluate(rs, "filter", "FORWARD", Packet("192.168.0.1", "192.168.0.2", "gre"))
    assert (d.verdict, d.steps[-1].action) == ("drop", "reject")


def test_a_rule_for_protocol_ipip_means_94_as_in_etc_protocols_not_the_ipip_tunnel() -> None:
    # iptables-save prints protocol 4 as "ipencap"; "ipip" in a rule is IANA's protocol 94.
    rs = forward_only("-A FORWARD -p ipip -j ACCEPT")
    tunnel = Packet("192.168.0.1", "192.168.0.2", "ipip", in_iface="eth0", out_iface="eth1")
    assert evaluate(rs, "filter", "FORWARD", tunnel).verdict == "drop"
    assert evaluate(rs, "filter", "FORWARD", Packet("a", "b", "94")).verdict == "accept"


def test_protocol_all_matches_every_packet_and_its_negation_none() -> None:
    rs = forward_only("-A FORWARD ! -p all -j ACCEPT", "-A FORWARD -p 0 -j ACCEPT")
    d = evaluate(rs, "filter", "FORWARD", Packet("1.1.1.1", "2.2.2.2", "sctp", 1, 2))
    assert (d.verdict, d.deciding and d.deciding.line) == ("accept", 6)


def test_tcp_syn_matches_a_new_connection_and_not_an_established_one() -> None:
    rs = forward_only("-A FORWARD -p tcp -m tcp --syn -j ACCEPT")
    assert evaluate(rs, "filter", "FORWARD", Packet("a", "b", "tcp", 1, 2)).verdict == "accept"
    est = Packet("a", "b", "tcp", 1, 2, ctstate="ESTABLISHED")
    assert evaluate(rs, "filter", "FORWARD", est).verdict == "drop"
    rs = forward_only("-A FORWARD -p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK -j ACCEPT")
    assert evaluate(rs, "filter", "FORWARD", est).verdict == "unknown"


def test_icmp_echo_request_is_new_and_echo_reply_is_established() -> None:
    rs = forward_only(
        "-A FORWARD -p icmp -m icmp --icmp-type 8 -j ACCEPT",
        "-A FORWARD -p icmp -m icmp --icmp-type echo-reply -j ACCEPT",
    )
    ping = Packet("1.1.1.1", "2.2.2.2", "icmp")
    assert evaluate(rs, "filter", "FORWARD", ping).deciding.line == 5  # type: ignore[union-attr]
    pong = Packet("2.2.2.2", "1.1.1.1", "icmp", ctstate="ESTABLISHED")
    assert evaluate(rs, "filter", "FORWARD", pong).deciding.line == 6  # type: ignore[union-attr]
    rs = forward_only("-A FORWARD -p icmp -m icmp --icmp-type destination-unreachable -j ACCEPT")
    assert evaluate(rs, "filter", "FORWARD", ping).verdict == "unknown"


def test_an_unknown_match_before_a_target_that_cannot_change_anything_is_passed_over() -> None:
    rs = forward_only(
        "-A FORWARD -m set --match-set blocked src -j LOG --log-prefix blocked",
        "-A FORWARD -m limit --limit 5/sec -j ACCEPT",
    )
    d = evaluate(rs, "filter", "FORWARD", UDP)
    assert (d.verdict, d.deciding and d.deciding.line) == ("accept", 6)
    assert all(s.action != "unknown-match" for s in d.steps)


def test_an_unknown_match_whose_branches_agree_gives_their_verdict() -> None:
    rs = forward_only(
        "-A FORWARD -m physdev --physdev-is-bridged -j DROP",
        "-A FORWARD -m owner --uid-owner 0 -j REJECT",
    )
    d = evaluate(rs, "filter", "FORWARD", UDP)
    assert (d.verdict, d.deciding, d.policy) == ("drop", None, None)
    assert [s.detail for s in d.steps if s.action == "unknown-match"] == [
        "-m physdev",
        "-m owner",
    ]


def test_unknown_matches_stop_forking_after_the_budget() -> None:
    rules = [f"-A FORWARD -m set --match-set s{n} src -j MARK --xor-mark 0x1" for n in range(80)]
    rs = forward_only(*rules, "-A FORWARD -m mark --mark 0x1 -j ACCEPT")
    d = evaluate(rs, "filter", "FORWARD", UDP)
    assert d.verdict == "unknown"


def test_missing_rules_are_unknown_and_an_absent_table_lets_everything_through() -> None:
    assert evaluate(None, "filter", "FORWARD", UDP).verdict == "unknown"
    empty = ruleset("")
    assert evaluate(empty, "filter", "FORWARD", UDP).verdict == "accept"
    assert evaluate(captured("calico"), "raw", "FORWARD", UDP).verdict == "accept"


def test_a_jump_to_a_missing_chain_or_an_unmodelled_target_is_unknown() -> None:
    rs = forward_only("-A FORWARD -j NOSUCH")
    d = evaluate(rs, "filter", "FORWARD", UDP)
    assert (d.verdict, d.steps[-1].action) == ("unknown", "unknown-target")
    assert "NOSUCH" in d.reason
    rs = forward_only("-A FORWARD -j NFQUEUE --queue-num 1")
    assert evaluate(rs, "filter", "FORWARD", UDP).verdict == "unknown"


def test_a_chain_jumping_back_into_itself_is_unknown_not_endless() -> None:
    rs = forward_only("-A FORWARD -j A", "-A A -j B", "-A B -g A", chains=("A", "B"))
    d = evaluate(rs, "filter", "FORWARD", UDP)
    assert (d.verdict, d.steps[-1].detail) == ("unknown", "loop into A")


def test_addrtype_local_uses_the_node_addresses_and_is_unknown_without_them() -> None:
    rs = forward_only("-A FORWARD -m addrtype --dst-type LOCAL -j ACCEPT")
    local = frozenset({"10.2.0.2"})
    pkt = Packet("10.1.0.2", "10.2.0.2", "udp", 1, 2, local_addresses=local)
    assert evaluate(rs, "filter", "FORWARD", pkt).verdict == "accept"
    pkt = Packet("10.1.0.2", "10.2.0.3", "udp", 1, 2, local_addresses=local)
    assert evaluate(rs, "filter", "FORWARD", pkt).verdict == "drop"
    assert evaluate(rs, "filter", "FORWARD", UDP).verdict == "unknown"


def test_a_20000_rule_kube_proxy_ruleset_is_followed_to_the_service_dnat() -> None:
    # Its speed is measured in bench/, not asserted here.
    rs = ruleset(kube_proxy_nat(2500))
    assert sum(len(c) for c in rs.tables["nat"].chains.values()) > 20000
    last = Packet("10.244.7.7", "10.96.9.250", "tcp", 40000, 80, "cni0")
    d = evaluate(rs, "nat", "PREROUTING", last)
    assert d.verdict == "accept"
    assert d.steps[-1].detail.startswith("DNAT --to-destination 10.244.")


def kube_proxy_nat(services: int) -> str:
    """kube-proxy's nat table in iptables mode: per service a cluster-IP rule, a KUBE-SVC chain
    picking one of two endpoints at random, and a KUBE-SEP chain per endpoint."""

    def h(s: str) -> str:
        return hashlib.sha256(s.encode()).hexdigest()[:16].upper()

    chains, rules = ["KUBE-SERVICES", "KUBE-MARK-MASQ", "KUBE-NODEPORTS"], []
    for n in range(services):
        ip, svc = f"10.96.{n // 250}.{n % 250 + 1}", f"KUBE-SVC-{h(f'svc{n}')}"
        name = f"ns{n}/web{n}:http"
        chains.append(svc)
        rules.append(
            f'-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment "{name} cluster IP" '
            f"-m tcp --dport 80 -j {svc}"
        )
        rules.append(
            f"-A {svc} ! -s 10.244.0.0/16 -d {ip}/32 -p tcp -m comment "
            f'--comment "{name} cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ'
        )
        for e in range(2):
            sep, k = f"KUBE-SEP-{h(f'sep{n}.{e}')}", n * 2 + e
            pod = f"10.244.{k // 250 % 250}.{k % 250 + 1}"
            chains.append(sep)
            pick = " -m statistic --mode random --probability 0.50000000000" if e == 0 else ""
            rules.append(f'-A {svc} -m comment --comment "{name} -> {pod}:8080"{pick} -j {sep}')
            rules.append(f'-A {sep} -s {pod}/32 -m comment --comment "{name}" -j KUBE-MARK-MASQ')
            rules.append(
                f'-A {sep} -p tcp -m comment --comment "{name}" -m tcp '
                f"-j DNAT --to-destination {pod}:8080"
            )
    head = ["*nat", *(f":{c} ACCEPT [0:0]" for c in ("PREROUTING", "INPUT", "OUTPUT"))]
    head += [":POSTROUTING ACCEPT [0:0]", *(f":{c} - [0:0]" for c in chains)]
    head += [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000",
    ]
    tail = [
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports" '
        "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS",
        "COMMIT",
        "",
    ]
    return "\n".join([*head, *rules, *tail])


# --- random rulesets ----------------------------------------------------------------------

MATCHES = st.sampled_from(
    [
        "-p tcp",
        "! -p udp",
        "-p 4",
        "-p all",
        "-p icmp -m icmp --icmp-type 8",
        "-s 10.0.0.0/8",
        "! -d 10.2.0.2/32",
        "-d 10.2.0.0/255.255.0.0",
        "-i r+",
        "! -o rb",
        "-o eth0",
        "-p tcp -m tcp --dport 80",
        "-p udp -m udp --sport 1000:2000",
        "-p tcp -m tcp --syn",
        "-p tcp -m tcp --tcp-flags SYN,RST,ACK,FIN SYN",
        "-p udp -m multiport --dports 53,80:90",
        "-p tcp -m multiport ! --ports 22",
        "-m conntrack --ctstate RELATED,ESTABLISHED",
        "-m conntrack ! --ctstate INVALID,DNAT",
        "-m conntrack --ctstatus ASSURED",
        "-m state --state NEW",
        "-m mark --mark 0x4000/0x4000",
        "-m mark ! --mark 0x1",
        "-m addrtype --dst-type LOCAL",
        "-m addrtype --src-type LOCAL --limit-iface-in",
        '-m comment --comment "a comment with -j DROP"',
        "-m set --match-set s src",
        "-m statistic --mode random --probability 0.5",
        "-m limit --limit 1/s",
        "-m physdev --physdev-is-bridged",
        "-m u32 --u32 0x0=0x0",
        "-f",
        "! -f",
    ]
)
TARGETS = st.sampled_from(
    [
        "-j ACCEPT",
        "-j DROP",
        "-j REJECT --reject-with icmp-port-unreachable",
        "-j RETURN",
        "-j MARK --set-xmark 0x4000/0x4000",
        "-j MARK --and-mark 0x0",
        "-j CONNMARK --restore-mark",
        "-j LOG --log-prefix x",
        "-j NFQUEUE --queue-num 1",
        "-j DNAT --to-destination 10.9.9.9",
        "-j U1",
        "-j U2",
        "-g U1",
        "-g U3",
        "-j MISSING",
        "",
    ]
)
RULE = st.tuples(
    st.sampled_from(["FORWARD", "U1", "U2", "U3"]), st.lists(MATCHES, max_size=4), TARGETS
)
PACKETS = st.builds(
    Packet,
    src=st.sampled_from(["10.1.0.2", "10.2.0.2", "192.168.0.1", "not-an-address"]),
    dst=st.sampled_from(["10.2.0.2", "10.1.0.2", "127.0.0.1"]),
    proto=st.sampled_from(["tcp", "udp", "icmp", "ipip", "sctp", "47", "bogus"]),
    sport=st.none() | st.integers(0, 65535),
    dport=st.none() | st.sampled_from([22, 53, 80, 85, 1500]),
    in_iface=st.none() | st.sampled_from(["ra", "rb", "eth0"]),
    out_iface=st.none() | st.sampled_from(["ra", "rb", "eth0"]),
    ctstate=st.sampled_from(["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]),
    mark=st.sampled_from([0, 0x4000, 0x1, 0xFFFFFFFF]),
    local_addresses=st.sampled_from([frozenset(), frozenset({"10.2.0.2"})]),
)


def random_ruleset(rules: list[tuple[str, list[str], str]], policy: str, top: str = "") -> str:
    lines = ["*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {policy} [0:0]", ":OUTPUT ACCEPT [0:0]"]
    lines += [":U1 - [0:0]", ":U2 - [0:0]", ":U3 - [0:0]"]
    if top:
        lines.append(top)
    lines += [" ".join(["-A", chain, *matches, target]).strip() for chain, matches, target in rules]
    return "\n".join([*lines, "COMMIT", ""])


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(RULE, max_size=12),
    policy=st.sampled_from(["ACCEPT", "DROP"]),
    packet=PACKETS,
)
def test_random_rulesets_never_raise_and_give_a_well_formed_decision(
    rules: list[tuple[str, list[str], str]], policy: str, packet: Packet
) -> None:
    d = evaluate(ruleset(random_ruleset(rules, policy)), "filter", "FORWARD", packet)
    assert d.verdict in ("accept", "drop", "unknown")
    assert {s.action for s in d.steps} <= ACTIONS
    assert d.reason
    assert "\n" not in d.reason
    if d.verdict == "unknown":
        assert d.deciding is None


@settings(max_examples=200, deadline=None)
@given(
    rules=st.lists(RULE, max_size=12),
    policy=st.sampled_from(["ACCEPT", "DROP"]),
    packet=PACKETS,
)
def test_an_unconditional_accept_at_the_top_accepts_every_packet(
    rules: list[tuple[str, list[str], str]], policy: str, packet: Packet
) -> None:
    rs = ruleset(random_ruleset(rules, policy, top="-A FORWARD -j ACCEPT"))
    d = evaluate(rs, "filter", "FORWARD", packet)
    assert d.verdict == "accept"
    assert d.deciding is not None
    assert d.deciding.line == 8


# --- agreement with the kernel ------------------------------------------------------------
#
# Three namespaces: src (10.123.1.2) -- ra [router] rb -- dst (10.123.2.2). Each ruleset is
# loaded into the router with iptables-restore and read back with iptables-save, as a bundle
# would hold it; each probe sends real traffic, and the model must agree with what arrived.

SRC_IP, DST_IP = "10.123.1.2", "10.123.2.2"
CLONE_NEWNET = 0x40000000
PROBE_WAIT = 0.3  # seconds; veth round trips take microseconds


def _run(*cmd: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=10)


def _in_netns(ns: str, fn: Callable[[], T]) -> T:
    """``fn()`` on a thread moved into ``ns``: sockets it opens live in that namespace."""
    out: list[T] = []
    errors: list[BaseException] = []

    def body() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {ns}")
            finally:
                os.close(fd)
            out.append(fn())
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return out[0]


@dataclass
class Router:
    src: str
    router: str
    dst: str

    def load(self, text: str) -> Ruleset:
        done = _run("ip", "netns", "exec", self.router, "iptables-restore", stdin=text)
        assert done.returncode == 0, done.stderr
        saved = _run("ip", "netns", "exec", self.router, "iptables-save", "-t", "filter")
        assert saved.returncode == 0, saved.stderr
        return ruleset(saved.stdout)

    def udp(self, dport: int) -> tuple[bool, int]:
        def listen() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", dport))
            s.settimeout(PROBE_WAIT)
            return s

        def sender() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((SRC_IP, 0))
            return s

        with _in_netns(self.dst, listen) as rx, _in_netns(self.src, sender) as tx:
            tx.sendto(b"netdoctor", (DST_IP, dport))
            try:
                rx.recvfrom(64)
            except TimeoutError:
                return False, tx.getsockname()[1]
            return True, tx.getsockname()[1]

    def tcp(self, dport: int) -> tuple[bool, int]:
        def listen() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", dport))
            s.listen(4)
            return s

        def client() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((SRC_IP, 0))
            s.settimeout(PROBE_WAIT)
            return s

        with _in_netns(self.dst, listen), _in_netns(self.src, client) as c:
            try:
                return c.connect_ex((DST_IP, dport)) == 0, c.getsockname()[1]
            except TimeoutError:
                return False, c.getsockname()[1]

    def ping(self) -> bool:
        ident = random.randrange(1, 0xFFFF)
        body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"netdoctor"
        body = body[:2] + struct.pack("!H", _checksum(body)) + body[4:]

        def raw() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            s.settimeout(PROBE_WAIT)
            return s

        with _in_netns(self.src, raw) as s:
            s.sendto(body, (DST_IP, 0))
            deadline = time.monotonic() + PROBE_WAIT
            while time.monotonic() < deadline:
                try:
                    data = s.recv(2048)
                except TimeoutError:
                    return False
                icmp = data[(data[0] & 0x0F) * 4 :]
                if icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
                    return True
            return False

    def ipip(self) -> bool:
        def raw(wait: bool) -> Callable[[], socket.socket]:
            def make() -> socket.socket:
                s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
                if wait:
                    s.settimeout(PROBE_WAIT)
                return s

            return make

        with _in_netns(self.dst, raw(True)) as rx, _in_netns(self.src, raw(False)) as tx:
            tag = os.urandom(8)
            tx.sendto(b"\x45" + b"\x00" * 19 + tag, (DST_IP, 0))
            deadline = time.monotonic() + PROBE_WAIT
            while time.monotonic() < deadline:
                try:
                    if tag in rx.recv(2048):
                        return True
                except TimeoutError:
                    return False
            return False


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data[: len(data) // 2 * 2]))
    if len(data) % 2:
        total += data[-1] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _namespaces() -> set[str]:
    done = _run("ip", "netns", "list")
    return {line.split()[0] for line in done.stdout.splitlines() if line.startswith("ndnf")}


@pytest.fixture(scope="module")
def router() -> Iterator[Router]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    if shutil.which("ip") is None or shutil.which("iptables-restore") is None:
        pytest.skip("needs iproute2 and iptables")
    tag = uuid.uuid4().hex[:6]
    r = Router(f"ndnf{tag}s", f"ndnf{tag}r", f"ndnf{tag}d")
    made: list[str] = []
    try:
        for ns in (r.src, r.router, r.dst):
            done = _run("ip", "netns", "add", ns)
            if done.returncode != 0:
                pytest.skip(f"ip netns add fails here: {done.stderr.strip()}")
            made.append(ns)
        setup = [
            (
                "ip",
                "-n",
                r.router,
                "link",
                "add",
                "ra",
                "type",
                "veth",
                "peer",
                "eth0",
                "netns",
                r.src,
            ),
            (
                "ip",
                "-n",
                r.router,
                "link",
                "add",
                "rb",
                "type",
                "veth",
                "peer",
                "eth0",
                "netns",
                r.dst,
            ),
            ("ip", "-n", r.src, "addr", "add", f"{SRC_IP}/24", "dev", "eth0"),
            ("ip", "-n", r.dst, "addr", "add", f"{DST_IP}/24", "dev", "eth0"),
            ("ip", "-n", r.router, "addr", "add", "10.123.1.1/24", "dev", "ra"),
            ("ip", "-n", r.router, "addr", "add", "10.123.2.1/24", "dev", "rb"),
            *(
                ("ip", "-n", ns, "link", "set", dev, "up")
                for ns in (r.src, r.dst)
                for dev in ("lo", "eth0")
            ),
            *(("ip", "-n", r.router, "link", "set", dev, "up") for dev in ("lo", "ra", "rb")),
            ("ip", "-n", r.src, "route", "add", "default", "via", "10.123.1.1"),
            ("ip", "-n", r.dst, "route", "add", "default", "via", "10.123.2.1"),
            ("ip", "netns", "exec", r.router, "sysctl", "-qw", "net.ipv4.ip_forward=1"),
        ]
        for cmd in setup:
            done = _run(*cmd)
            if done.returncode != 0:
                pytest.skip(f"{' '.join(cmd)} fails here: {done.stderr.strip()}")
        probe = _run("ip", "netns", "exec", r.router, "iptables-restore", stdin=KERNEL_CASES[0][1])
        if probe.returncode != 0:
            pytest.skip(f"iptables-restore fails in a namespace: {probe.stderr.strip()}")
        yield r
    finally:
        for ns in made:
            _run("ip", "netns", "del", ns)
        assert not {ns for ns in _namespaces() if tag in ns}, "namespaces left behind"


def _filter(policy: str, *rules: str, chains: tuple[str, ...] = ()) -> str:
    lines = ["*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {policy} [0:0]", ":OUTPUT ACCEPT [0:0]"]
    return "\n".join([*lines, *(f":{c} - [0:0]" for c in chains), *rules, "COMMIT", ""])


KERNEL_CASES: list[tuple[str, str]] = [
    (
        "conntrack, multiport and syn",
        _filter(
            "DROP",
            "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A FORWARD -p udp -m multiport --dports 5001,5003:5004 -j ACCEPT",
            "-A FORWARD -p tcp -m tcp --dport 5010 --syn -j ACCEPT",
            "-A FORWARD -p 4 -j ACCEPT",
        ),
    ),
    (
        "goto and jump",
        _filter(
            "DROP",
            "-A FORWARD -p udp -m udp --dport 5004 -g SUB",
            "-A FORWARD -m conntrack --ctstate ESTABLISHED -j ACCEPT",
            "-A FORWARD -p udp -j CHK",
            "-A FORWARD -j CHK",
            "-A FORWARD -p udp -j ACCEPT",
            "-A FORWARD -p icmp -j ACCEPT",
            "-A CHK -p udp -m udp --dport 5001 -g SUB",
            "-A CHK -p udp -m udp --dport 5002 -j SUB",
            "-A CHK -p udp -j DROP",
            "-A CHK -p icmp -g SUB",
            "-A CHK -p tcp -j SUB",
            "-A CHK -p tcp -j DROP",
            "-A SUB -j RETURN",
            chains=("CHK", "SUB"),
        ),
    ),
    (
        "marks, negations and wildcards",
        _filter(
            "DROP",
            "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A FORWARD -i r+ -p udp -m udp ! --dport 5001 -j MARK --set-xmark 0x10000/0x10000",
            "-A FORWARD ! -s 10.123.1.0/24 -j DROP",
            "-A FORWARD -m mark --mark 0x10000/0x10000 -j ACCEPT",
            "-A FORWARD ! -i rb -p icmp -m icmp --icmp-type 8 -j ACCEPT",
        ),
    ),
    (
        "reject and protocols",
        _filter(
            "ACCEPT",
            "-A FORWARD -p tcp -m tcp --dport 5011 -j REJECT --reject-with tcp-reset",
            "-A FORWARD -p udp -m udp --dport 5002:5003 -j DROP",
            "-A FORWARD -p ipencap -j DROP",
            "-A FORWARD -i rb -p icmp -m icmp --icmp-type 0 -j DROP",
        ),
    ),
]
PROBES = [
    ("udp", 5001),
    ("udp", 5002),
    ("udp", 5004),
    ("tcp", 5010),
    ("tcp", 5011),
    ("icmp", 0),
    ("ipip", 0),
]


def _model(rs: Ruleset, kind: str, dport: int, sport: int) -> bool | None:
    """What the model says: the forward packet (and for TCP and ping the reply) accepted."""
    fwd = Packet(SRC_IP, DST_IP, kind, sport, dport, "ra", "rb") if dport else None
    back: Packet | None = None
    if kind == "tcp":
        back = Packet(DST_IP, SRC_IP, "tcp", dport, sport, "rb", "ra", "ESTABLISHED")
    elif kind == "icmp":
        fwd = Packet(SRC_IP, DST_IP, "icmp", None, None, "ra", "rb")
        back = Packet(DST_IP, SRC_IP, "icmp", None, None, "rb", "ra", "ESTABLISHED")
    elif kind == "ipip":
        fwd = Packet(SRC_IP, DST_IP, "ipip", None, None, "ra", "rb")
    verdicts = [evaluate(rs, "filter", "FORWARD", p).verdict for p in (fwd, back) if p is not None]
    if "unknown" in verdicts:
        return None
    return all(v == "accept" for v in verdicts)


@pytest.mark.root
@pytest.mark.parametrize(("name", "text"), KERNEL_CASES, ids=[n for n, _ in KERNEL_CASES])
def test_the_model_agrees_with_the_kernel_on_real_forwarded_traffic(
    router: Router, name: str, text: str
) -> None:
    rs = router.load(text)
    seen: list[tuple[str, int, bool, bool | None]] = []
    for kind, dport in PROBES:
        if kind == "udp":
            kernel, sport = router.udp(dport)
        elif kind == "tcp":
            kernel, sport = router.tcp(dport)
        elif kind == "icmp":
            kernel, sport = router.ping(), 0
        else:
            kernel, sport = router.ipip(), 0
        seen.append((kind, dport, kernel, _model(rs, kind, dport, sport)))
    assert [(k, p, kern) for k, p, kern, _ in seen] == [(k, p, m) for k, p, _, m in seen], name
