"""NET-303 / NET-304 / NET-305: Calico's BGP sessions, encapsulation across subnets, release.

Most cases start from the shipped scenario bundles (real kubectl/ip shapes) and change one
thing, so each test shows which datum the decision turns on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec
import pytest
from scenarios.test_scenarios import build_bundle, load_case

from netdoctor.catalog.compat import calico_release, minor_of
from netdoctor.engine import diagnose
from netdoctor.model.findings import CheckStatus, Finding
from netdoctor.model.k8s import Installation
from netdoctor.model.snapshot import Snapshot
from netdoctor.sources.bundle import BundleSource

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "commands"


def load(name: str, tmp_path: Path, **changes: object) -> Snapshot:
    case = load_case(SCENARIOS / name)
    if "remove" in changes:
        changes["remove"] = (*case.remove, *changes["remove"])  # type: ignore[misc]
    case = dataclasses.replace(case, **changes)  # type: ignore[arg-type]
    return BundleSource(build_bundle(case, tmp_path / "b")).load()


def findings(snap: Snapshot, check_id: str) -> list[Finding]:
    return [r.finding for r in diagnose(snap).findings if r.finding.id == check_id]


def outcome(snap: Snapshot, check_id: str):  # type: ignore[no-untyped-def]
    return next(o for o in diagnose(snap).outcomes if o.check_id == check_id)


# --- the compatibility table ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [("v3.26.1", (3, 26)), ("3.11", (3, 11)), ("v1.28.6+k3s1", (1, 28)), ("latest", None)],
)
def test_versions_are_read_as_major_and_minor(text, want):
    assert minor_of(text) == want


def test_every_release_row_cites_its_page_and_lists_tested_minors_in_order():
    rows = [calico_release(f"v3.{m}.0") for m in range(11, 30)]
    known = [r for r in rows if r is not None]
    assert {r.release for r in known} >= {"3.11", "3.26", "3.29"}
    for r in known:
        assert r.url.startswith("https://docs.tigera.io/")
        assert list(r.tested) == sorted(r.tested)
        assert r.tested
    assert calico_release("v3.15.1") is None  # not in the table: unknown, never guessed


# --- NET-303 ---------------------------------------------------------------------------------


def test_a_dropped_tcp_179_is_quoted_with_the_rule_and_the_command_that_deletes_it(tmp_path):
    snap = load("60_calico_bgp_tcp_179_dropped_on_one_node", tmp_path)
    found = findings(snap, "calico-bgp-not-established")
    assert {(f.params["node"], f.params["peer_node"]) for f in found} == {
        ("l20-gpu-04", "l20-gpu-05"),
        ("l20-master-01", "l20-gpu-05"),
    }
    f = found[0]
    assert f.variant == "default"
    rule = (
        "-A INPUT -p tcp -m tcp --dport 179"
        ' -m comment --comment "hardening: close unused ports" -j DROP'
    )
    assert any(
        e.source == "nodes/l20-gpu-05/iptables-save.txt" and e.value == rule for e in f.evidence
    )
    assert f.fix[0].command == "iptables " + rule.replace("-A ", "-D ", 1)
    assert any(
        e.value
        == "calico/node is not ready: BIRD is not ready: BGP not established with 10.6.131.36"
        for e in f.evidence
    )


def test_without_the_peers_rules_the_cause_is_left_open_and_the_file_is_named(tmp_path):
    snap = load(
        "60_calico_bgp_tcp_179_dropped_on_one_node",
        tmp_path,
        files=("k8s/events.json", "nodes/l20-gpu-04/extra/calicoctl-node-status.txt"),
        remove=("nodes/l20-gpu-05/iptables-save.txt",),
    )
    found = findings(snap, "calico-bgp-not-established")
    assert found
    assert all(f.variant == "undetermined" for f in found)
    assert all("nodes/l20-gpu-05/iptables-save.txt" in f.params["files"] for f in found)
    assert all(f.severity is not None and f.severity.value == "warning" for f in found)


def test_a_vxlan_only_calico_has_no_bgp_to_blame(tmp_path):
    snap = load(
        "60_calico_bgp_tcp_179_dropped_on_one_node",
        tmp_path,
        patch=(
            *load_case(SCENARIOS / "60_calico_bgp_tcp_179_dropped_on_one_node").patch,
            dataclasses.replace(
                load_case(SCENARIOS / "60_calico_bgp_tcp_179_dropped_on_one_node").patch[0],
                file="k8s/configmaps.json",
                item="kube-system/calico-config",
                merge={"data": {"calico_backend": "vxlan"}},
            ),
        ),
    )
    assert findings(snap, "calico-bgp-not-established") == []


def test_a_session_to_a_nodes_wrong_address_points_to_net_301_and_ranks_below_it(tmp_path):
    snap = load("62_calico_bgp_peers_the_ib_address_of_one_node", tmp_path)
    d = diagnose(snap)
    ids = [r.finding.id for r in d.findings]
    bgp = [r.finding for r in d.findings if r.finding.id == "calico-bgp-not-established"]
    assert ids.index("calico-node-address-mismatch") < ids.index("calico-bgp-not-established")
    assert {f.variant for f in bgp} == {"wrong_peer"}
    assert {(f.params["peer"], f.params["peer_node"]) for f in bgp} == {
        ("10.6.130.201", "l20-gpu-05")
    }
    assert "IP_AUTODETECTION_METHOD=cidr=10.6.131.0/24" in bgp[0].fix[0].command


# --- NET-304 ---------------------------------------------------------------------------------


def test_without_a_bgp_status_capture_the_router_peering_is_unknown_and_said(tmp_path):
    case = load_case(SCENARIOS / "63_calico_pool_without_encapsulation_across_racks")
    snap = load(
        "63_calico_pool_without_encapsulation_across_racks",
        tmp_path,
        files=tuple(f for f in case.files if "extra/" not in f),
    )
    (f,) = findings(snap, "calico-encapsulation-cross-subnet")
    assert f.variant == "peering_unknown"
    assert f.confidence < 1.0


def test_a_node_without_interface_facts_is_noted_never_placed_in_a_subnet(tmp_path):
    snap = load(
        "63_calico_pool_without_encapsulation_across_racks",
        tmp_path,
        remove=("nodes/l20-gpu-05/ip-addr.json",),
        files=tuple(
            f
            for f in load_case(
                SCENARIOS / "63_calico_pool_without_encapsulation_across_racks"
            ).files
            if f != "nodes/l20-gpu-05/ip-addr.json"
        ),
    )
    o = outcome(snap, "calico-encapsulation-cross-subnet")
    assert o.status is CheckStatus.OK  # the two nodes left share one subnet
    assert [(n.key, n.params["node"]) for n in o.notes] == [
        ("note.calico_subnet_unknown", "l20-gpu-05")
    ]


def test_an_operator_install_is_fixed_in_the_installation_not_the_pool(tmp_path):
    snap = load("63_calico_pool_without_encapsulation_across_racks", tmp_path)
    inst = msgspec.convert(
        {
            "apiVersion": "operator.tigera.io/v1",
            "kind": "Installation",
            "metadata": {"name": "default"},
            "spec": {
                "calicoNetwork": {
                    "bgp": "Enabled",
                    "ipPools": [{"cidr": "10.30.0.0/16", "encapsulation": "None"}],
                }
            },
        },
        Installation,
    )
    snap = dataclasses.replace(snap, ippools=None, installations=(inst,))
    (f,) = findings(snap, "calico-encapsulation-cross-subnet")
    assert f.fix[0].command == (
        "kubectl patch installation.operator.tigera.io default --type=json -p "
        """'[{"op":"replace","path":"/spec/calicoNetwork/ipPools/0/encapsulation","""
        """"value":"IPIPCrossSubnet"}]'"""
    )
    assert f.evidence[0].field == "spec.calicoNetwork.ipPools[0].encapsulation"


def test_crosssubnet_pools_need_no_fix(tmp_path):
    case = load_case(SCENARIOS / "63_calico_pool_without_encapsulation_across_racks")
    pool = dataclasses.replace(case.patch[0], merge={"spec": {"ipipMode": "CrossSubnet"}})
    snap = load(
        "63_calico_pool_without_encapsulation_across_racks", tmp_path, patch=(pool, *case.patch[1:])
    )
    assert findings(snap, "calico-encapsulation-cross-subnet") == []


# --- NET-305 ---------------------------------------------------------------------------------


def test_the_odd_calico_node_image_is_noted_on_the_version_finding(tmp_path):
    snap = load("65_calico_v3_11_on_kubernetes_1_19", tmp_path)
    (f,) = findings(snap, "calico-version-unsupported")
    (note,) = f.notes
    assert note.key == "note.odd_one_out.agent_image"
    assert note.params["nodes"] == "l20-gpu-05"
    assert note.params["value"] == "docker.io/calico/node:v3.10.1"
    assert note.params["majority"] == "docker.io/calico/node:v3.11.2"


def _with_versions(snap: Snapshot, calico: str, k8s: str) -> Snapshot:
    from netdoctor.model.k8s import DaemonSet, VersionInfo

    raw = msgspec.json.encode(list(snap.daemonsets or ())).decode()
    raw = raw.replace("calico/node:v3.26.1", f"calico/node:{calico}")
    daemonsets = tuple(msgspec.json.decode(raw, type=list[DaemonSet]))
    version = msgspec.convert({"serverVersion": {"gitVersion": k8s}}, VersionInfo)
    return dataclasses.replace(snap, daemonsets=daemonsets, version=version)


def test_a_release_on_a_version_its_page_says_it_cannot_run_is_critical(tmp_path):
    snap = _with_versions(load("03_healthy_calico", tmp_path), "v3.26.1", "v1.20.15")
    (f,) = findings(snap, "calico-version-unsupported")
    assert (f.variant, f.severity.value if f.severity else None) == ("will_not_work", "critical")
    # No release in the table lists 1.20: the fix says what to look for, it names no release.
    assert f.fix[0].message.key == "fix.calico_upgrade_unknown"


def test_the_upgrade_names_the_newest_release_tested_on_this_kubernetes(tmp_path):
    snap = _with_versions(load("03_healthy_calico", tmp_path), "v3.24.5", "v1.29.4")
    (f,) = findings(snap, "calico-version-unsupported")
    assert f.variant == "default"  # four minors past 1.25
    assert f.params["target"] == "v3.29"
    assert f.fix[0].command == (
        "curl -fLO https://raw.githubusercontent.com/projectcalico/calico/v3.29.0/manifests/calico.yaml"
    )


def test_a_release_missing_from_the_table_is_a_note_not_a_finding(tmp_path):
    snap = _with_versions(load("03_healthy_calico", tmp_path), "v3.15.1", "v1.19.16")
    o = outcome(snap, "calico-version-unsupported")
    assert o.status is CheckStatus.OK
    assert [n.key for n in o.notes] == ["note.calico_release_unknown"]


@pytest.mark.parametrize(("bgp", "sessions"), [("Enabled", 2), ("Disabled", 0)])
def test_an_operator_install_says_whether_bgp_runs_in_its_installation(tmp_path, bgp, sessions):
    snap = load("60_calico_bgp_tcp_179_dropped_on_one_node", tmp_path)
    inst = msgspec.convert(
        {"metadata": {"name": "default"}, "spec": {"calicoNetwork": {"bgp": bgp}}}, Installation
    )
    snap = dataclasses.replace(snap, installations=(inst,))
    found = findings(snap, "calico-bgp-not-established")
    assert len(found) == sessions
    if found:
        assert any(e.field == "spec.calicoNetwork.bgp" for e in found[0].evidence)


def test_an_operator_owned_ippool_is_fixed_through_the_installation_that_declares_it(tmp_path):
    snap = load("63_calico_pool_without_encapsulation_across_racks", tmp_path)
    inst = msgspec.convert(
        {
            "metadata": {"name": "default"},
            "spec": {
                "calicoNetwork": {
                    "ipPools": [
                        {"cidr": "fd00:30::/64", "encapsulation": "None"},
                        {"cidr": "10.30.0.0/16", "encapsulation": "None"},
                    ]
                }
            },
        },
        Installation,
    )
    snap = dataclasses.replace(snap, installations=(inst,))
    (f,) = findings(snap, "calico-encapsulation-cross-subnet")
    assert f.evidence[0].object == "IPPool/default-ipv4-ippool"  # read from the IPPool itself
    assert "/spec/calicoNetwork/ipPools/1/encapsulation" in f.fix[0].command


def test_when_the_rules_accept_bgp_the_finding_names_the_data_that_would_tell(tmp_path):
    case = load_case(SCENARIOS / "60_calico_bgp_tcp_179_dropped_on_one_node")
    snap = load(
        "60_calico_bgp_tcp_179_dropped_on_one_node",
        tmp_path,
        files=tuple(f for f in case.files if not f.endswith("iptables-save.txt")),
    )
    by_pair = {
        (f.params["node"], f.params["peer_node"]): f
        for f in findings(snap, "calico-bgp-not-established")
    }
    assert {f.variant for f in by_pair.values()} == {"undetermined"}
    # l20-gpu-04 has a status capture and a calico-node log: only BIRD's detail is left
    assert by_pair["l20-gpu-04", "l20-gpu-05"].params["files"] == (
        "nodes/l20-gpu-04/extra/birdcl-show-protocols-all.txt"
    )
    # l20-master-01 has no capture: that is the first thing to collect
    assert by_pair["l20-gpu-05", "l20-master-01"].params["files"] == (
        "nodes/l20-gpu-05/extra/calicoctl-node-status.txt"
    )


def test_an_odd_calico_node_image_on_a_supported_release_is_still_noted(tmp_path):
    from netdoctor.model.k8s import Pod

    snap = load("03_healthy_calico", tmp_path)
    pods = []
    for p in snap.pods or ():
        if p.metadata.name == "calico-node-wj6fc":
            raw = msgspec.json.encode(p).decode().replace("node:v3.26.1", "node:v3.26.0")
            p = msgspec.json.decode(raw, type=Pod)
        pods.append(p)
    d = diagnose(dataclasses.replace(snap, pods=tuple(pods)))
    o = next(o for o in d.outcomes if o.check_id == "calico-version-unsupported")
    assert o.status is CheckStatus.OK
    assert [(n.key, n.params["nodes"], n.params["value"]) for n in o.notes] == [
        ("note.odd_one_out.agent_image", "l20-gpu-05", "docker.io/calico/node:v3.26.0")
    ]
    assert d.verdict.value == "healthy"
