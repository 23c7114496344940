"""Each layout, healthy: every pod pair pings and connects, and the bundle diagnoses healthy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netdoctor.cli import main
from netdoctor.lab.build import Lab
from netdoctor.lab.collect import collect
from netdoctor.lab.plan import LayoutName
from netdoctor.lab.probe import probe_lab
from netdoctor.sources.bundle import BundleSource

pytestmark = pytest.mark.root


@pytest.fixture(scope="module", params=list(LayoutName), ids=lambda x: x.value)
def healthy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Lab, list[dict[str, Any]], Path]]:
    with Lab.running(request.param, nodes=3, pods_per_node=2) as lab:
        records = probe_lab(lab.plan)
        out = tmp_path_factory.mktemp(request.param.value) / "bundle"
        collect(lab, out, probes=records)
        yield lab, records, out


def test_every_pod_pair_pings_and_connects(healthy: tuple[Lab, list[Any], Path]) -> None:
    lab, records, _ = healthy
    n = len(lab.plan.pods)
    assert len(records) == n * (n - 1) * 3  # icmp, tcp, pmtu
    assert [r for r in records if r["result"] != "ok"] == []


def test_the_bundle_loads_and_diagnoses_healthy(
    healthy: tuple[Lab, list[Any], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lab, records, out = healthy
    snap = BundleSource(str(out)).load()
    assert {n.note for n in snap.input_notes} <= {"missing"}  # optional files only
    assert {n.metadata.name for n in snap.nodes or ()} == {n.name for n in lab.plan.nodes}
    assert len(snap.probes or ()) == len(records)
    with pytest.raises(SystemExit) as exit_:
        main(["diagnose", "--bundle", str(out), "--lang", "en"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0, text
    assert text.startswith("HEALTHY")


def test_the_bundle_holds_what_the_cni_built(healthy: tuple[Lab, list[Any], Path]) -> None:
    lab, _, out = healthy
    plan = lab.plan
    nodes = json.loads((out / "k8s/nodes.json").read_text())
    assert nodes["kind"] == "List"
    node2 = next(n for n in nodes["items"] if n["metadata"]["name"] == "node2")
    ann = node2["metadata"]["annotations"]
    routes = json.loads((out / "nodes/node1/ip-route.json").read_text())
    to_node2 = next(r for r in routes if r["dst"] == plan.nodes[1].subnet)
    if plan.cni == "flannel":
        assert ann["flannel.alpha.coreos.com/public-ip"] == "10.6.131.12"
        assert (out / "nodes/node1/cni/10-flannel.conflist").exists()
    else:
        assert ann["projectcalico.org/IPv4Address"] == "10.6.131.12/24"
        assert (out / "nodes/node1/cni/10-calico.conflist").exists()
    if plan.layout.overlay:
        vtep_mac = plan.nodes[1].vtep_mac
        assert to_node2["gateway"] == plan.nodes[1].tunnel_ip
        assert to_node2["dev"] == plan.vtep
        assert "onlink" in to_node2["flags"]
        fdb = json.loads((out / "nodes/node1/bridge-fdb.json").read_text())
        assert {"mac": vtep_mac, "dst": "10.6.131.12"}.items() <= next(
            e for e in fdb if e["mac"] == vtep_mac
        ).items()
        if plan.cni == "flannel":
            data = json.loads(ann["flannel.alpha.coreos.com/backend-data"])
            assert data == {"VNI": 1, "VtepMAC": vtep_mac}
        else:
            assert ann["projectcalico.org/IPv4VXLANTunnelAddr"] == plan.nodes[1].tunnel_ip
    else:
        assert to_node2["gateway"] == "10.6.131.12"
        assert to_node2["dev"] == "eth0"
    if plan.cni == "calico":
        pod_routes = json.loads((out / "pods/default/pod-n1-1/ip-route.json").read_text())
        assert {"dst": "default", "gateway": "169.254.1.1", "dev": "eth0"}.items() <= pod_routes[
            0
        ].items()
        sysctl = (out / "nodes/node1/sysctl.txt").read_text()
        veth = plan.nodes[0].pods[0].host_veth
        assert f"net.ipv4.conf.{veth}.proxy_arp = 1" in sysctl
