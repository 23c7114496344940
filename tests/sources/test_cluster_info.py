"""The `kubectl cluster-info dump --output-directory` layout, read as it is."""

from __future__ import annotations

from pathlib import Path

from source_helpers import BUNDLES, pack

from netdoctor.catalog import load_catalog
from netdoctor.sources import BundleSource
from netdoctor.sources.clusterinfo import split_logs

DUMP = BUNDLES / "cluster-info-dump"


def test_a_cluster_info_dump_folder_is_recognised_and_merged_across_namespaces() -> None:
    snap = BundleSource(DUMP).load()
    assert snap.source_kind == "cluster-info-dump"
    assert [n.name for n in snap.nodes or ()] == ["l20-gpu-04", "l20-gpu-05"]
    assert snap.node_by_name["l20-gpu-04"].internal_ips == ["10.6.131.34"]
    assert sorted(p.ref for p in snap.pods or ()) == [
        "default/netdebug04",
        "default/netdebug05",
        "kube-system/calico-node-x7k2p",
    ]
    assert [s.ref for s in snap.services or ()] == ["kube-system/kube-dns"]
    assert [d.ref for d in snap.daemonsets or ()] == ["kube-system/calico-node"]
    assert snap.deployments == ()
    assert len(snap.events or ()) == 1
    assert snap.networkpolicies is None
    assert snap.endpointslices is None
    assert snap.configmaps is None
    assert snap.version is None
    assert snap.node_facts == {}
    assert snap.probes is None


def test_a_dump_records_provenance_as_the_pattern_it_read() -> None:
    snap = BundleSource(DUMP).load()
    assert snap.source("k8s.nodes") == "nodes.json"
    assert snap.source("k8s.pods") == "<ns>/pods.json"
    assert snap.source("k8s.services") == "<ns>/services.json"
    assert snap.log_source("kube-system/calico-node-x7k2p", "calico-node") == (
        "kube-system/calico-node-x7k2p/logs.txt"
    )


def test_a_dump_logs_file_is_split_into_one_log_per_container() -> None:
    snap = BundleSource(DUMP).load()
    assert snap.logs is not None
    assert snap.logs["kube-system/calico-node-x7k2p/install-cni"] == (
        "2026-02-14 09:00:00.000 [INFO][1] cni-installer/main.go 123: "
        "CNI plugin binaries installed\n"
    )
    calico = snap.logs["kube-system/calico-node-x7k2p/calico-node"]
    assert calico.splitlines()[1].endswith("VXLAN device not found")
    assert "==== " not in calico
    # Without START/END markers the whole file is kept under the container name "logs".
    assert snap.logs["default/netdebug04/logs"] == "sshd listening on 0.0.0.0 port 22\n"


def test_what_a_dump_lacks_is_noted_missing_and_what_it_has_unused_is_ignored() -> None:
    snap = BundleSource(DUMP).load()
    cat = load_catalog()
    missing = {
        n.file: cat.text(f"input.{n.reason}", "en", n.params)
        for n in snap.input_notes
        if n.note == "missing"
    }
    assert missing == {
        "k8s/endpointslices.discovery.k8s.io.json": "a cluster-info dump does not have it",
        "k8s/networkpolicies.networking.k8s.io.json": "a cluster-info dump does not have it",
        "k8s/configmaps.json": "a cluster-info dump does not have it",
        "k8s/version.json": "a cluster-info dump does not have it",
        "nodes/": "a cluster-info dump has no node facts",
    }
    ignored = {
        n.file: cat.text(f"input.{n.reason}", "en", n.params)
        for n in snap.input_notes
        if n.note == "ignored"
    }
    assert ignored == {
        "<ns>/replicasets.json": "2 files; netdoctor has no use for this resource",
        "<ns>/replication-controllers.json": "2 files; netdoctor has no use for this resource",
    }


def test_a_dump_packed_in_a_tgz_under_one_folder_is_read_the_same(tmp_path: Path) -> None:
    archive = pack(DUMP, tmp_path / "dump.tgz", prefix="cluster-state/")
    snap = BundleSource(archive).load()
    assert snap.source_kind == "cluster-info-dump"
    assert len(snap.pods or ()) == 3
    assert snap.source_path == str(archive)


def test_a_log_section_keeps_only_its_last_two_thousand_lines() -> None:
    body = "".join(f"line {i}\n" for i in range(2500))
    data = (
        "==== START logs for container c of pod ns/p ====\n"
        f"{body}"
        "==== END logs for container c of pod ns/p ====\n"
    ).encode()
    text = split_logs(data, "ns/p")["ns/p/c"]
    assert text.splitlines()[0] == "line 500"
    assert len(text.splitlines()) == 2000
