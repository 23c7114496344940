"""NET-204 / NET-206 on the lab's real captures: each fault the lab injects is named first, and
the same layouts without a fault stay healthy."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdoctor.engine import diagnose
from netdoctor.model.findings import Severity
from netdoctor.model.snapshot import Question
from netdoctor.sources.bundle import BundleSource

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "labbundles"
ACROSS = Question(from_="default/pod-n1-1", to="default/pod-n2-1")


def lab(name: str):  # type: ignore[no-untyped-def]
    return BundleSource(LAB / f"{name}.tgz").load()


@pytest.mark.parametrize(
    ("layout", "prefix", "command"),
    [
        (
            "flannel-vxlan",
            "10.244.1.0/24",
            "ip route replace 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink",
        ),
        (
            "flannel-host-gw",
            "10.244.1.0/24",
            "ip route replace 10.244.1.0/24 via 10.6.131.12 dev eth0",
        ),
        (
            "calico-vxlan",
            "10.30.2.64/26",
            "ip route replace 10.30.2.64/26 via 10.30.2.64 dev vxlan.calico onlink",
        ),
        (
            "calico-routed",
            "10.30.2.64/26",
            "ip route replace 10.30.2.64/26 via 10.6.131.12 dev eth0",
        ),
    ],
)
def test_a_deleted_route_to_the_peers_pods_is_named_first_with_the_route_to_restore(
    layout: str, prefix: str, command: str
) -> None:
    for question in (None, ACROSS):
        d = diagnose(lab(f"{layout}--missing-route"), question)
        top = d.findings[0].finding
        assert top.id == "node-missing-pod-route", [r.finding.id for r in d.findings]
        assert (top.subject.name, top.params["peer"], top.params["prefix"]) == (
            "node1",
            "node2",
            prefix,
        )
        assert top.variant == "missing"
        assert any(a.command == command for a in top.fix), [a.command for a in top.fix]
    assert d.path is not None
    assert d.path.hops[d.path.drop_at or 0].cause == top.id


@pytest.mark.parametrize("layout", ["flannel-vxlan", "calico-vxlan"])
def test_pods_at_1500_over_vxlan_on_a_1500_underlay_are_an_mtu_mismatch_on_both_nodes(
    layout: str,
) -> None:
    d = diagnose(lab(f"{layout}--mtu-too-large"))
    assert [r.finding.id for r in d.findings] == ["mtu-mismatch", "mtu-mismatch"]
    for r in d.findings:
        f = r.finding
        assert (f.variant, f.params["pod_mtu"], f.params["overhead"]) == ("encap", "1500", "50")
        assert f.params["required"] == "1450"
        assert {e.source for e in f.evidence} >= {f"nodes/{f.subject.name}/ip-addr.json"}


def test_the_calico_mtu_fix_sets_veth_mtu_in_calico_config_to_underlay_minus_50() -> None:
    d = diagnose(lab("calico-vxlan--mtu-too-large"))
    commands = [a.command for a in d.findings[0].finding.fix]
    assert any("calico-config" in c and '"veth_mtu":"1450"' in c for c in commands), commands


@pytest.mark.parametrize(
    "layout", ["flannel-vxlan", "flannel-host-gw", "calico-vxlan", "calico-routed"]
)
def test_the_lab_layouts_without_a_fault_stay_healthy(layout: str) -> None:
    for question in (None, ACROSS):
        d = diagnose(lab(f"{layout}--none"), question)
        assert d.verdict.value == "healthy", [r.finding.id for r in d.findings]
        assert not [r for r in d.findings if r.severity in (Severity.CRITICAL, Severity.WARNING)]


@pytest.mark.parametrize(
    ("bundle", "first"),
    [
        ("flannel-host-gw--wrong-tunnel-address", "flannel-public-ip-mismatch"),
        ("calico-routed--wrong-tunnel-address", "calico-node-address-mismatch"),
    ],
)
def test_routes_missing_because_an_agent_announces_a_wrong_address_rank_after_that_cause(
    bundle: str, first: str
) -> None:
    d = diagnose(lab(bundle))
    assert d.findings[0].finding.id == first
    routes = [r.finding for r in d.findings if r.finding.id == "node-missing-pod-route"]
    assert routes
    assert all(f.confidence < 1 for f in routes)
    assert all(n.key == "note.overlay.route_peer_address" for f in routes for n in f.notes)
    assert {n.params["address"] for f in routes for n in f.notes} == {"10.6.130.12"}
