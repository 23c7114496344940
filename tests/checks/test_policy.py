"""NET-701 / NET-702 over real Kubernetes JSON shapes, and a real lab capture (namespaces
as nodes and pods, a real NetworkPolicy enforced by iptables, real probes)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import msgspec
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policy"))

from netpol_world import policy, world

from netdoctor.checks import REGISTRY
from netdoctor.checks._support.endpoints import resolve_endpoint
from netdoctor.checks._support.registry import Context, Skip
from netdoctor.checks.policy import flows_for
from netdoctor.engine import diagnose
from netdoctor.model import k8s
from netdoctor.model.findings import Finding
from netdoctor.model.snapshot import Question
from netdoctor.policy import evaluate_flow
from netdoctor.sources.bundle import BundleSource

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "lab-calico-routed-policy-drop"


def test_the_lab_capture_names_the_policy_first_with_its_rule_and_an_allowing_fix() -> None:
    d = diagnose(BundleSource(LAB).load())
    assert d.verdict.exit_status == 1
    first = d.findings[0].finding
    assert first.id == "networkpolicy-denies"
    assert first.params["src"] == "default/pod-n1-1"
    assert first.params["dst"] == "default/pod-n2-1"
    assert first.params["policies"] == "default/deny-pod-n1-1-to-pod-n2-1"
    assert any("NotIn" in e.value for e in first.evidence)
    assert first.fix[0].command.endswith("| kubectl apply -f -")


def test_the_suggested_policy_opens_the_flow_once_applied() -> None:
    snap = BundleSource(LAB).load()
    d = diagnose(snap)
    f = d.findings[0].finding
    flow = f.fix[0].command.removeprefix("echo '").removesuffix("' | kubectl apply -f -")
    doc = yaml.safe_load(flow)
    fixed = replace(
        snap,
        networkpolicies=(*(snap.networkpolicies or ()), msgspec.convert(doc, k8s.NetworkPolicy)),
    )
    a, b = fixed.pod_by_ref["default/pod-n1-1"], fixed.pod_by_ref["default/pod-n2-1"]
    assert evaluate_flow(snap, a, b, 8080, "TCP").allowed is False
    assert evaluate_flow(fixed, a, b, 8080, "TCP").allowed is True
    # ... and nothing wider: another port stays closed.
    assert evaluate_flow(fixed, a, b, 8081, "TCP").allowed is False


def _ctx(snap, src: str, dst: str, port: int | None, proto: str = "TCP") -> Context:
    q = Question(from_=src, to=dst, port=port, protocol=proto)
    return Context(
        snapshot=snap,
        question=q,
        source=resolve_endpoint(snap, src, "--from"),
        target=resolve_endpoint(snap, dst, "--to"),
    )


def _run(check_id: str, ctx: Context) -> list[object]:
    return list(REGISTRY[check_id].run(ctx))


DENY_EGRESS = policy("x", "deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})


def test_an_egress_deny_on_the_source_is_reported_on_the_source_side() -> None:
    snap = world(["x/a", "y/b"], [DENY_EGRESS])
    out = _run("networkpolicy-denies", _ctx(snap, "x/a", "y/b", 80))
    (f,) = out
    assert isinstance(f, Finding)
    assert f.variant == "egress"
    assert f.subject.ref == "Pod/x/a"
    assert "policyTypes: [Egress]" in f.fix[0].command
    assert "kubernetes.io/metadata.name: y" in f.fix[0].command


def test_a_flow_the_policies_allow_gives_no_finding() -> None:
    allow = policy(
        "x",
        "allow-to-y",
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}],
        },
    )
    snap = world(["x/a", "y/b"], [DENY_EGRESS, allow])
    assert _run("networkpolicy-denies", _ctx(snap, "x/a", "y/b", 80)) == []


def test_unknown_namespace_labels_skip_the_question_instead_of_guessing() -> None:
    allow = policy(
        "y",
        "from-team",
        {
            "podSelector": {},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}]}],
        },
    )
    snap = world(["x/a", "y/b"], [allow], with_namespaces=False)
    out = _run("networkpolicy-denies", _ctx(snap, "x/a", "y/b", 80))
    assert isinstance(out[-1], Skip)
    assert out[-1].message.params["path"] == "k8s/namespaces.json"


def test_flows_come_from_the_question_and_failed_probes_only() -> None:
    snap = BundleSource(LAB).load()
    ctx = Context(snapshot=snap)
    flows = flows_for(ctx)
    assert {(f.src.ref, f.dst.ref) for f in flows} == {("default/pod-n1-1", "default/pod-n2-1")}  # type: ignore[union-attr]
    # icmp and pmtu probes are one ICMP flow; the tcp probe carries its port.
    assert {(f.port, f.protocol) for f in flows} == {(8080, "TCP"), (None, "ICMP")}
    assert len(flows) == 2


def test_dns_check_is_silent_when_no_egress_policy_exists() -> None:
    snap = world(["x/a", "kube-system/coredns"], [])
    assert _run("networkpolicy-blocks-dns", Context(snapshot=snap)) == []


def _dns_world(egress: list[dict[str, object]]):
    coredns = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "coredns-5dd5756b68-bcslh",
            "namespace": "kube-system",
            "labels": {"k8s-app": "kube-dns", "pod-template-hash": "5dd5756b68"},
        },
        "spec": {
            "nodeName": "node1",
            "containers": [
                {
                    "name": "coredns",
                    "ports": [
                        {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                        {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                    ],
                }
            ],
        },
        "status": {"phase": "Running", "podIP": "10.244.9.9", "podIPs": [{"ip": "10.244.9.9"}]},
    }
    lock = policy(
        "x",
        "lockdown",
        {"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": egress},
    )
    return world(["x/a", "x/b"], [lock], extra_pods=[coredns])


def test_an_egress_lockdown_without_port_53_blocks_dns_for_the_pods_it_selects() -> None:
    snap = _dns_world([{"ports": [{"port": 80, "protocol": "TCP"}]}])
    (f,) = _run("networkpolicy-blocks-dns", Context(snapshot=snap))
    assert isinstance(f, Finding)
    assert f.pods == ("x/a",)  # x/b is not selected by the lock-down
    assert f.params["protocols"] == "UDP/TCP"
    assert f.params["dns"] == "kube-system/coredns-5dd5756b68-bcslh"
    assert "{protocol: UDP, port: 53}" in f.fix[0].command
    assert "k8s-app: kube-dns" in f.fix[0].command


def test_udp_53_alone_still_leaves_tcp_fallback_blocked() -> None:
    snap = _dns_world([{"ports": [{"port": 53, "protocol": "UDP"}]}])
    (f,) = _run("networkpolicy-blocks-dns", Context(snapshot=snap))
    assert isinstance(f, Finding)
    assert f.params["protocols"] == "TCP"


def test_an_egress_rule_for_53_to_anywhere_keeps_dns_working() -> None:
    snap = _dns_world(
        [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]
    )
    assert _run("networkpolicy-blocks-dns", Context(snapshot=snap)) == []


def test_a_question_about_an_allowed_pair_ignores_other_pairs_failed_probes() -> None:
    snap = BundleSource(LAB).load()
    ctx = _ctx(snap, "default/pod-n1-2", "default/pod-n2-1", 8080)
    assert [(f.why, f.port) for f in flows_for(ctx)] == [("question", 8080)]
    assert _run("networkpolicy-denies", ctx) == []
    d = diagnose(snap, Question(from_="default/pod-n1-2", to="default/pod-n2-1", port=8080))
    assert "networkpolicy-denies" not in [r.finding.id for r in d.findings]


def test_a_question_from_an_unlocked_pod_ignores_another_pods_dns_lockdown() -> None:
    snap = _dns_world([{"ports": [{"port": 80, "protocol": "TCP"}]}])
    assert _run("networkpolicy-blocks-dns", _ctx(snap, "x/b", "x/a", 80)) == []
    (f,) = _run("networkpolicy-blocks-dns", _ctx(snap, "x/a", "x/b", 80))
    assert isinstance(f, Finding)
    assert f.params["pod"] == "x/a"


def test_a_service_question_checks_the_policies_of_each_backend_on_its_target_port() -> None:
    snap = BundleSource(LAB).load()
    web = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "clusterIP": "10.96.0.80",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"lab.netdoctor.io/pod": "pod-n2-1"},
            "type": "ClusterIP",
        },
    }
    snap = replace(snap, services=(*(snap.services or ()), msgspec.convert(web, k8s.Service)))
    ctx = _ctx(snap, "default/pod-n1-1", "svc/default/web", 80)
    flows = flows_for(ctx)
    # after DNAT: the backend pod on the targetPort, not the Service's port
    assert [(f.dst.ref, f.port) for f in flows if f.why == "question"] == [  # type: ignore[union-attr]
        ("default/pod-n2-1", 8080)
    ]
    found = [f for f in _run("networkpolicy-denies", ctx) if isinstance(f, Finding)]
    assert found
    assert found[0].params["dst"] == "default/pod-n2-1"
