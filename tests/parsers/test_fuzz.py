"""Every parser, fed random bytes and damaged real output, returns or raises ParseError only."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from command_fixtures import read_command_output
from hypothesis import given, settings
from hypothesis import strategies as st

from netdoctor.errors import ParseError
from netdoctor.model.nodefacts import Ruleset
from netdoctor.parsers.iproute import (
    parse_bridge_fdb,
    parse_ip_addr,
    parse_ip_neigh,
    parse_ip_route,
    parse_ip_rule,
)
from netdoctor.parsers.iptables import parse_iptables_save
from netdoctor.parsers.sysctl import parse_sysctl

Parser = Callable[[bytes, str], Any]

PARSERS: list[tuple[Parser, str]] = [
    (parse_ip_addr, "ip-addr.json"),
    (parse_ip_route, "ip-route.json"),
    (parse_ip_rule, "ip-rule.json"),
    (parse_ip_neigh, "ip-neigh.json"),
    (parse_bridge_fdb, "bridge-fdb.json"),
    (parse_sysctl, "sysctl.txt"),
    (parse_iptables_save, "iptables-save-kube-proxy.txt"),
]
IDS = [p.__name__ for p, _ in PARSERS]


def _survives(parse: Parser, data: bytes) -> None:
    problem = None
    try:
        result = parse(data, "fuzz")
    except ParseError as e:
        problem = e.problem
    else:
        if isinstance(result, Ruleset):
            # Rules are parsed on first access; a file that loaded must never fail later.
            for table in result.tables.values():
                for chain in table.chains.values():
                    assert len(chain.rules) == len(chain)
    assert problem is None or (problem and "\n" not in problem)


@pytest.mark.parametrize(("parse", "fixture"), PARSERS, ids=IDS)
@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2048))
def test_random_bytes_return_or_raise_parse_error(parse: Parser, fixture: str, data: bytes) -> None:
    _survives(parse, data)


_KEYS = st.sampled_from(
    [
        "ifname",
        "mtu",
        "flags",
        "addr_info",
        "linkinfo",
        "info_data",
        "local",
        "prefixlen",
        "dst",
        "gateway",
        "nexthops",
        "table",
        "metric",
        "state",
        "not",
        "priority",
        "mac",
        "vni",
        "x",
    ]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=20,
)


@pytest.mark.parametrize(("parse", "fixture"), PARSERS[:5], ids=IDS[:5])
@settings(max_examples=300, deadline=None)
@given(value=st.lists(st.dictionaries(_KEYS, _JSON, max_size=6), max_size=4) | _JSON)
def test_json_of_unexpected_shapes_returns_or_raises_parse_error(
    parse: Parser, fixture: str, value: object
) -> None:
    _survives(parse, json.dumps(value).encode())


@st.composite
def _damaged(draw: st.DrawFn, real: bytes) -> bytes:
    data = bytearray(real)
    cut = draw(st.integers(0, len(data)))
    if draw(st.booleans()):
        data = data[:cut]
    for _ in range(draw(st.integers(0, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.sampled_from([0, 0x22, 0x5C, 0x2C, 0x7B, 0x5D, 0x0A, 0xFF, 0x21]))
    if draw(st.booleans()) and data:
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(max_size=16))
    return bytes(data)


@pytest.mark.parametrize(("parse", "fixture"), PARSERS, ids=IDS)
@settings(max_examples=300, deadline=None)
@given(seed=st.data())
def test_damaged_real_output_returns_or_raises_parse_error(
    parse: Parser, fixture: str, seed: st.DataObject
) -> None:
    data = seed.draw(_damaged(read_command_output(fixture)))
    _survives(parse, data)


@pytest.mark.parametrize(
    "fixture",
    ["iptables-save-calico.txt", "iptables-save-docker-legacy.txt", "iptables-save-flannel.txt"],
)
@settings(max_examples=300, deadline=None)
@given(seed=st.data())
def test_damaged_rulesets_return_or_raise_parse_error(fixture: str, seed: st.DataObject) -> None:
    _survives(parse_iptables_save, seed.draw(_damaged(read_command_output(fixture))))


_WORDS = st.sampled_from(
    [
        "-p",
        "tcp",
        "!",
        "-s",
        "10.0.0.0/8",
        "-i",
        "eth0",
        "-m",
        "multiport",
        "--dports",
        "80,443",
        "--comment",
        '"a b"',
        '"x\\"y"',
        '"open',
        "-j",
        "-g",
        "ACCEPT",
        "KUBE-SVC",
        "--syn",
        "--set-xmark",
        "0x4000/0x4000",
        "-d",
        "-o",
        "\\",
        '"',
        "--sport",
        "53",
    ]
)


@settings(max_examples=500, deadline=None)
@given(words=st.lists(_WORDS, max_size=10))
def test_a_rule_that_loads_always_parses_later(words: list[str]) -> None:
    line = " ".join(["-A", "INPUT", *words])
    data = f"*filter\n:INPUT ACCEPT [0:0]\n{line}\nCOMMIT\n".encode()
    _survives(parse_iptables_save, data)
