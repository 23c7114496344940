"""Corners of networking.k8s.io/v1 the upstream suite does not probe, one behaviour each."""

from __future__ import annotations

import msgspec
import pytest
from netpol_world import policy, serving_pod, world

from netdoctor.model.k8s import LabelSelector
from netdoctor.policy import evaluate_flow, parse_selector
from netdoctor.policy.selectors import selector_matches


def _flow(snap, a: str, b: str, port: int | None, proto: str = "TCP") -> bool | None:
    return evaluate_flow(snap, snap.pod_by_ref[a], snap.pod_by_ref[b], port, proto).allowed


def test_without_policy_types_an_empty_egress_list_does_not_isolate_egress() -> None:
    # SetDefaults_NetworkPolicy: Egress only when len(egress) != 0.
    snap = world(["x/a", "y/a"], [policy("x", "p", {"podSelector": {}, "egress": []})])
    assert _flow(snap, "x/a", "y/a", 80) is True
    assert _flow(snap, "y/a", "x/a", 80) is False  # Ingress is always implied


def test_without_policy_types_egress_rules_isolate_egress_too() -> None:
    spec = {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}
    snap = world(["x/a", "y/a"], [policy("x", "p", spec)])
    assert _flow(snap, "x/a", "y/a", 80) is False
    assert _flow(snap, "x/a", "y/a", 53, "UDP") is True


def test_end_port_admits_the_whole_range_and_nothing_past_it() -> None:
    spec = {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": 80, "endPort": 82, "protocol": "TCP"}]}],
    }
    snap = world(["x/a", "y/a"], [policy("x", "p", spec)])
    assert [_flow(snap, "y/a", "x/a", p) for p in (79, 80, 81, 82, 83)] == [
        False, True, True, True, False,
    ]  # fmt: skip


def test_a_named_egress_port_resolves_on_each_destination_pod() -> None:
    other = serving_pod("y/odd", "10.244.9.9")
    other["spec"]["containers"][0]["ports"][0] = {
        "containerPort": 8080, "name": "serve-80-tcp", "protocol": "TCP",
    }  # fmt: skip
    spec = {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "policyTypes": ["Egress"],
        "egress": [{"ports": [{"port": "serve-80-tcp"}]}],
    }
    snap = world(["x/a", "y/b"], [policy("x", "p", spec)], extra_pods=[other])
    assert _flow(snap, "x/a", "y/b", 80) is True
    assert _flow(snap, "x/a", "y/odd", 80) is False  # its serve-80-tcp is 8080
    assert _flow(snap, "x/a", "y/odd", 8080) is True


def test_a_host_network_pod_is_not_isolated_and_matches_only_ip_blocks() -> None:
    host = serving_pod("x/host", "192.0.2.7", host_network=True, labels={"pod": "host"})
    deny = policy("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    from_ns = policy(
        "y",
        "from-x",
        {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {}}]}],
        },
    )
    snap = world(["y/a"], [deny, from_ns], extra_pods=[host])
    assert _flow(snap, "x/host", "y/a", 80) is False  # y/a's selectors never match it
    by_ip = policy(
        "y",
        "from-node",
        {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "192.0.2.0/24"}}]}],
        },
    )
    snap = world(["y/a"], [deny, from_ns, by_ip], extra_pods=[host])
    assert _flow(snap, "x/host", "y/a", 80) is True  # deny in x does not apply to it


def test_an_external_address_is_judged_by_ip_blocks_only() -> None:
    spec = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "203.0.113.0/24", "except": ["203.0.113.0/28"]}}]}],
    }
    snap = world(["x/a"], [policy("x", "p", spec)])
    a = snap.pod_by_ref["x/a"]
    assert evaluate_flow(snap, a, "203.0.113.200", 443, "TCP").allowed is True
    assert evaluate_flow(snap, a, "203.0.113.5", 443, "TCP").allowed is False
    assert evaluate_flow(snap, "203.0.113.200", a, 443, "TCP").allowed is True  # no ingress


def test_a_ping_is_allowed_only_by_rules_without_ports() -> None:
    ports = policy("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]})
    snap = world(["x/a", "y/a"], [ports])
    assert _flow(snap, "y/a", "x/a", None, "ICMP") is False
    anyport = policy("x", "q", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})
    snap = world(["x/a", "x/b"], [ports, anyport])
    assert _flow(snap, "x/b", "x/a", None, "ICMP") is True


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web,tier", {"app": "web"}, False),
        ("app!=web", {}, True),
        ("!canary", {"canary": "true"}, False),
        ("app in (web, api),tier notin (db)", {"app": "api", "tier": "fe"}, True),
        ("app in (web, api),tier notin (db)", {"app": "api", "tier": "db"}, False),
    ],
)
def test_label_selectors_read_like_kubectl(
    text: str, labels: dict[str, str], matches: bool
) -> None:
    assert selector_matches(parse_selector(text), labels) is matches


def test_an_unknown_operator_matches_nothing() -> None:
    bad = msgspec.convert({"matchExpressions": [{"key": "a", "operator": "Gt"}]}, LabelSelector)
    assert selector_matches(bad, {"a": "1"}) is False
