"""Every shipped lab bundle, diagnosed as a user would (no question; the lab's real probes
kept): a healthy lab is healthy, and a broken one names the injected fault as its first
finding. The bundles are real captures written by ``netdoctor lab collect``
(tests/fixtures/labbundles); the root test in tests/trace builds the same labs afresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdoctor.engine import diagnose
from netdoctor.model.findings import Verdict
from netdoctor.sources.bundle import BundleSource

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "labbundles"

# fault -> the root cause it must be diagnosed as (the address faults depend on the CNI)
CAUSE = {
    "ip-forward-off": {"node-ip-forward-disabled"},
    "forward-drop": {"node-forward-policy-drop"},
    "overlay-port-blocked": {"overlay-port-blocked"},
    "missing-route": {"node-missing-pod-route"},
    "mtu-too-large": {"mtu-mismatch"},
    "rp-filter-strict": {"node-rp-filter-strict"},
    "policy-drop": {"networkpolicy-denies"},
    "wrong-tunnel-address": {"calico-node-address-mismatch", "flannel-public-ip-mismatch"},
    "duplicate-public-ip": {"flannel-public-ip-duplicate"},
}
BUNDLES = sorted(p.name.removesuffix(".tgz") for p in LAB.glob("*.tgz"))


def test_every_layout_and_fault_is_shipped() -> None:
    layouts = {b.split("--")[0] for b in BUNDLES}
    faults = {b.split("--")[1] for b in BUNDLES}
    assert layouts == {"flannel-vxlan", "flannel-host-gw", "calico-vxlan", "calico-routed"}
    assert faults == {"none", *CAUSE}


@pytest.mark.parametrize("name", BUNDLES)
def test_the_lab_bundle_is_diagnosed_as_its_injected_fault(name: str) -> None:
    fault = name.split("--")[1]
    d = diagnose(BundleSource(LAB / f"{name}.tgz").load())
    found = [r.finding.id for r in d.findings]
    if fault == "none":
        assert d.verdict is Verdict.HEALTHY, (d.verdict, found, d.reasons)
        return
    assert d.verdict is Verdict.BROKEN, (d.verdict, found)
    assert found[0] in CAUSE[fault], found
