"""``runbooks lint`` catches each defect on a seeded bad folder, and the shipped folder is sound."""

from __future__ import annotations

from pathlib import Path

import pytest

import netdoctor.checks  # noqa: F401  (registers every check)
from netdoctor.checks import REGISTRY
from netdoctor.runbooks.lint import command_mistakes, lint
from netdoctor.runbooks.loader import load_dir

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "runbooks_bad"
SHIPPED, SHIPPED_PROBLEMS = load_dir()

# Every root-cause id of shared/docs/root-causes.md: the shipped runbooks may name only these.
ROOT_CAUSE_IDS = frozenset(
    [
        "calico-node-address-mismatch",
        "calico-duplicate-node-address",
        "calico-bgp-not-established",
        "calico-encapsulation-cross-subnet",
        "calico-version-unsupported",
        "flannel-public-ip-duplicate",
        "flannel-public-ip-mismatch",
        "flannel-host-gw-not-l2",
        "cni-config-conflict",
        "cni-agent-unhealthy",
        "overlay-port-blocked",
        "node-missing-pod-route",
        "overlay-fdb-missing",
        "mtu-mismatch",
        "node-ip-forward-disabled",
        "node-forward-policy-drop",
        "node-bridge-nf-disabled",
        "node-rp-filter-strict",
        "node-internal-ip-duplicate",
        "pod-cidr-overlap",
        "conntrack-table-full",
        "pod-ip-conflict",
        "node-pod-cidr-missing",
        "ovn-controller-unhealthy",
        "ovn-trace-drop",
        "kubeovn-encap-ip-mismatch",
        "networkpolicy-denies",
        "networkpolicy-blocks-dns",
        "service-no-endpoints",
        "service-endpoints-not-ready",
        "service-targetport-mismatch",
        "kube-proxy-unhealthy",
        "dns-unhealthy",
        "pod-not-ready",
        "target-not-listening",
    ]
)


@pytest.fixture(scope="module")
def bad_issues():
    books, problems = load_dir(BAD)
    return lint(books, problems, known_checks=set(REGISTRY), routing_pool=[*SHIPPED, *books])


def rules_for(issues, filename: str) -> set[str]:
    return {i.rule for i in issues if Path(i.path).name == filename}


@pytest.mark.parametrize(
    ("filename", "rule"),
    [
        ("no-front-matter.md", "unreadable"),
        ("one-language.md", "unreadable"),
        ("dup-a.md", "duplicate-id"),
        ("dup-b.md", "duplicate-id"),
        ("bad-category.md", "bad-category"),
        ("unknown-check.md", "unknown-check"),
        ("bad-reference.md", "bad-reference"),
        ("missing-branch.md", "missing-branch"),
        ("empty-step.md", "empty-step"),
        ("unreachable.md", "unreachable-step"),
        ("unreachable.md", "unreachable-conclusion"),
        ("cycle.md", "cycle"),
        ("no-sections.md", "missing-section"),
        ("misrouted.md", "example-misrouted"),
        ("misrouted.md", "counter-example-matches"),
        ("command-mistakes.md", "command-mistake"),
        ("collides.md", "trigger-collision"),
    ],
)
def test_each_seeded_defect_is_reported_on_its_file(bad_issues, filename, rule):
    assert rule in rules_for(bad_issues, filename)


def test_the_well_formed_runbook_in_the_bad_folder_has_no_error(bad_issues):
    assert not [i for i in bad_issues if Path(i.path).name == "good.md" and i.level == "error"]


def test_a_trigger_collision_is_a_warning_that_names_both_runbooks(bad_issues):
    hit = next(i for i in bad_issues if i.rule == "trigger-collision")
    assert hit.level == "warning"
    assert hit.params == {"term": "zebra-widget", "runbooks": "collides, good"}


def test_the_cycle_is_spelled_out(bad_issues):
    cycle = next(i for i in bad_issues if i.rule == "cycle")
    assert cycle.params["steps"] == "a -> b -> a"


def test_ovn_trace_matching_an_ip_on_eth_dst_is_caught_and_ip4_dst_is_accepted():
    wrong = "ovn-trace ls1 'inport == \"a.ns\" && eth.dst == 10.16.0.5 && icmp4'"
    assert command_mistakes(wrong) == [("eth.dst == 10.16.0.5", "ip4.dst == 10.16.0.5")]
    right = (
        "ovn-trace ls1 'inport == \"a.ns\" && eth.dst == 00:00:00:aa:bb:cc && ip4.dst == 10.16.0.5'"
    )
    assert command_mistakes(right) == []
    assert command_mistakes("ovn-trace ls1 'ip.dst == <DST_IP>'") == [
        ("ip.dst == <DST_IP>", "ip4.dst == <DST_IP>")
    ]


@pytest.mark.parametrize(
    ("command", "ok"),
    [
        ("kubectl ko trace default/web 10.16.0.9 icmp", True),
        ("kubectl ko trace default/web 10.16.0.9 tcp 80", True),
        ("kubectl ko trace default/web 10.16.0.9 00:00:00:11:22:33 udp 53", True),
        ("kubectl ko trace <NS>/<POD> <DST_IP> tcp <PORT>", True),
        ("kubectl ko trace default/web 10.16.0.9", False),  # no protocol
        ("kubectl ko trace default/web 10.16.0.9 tcp", False),  # tcp without a port
        ("kubectl ko trace web 10.16.0.9 icmp", False),  # not NS/POD
        ("kubectl ko trace default/web 10.16.0.9 icmp 80", False),  # icmp has no port
        ("kubectl exec -n default web -- cat /sys/class/net/eth0/iflink", True),
        ("kubectl exec -n default web cat /sys/class/net/eth0/iflink", False),
    ],
)
def test_known_tools_command_forms(command, ok):
    assert (command_mistakes(command) == []) is ok


def test_the_shipped_runbooks_only_wait_for_checks_of_the_root_cause_catalog():
    """Passes now and after the merge: nothing but not-yet-built root-cause ids is reported."""
    assert SHIPPED_PROBLEMS == []
    issues = lint(SHIPPED, known_checks=set(REGISTRY))
    errors = [i for i in issues if i.level == "error"]
    assert all(i.rule == "unknown-check" for i in errors), errors
    assert {i.params["check"] for i in errors} <= ROOT_CAUSE_IDS
    used = {c for b in SHIPPED for c in b.check_ids}
    assert used <= ROOT_CAUSE_IDS


def test_the_shipped_runbooks_lint_clean():
    """Fails until every check id of the root-cause catalog is registered (other helpers)."""
    issues = lint(SHIPPED, known_checks=set(REGISTRY))
    assert [i for i in issues if i.level == "error"] == []
