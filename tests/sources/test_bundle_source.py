"""BundleSource on well-formed bundles: folders and archives map into the Snapshot as documented."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest
from source_helpers import BUNDLES, assert_one_line, pack

from netdoctor.catalog import load_catalog
from netdoctor.errors import BundleError
from netdoctor.model.snapshot import InputNote, Question, Snapshot
from netdoctor.sources import BundleSource, Source

N4 = "l20-gpu-04"
N5 = "l20-gpu-05"


def notes(snap: Snapshot, kind: str) -> dict[str, str]:
    """file -> why, in the catalog's English (sources give a reason code, never a sentence)."""
    cat = load_catalog()
    return {
        n.file: cat.text(f"input.{n.reason}", "en", n.params) if n.reason else n.detail
        for n in snap.input_notes
        if n.note == kind
    }


def assert_basic_bundle(snap: Snapshot) -> None:
    """What fixtures/bundles/basic holds, wherever it was read from."""
    assert snap.source_kind == "bundle"
    assert [n.name for n in snap.nodes or ()] == [N4, N5]
    assert snap.node_by_name[N5].internal_ips == ["10.6.131.35"]
    assert [p.ref for p in snap.pods or ()] == [
        "default/netdebug04",
        "default/netdebug05",
        "kube-system/calico-node-x7k2p",
    ]
    assert snap.pod_by_ref["default/netdebug05"].ips == ["10.30.229.240"]
    assert [s.ref for s in snap.services or ()] == ["kube-system/kube-dns"]
    assert len(snap.endpointslices or ()) == 1
    assert [p.ref for p in snap.networkpolicies or ()] == ["prod/deny-all"]
    assert snap.daemonset_by_ref["kube-system/calico-node"].status.number_ready == 2
    assert snap.configmap_by_ref["kube-system/calico-config"].data["veth_mtu"] == "0"
    assert len(snap.events or ()) == 1
    assert [p.spec.cidr for p in snap.ippools or ()] == ["10.30.0.0/16"]
    assert snap.version is not None
    assert snap.version.server_version is not None
    assert snap.version.server_version.git_version == "v1.29.4"
    assert snap.deployments is None  # no deployments file: not collected, not empty
    assert [o.spec["vxlanPort"] for o in snap.custom["k8s.felixconfigurations"]] == [4789]
    assert snap.has("k8s.felixconfigurations")
    assert not snap.has("k8s.cilium_nodes")
    assert snap.manifest.cluster == "l20-gpu"
    assert snap.manifest.question == Question(
        from_="default/netdebug04",
        to="default/netdebug05",
        port=22,
        protocol="TCP",
        symptom="跨节点 Pod ping 100% 丢包, TCP 连接超时",
    )

    n4 = snap.node_facts[N4]
    assert n4.interface("ibs845f0") is not None
    assert n4.interface_with_address("10.6.131.34") is not None
    assert [r.dst for r in n4.routes or ()][:2] == ["default", "10.6.131.0/24"]
    assert n4.routes6 is not None
    assert n4.rules is not None
    assert n4.neighbours is not None
    assert n4.fdb is not None
    assert n4.sysctl is not None
    assert n4.sysctl["net.ipv4.ip_forward"] == "1"
    assert n4.iptables is not None
    assert n4.iptables.chain("filter", "FORWARD") is not None
    assert n4.nft == {
        "nftables": [
            {
                "metainfo": {
                    "version": "1.0.6",
                    "release_name": "Lester Gooch #5",
                    "json_schema_version": 1,
                }
            }
        ]
    }
    assert n4.ipvs is not None
    assert n4.ipvs.startswith("IP Virtual Server")
    assert n4.conntrack is not None
    assert "invalid=12" in n4.conntrack
    assert sorted(n4.cni_files or {}) == [
        "10-calico.conflist",
        "99-broken.conf",
        "calico-kubeconfig",
    ]
    assert n4.extra["calicoctl-node-status"].startswith("Calico process is running.")
    n5 = snap.node_facts[N5]
    assert [i.ifname for i in n5.interfaces or ()] == ["lo"]
    assert n5.routes is None
    assert n5.sysctl is None
    assert n5.cni_files is None

    assert set(snap.pod_facts) == {"default/netdebug04"}
    assert snap.pod_facts["default/netdebug04"].routes is not None

    assert snap.logs is not None
    log = snap.logs["kube-system/calico-node-x7k2p/calico-node"]
    assert len(log.splitlines()) == 2000  # the last 2,000 of 2,100 lines
    assert log.splitlines()[0].endswith("felix line 100")
    assert log.splitlines()[-1].endswith("felix line 2099")

    assert snap.probes is not None
    (probe,) = snap.probes
    assert probe.name == "netdebug04-to-netdebug05"
    assert probe.from_.pod == "default/netdebug04"
    assert (probe.to.ip, probe.to.port, probe.to.protocol) == ("10.30.229.240", 22, "TCP")
    assert (probe.kind, probe.result) == ("tcp", "timeout")

    assert dict(snap.provenance) == {
        "manifest": "bundle.yaml",
        "k8s.version": "k8s/version.json",
        "k8s.nodes": "k8s/nodes.json",
        "k8s.pods": "k8s/pods.json",
        "k8s.services": "k8s/services.json",
        "k8s.endpointslices": "k8s/endpointslices.discovery.k8s.io.json",
        "k8s.networkpolicies": "k8s/networkpolicies.json",
        "k8s.daemonsets": "k8s/daemonsets.apps.json",
        "k8s.configmaps": "k8s/configmaps.json",
        "k8s.events": "k8s/events.json",
        "k8s.ippools": "k8s/ippools.crd.projectcalico.org.json",
        "k8s.felixconfigurations": "k8s/felixconfigurations.crd.projectcalico.org.json",
        "logs": "logs/",
        "probes": "probes/",
        "log:kube-system/calico-node-x7k2p/calico-node": (
            "logs/kube-system/calico-node-x7k2p/calico-node.log"
        ),
        **{
            f"node:{N4}:{part}": f"nodes/{N4}/{name}"
            for part, name in {
                "ip_addr": "ip-addr.json",
                "ip_route": "ip-route.json",
                "ip_route6": "ip-route6.json",
                "ip_rule": "ip-rule.json",
                "ip_neigh": "ip-neigh.json",
                "bridge_fdb": "bridge-fdb.json",
                "sysctl": "sysctl.txt",
                "iptables": "iptables-save.txt",
                "ip6tables": "ip6tables-save.txt",
                "nft": "nft-ruleset.json",
                "ipvs": "ipvsadm.txt",
                "conntrack": "conntrack-stats.txt",
                "cni": "cni/",
            }.items()
        },
        f"node:{N5}:ip_addr": f"nodes/{N5}/ip-addr.json",
        "pod:default/netdebug04:ip_addr": "pods/default/netdebug04/ip-addr.json",
        "pod:default/netdebug04:ip_route": "pods/default/netdebug04/ip-route.json",
    }
    assert snap.source("k8s.networkpolicies") == "k8s/networkpolicies.json"
    assert snap.node_source(N4, "sysctl") == f"nodes/{N4}/sysctl.txt"
    assert snap.log_source("kube-system/calico-node-x7k2p", "calico-node") == (
        "logs/kube-system/calico-node-x7k2p/calico-node.log"
    )

    assert notes(snap, "ignored") == {
        "README.txt": "not part of the bundle layout",
        "k8s/endpoints.json": "no check uses this resource",
        "k8s/secrets.json": "Secrets are never read",
    }
    assert set(notes(snap, "malformed")) == {f"nodes/{N4}/cni/99-broken.conf"}
    assert set(notes(snap, "missing")) == {
        f"nodes/{N5}/{name}"
        for name in (
            "ip-route.json",
            "ip-route6.json",
            "ip-rule.json",
            "ip-neigh.json",
            "bridge-fdb.json",
            "sysctl.txt",
            "iptables-save.txt",
            "ip6tables-save.txt",
            "nft-ruleset.json",
            "ipvsadm.txt",
            "conntrack-stats.txt",
            "cni/",
        )
    }
    assert list(snap.input_notes) == sorted(
        snap.input_notes, key=lambda n: (n.file, n.note, n.detail)
    )


def test_a_bundle_folder_maps_every_documented_file_into_the_snapshot() -> None:
    snap = BundleSource(BUNDLES / "basic").load()
    assert_basic_bundle(snap)
    assert snap.source_path == str(BUNDLES / "basic")


def test_bundle_source_satisfies_the_source_protocol() -> None:
    assert isinstance(BundleSource(BUNDLES / "basic"), Source)


def test_the_same_bundle_packed_as_tgz_reads_the_same_and_leaves_no_temp_folder(
    tmp_path: Path, private_tempdir: Path
) -> None:
    archive = pack(BUNDLES / "basic", tmp_path / "bundle.tgz")
    snap = BundleSource(archive).load()
    assert_basic_bundle(snap)
    assert snap.source_path == str(archive)
    assert list(private_tempdir.iterdir()) == []
    # Nothing in the Snapshot points into the (removed) unpack folder.
    assert not any(str(private_tempdir) in v for v in snap.provenance.values())
    assert not any(str(private_tempdir) in n.file for n in snap.input_notes)


def test_an_archive_whose_only_entry_is_a_folder_is_read_as_that_folder(tmp_path: Path) -> None:
    archive = pack(BUNDLES / "basic", tmp_path / "b.tar.gz", prefix="bundle-2026-02-14/")
    assert_basic_bundle(BundleSource(archive).load())


def test_an_archive_made_with_dot_slash_names_is_read_from_its_root(tmp_path: Path) -> None:
    archive = pack(BUNDLES / "basic", tmp_path / "b.tgz", prefix="./")
    assert_basic_bundle(BundleSource(archive).load())


def test_a_plain_tar_and_a_misnamed_archive_are_recognised_by_their_content(
    tmp_path: Path,
) -> None:
    plain = pack(BUNDLES / "basic", tmp_path / "bundle.tar", mode="w")
    assert_basic_bundle(BundleSource(plain).load())
    misnamed = pack(BUNDLES / "basic", tmp_path / "bundle.zip.txt", mode="w:xz")
    assert_basic_bundle(BundleSource(misnamed).load())


def test_a_folder_holding_only_the_bundle_folder_is_read_as_the_bundle(tmp_path: Path) -> None:
    outer = tmp_path / "unpacked"
    outer.mkdir()
    pack(BUNDLES / "basic", tmp_path / "b.tgz", prefix="bundle/")
    with tarfile.open(tmp_path / "b.tgz") as tf:
        tf.extractall(outer, filter="data")
    assert_basic_bundle(BundleSource(outer).load())


def test_a_bundle_holding_only_a_k8s_folder_is_not_mistaken_for_a_wrapper(tmp_path: Path) -> None:
    (tmp_path / "b" / "k8s").mkdir(parents=True)
    (tmp_path / "b" / "k8s" / "nodes.json").write_bytes(
        (BUNDLES / "basic" / "k8s" / "nodes.json").read_bytes()
    )
    snap = BundleSource(tmp_path / "b").load()
    assert len(snap.nodes or ()) == 2
    assert snap.provenance["k8s.nodes"] == "k8s/nodes.json"


def test_yaml_lists_a_typed_podlist_and_a_single_object_are_accepted() -> None:
    snap = BundleSource(BUNDLES / "yaml-lists").load()
    assert [n.name for n in snap.nodes or ()] == ["worker-1"]
    assert snap.node_by_name["worker-1"].internal_ips == ["192.168.10.11"]
    # An unquoted YAML timestamp stays the string kubectl's JSON would have.
    assert snap.node_by_name["worker-1"].metadata.creation_timestamp == "2026-01-10T08:00:00Z"
    assert [(p.ref, p.ips) for p in snap.pods or ()] == [
        ("shop/web-0", ["10.244.1.7"]),
        ("shop/web-1", ["10.244.1.8"]),
    ]
    assert [s.ref for s in snap.services or ()] == ["shop/web"]
    assert snap.version is not None
    assert snap.version.client_version is not None
    assert snap.version.client_version.git_version == "v1.30.1"
    assert snap.manifest.question == Question(to="kube-system/kube-dns", port=53, protocol="UDP")
    assert snap.provenance["k8s.nodes"] == "k8s/nodes.yaml"
    assert snap.provenance["k8s.pods"] == "k8s/pods.yml"
    assert snap.logs is None
    assert snap.probes is None
    assert snap.node_facts == {}
    assert notes(snap, "missing") == {
        "k8s/configmaps.json": "",
        "k8s/daemonsets.apps.json": "",
        "k8s/endpointslices.discovery.k8s.io.json": "",
        "k8s/events.json": "",
        "k8s/networkpolicies.networking.k8s.io.json": "",
    }


def _to_crlf_with_bom(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            path.write_bytes(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"))


def test_crlf_line_endings_and_a_bom_in_every_file_read_the_same(basic: Path) -> None:
    _to_crlf_with_bom(basic)
    snap = BundleSource(basic).load()
    n4 = snap.node_facts[N4]
    assert n4.sysctl is not None
    assert n4.sysctl["net.ipv4.tcp_rmem"] == "4096\t131072\t6291456"
    assert n4.iptables is not None
    assert n4.iptables.chain("filter", "FORWARD") is not None
    assert snap.manifest.question is not None
    assert snap.manifest.question.port == 22
    assert snap.node_by_name[N4].internal_ips == ["10.6.131.34"]
    assert n4.extra["calicoctl-node-status"] == (
        "Calico process is running.\n\nIPv4 BGP status\nNo IPv4 peers found.\n"
    )
    assert snap.logs is not None
    assert "\r" not in snap.logs["kube-system/calico-node-x7k2p/calico-node"]
    # The CNI config is still valid JSON: the BOM and CRLF do not make it "malformed".
    assert set(notes(snap, "malformed")) == {f"nodes/{N4}/cni/99-broken.conf"}


def test_an_unknown_extra_file_anywhere_is_named_as_ignored(basic: Path) -> None:
    for rel in ("notes/today.md", "k8s/pods.json.bak", f"nodes/{N4}/lsmod.txt", "logs/x.log"):
        (basic / rel).parent.mkdir(parents=True, exist_ok=True)
        (basic / rel).write_text("anything\n")
    snap = BundleSource(basic).load()
    ignored = notes(snap, "ignored")
    for rel in ("notes/today.md", "k8s/pods.json.bak", f"nodes/{N4}/lsmod.txt", "logs/x.log"):
        assert ignored[rel] == "not part of the bundle layout"


def test_secrets_are_never_read_even_when_unparseable(basic: Path) -> None:
    (basic / "k8s" / "secrets.yaml").write_bytes(b"\x00\x01 not yaml: [")
    snap = BundleSource(basic).load()
    ignored = notes(snap, "ignored")
    assert ignored["k8s/secrets.json"] == "Secrets are never read"
    assert ignored["k8s/secrets.yaml"] == "Secrets are never read"


def test_a_canonical_resource_file_wins_over_its_short_alias(basic: Path) -> None:
    (basic / "k8s" / "networkpolicies.networking.k8s.io.json").write_text(
        '{"apiVersion": "v1", "kind": "List", "items": []}'
    )
    snap = BundleSource(basic).load()
    assert snap.networkpolicies == ()
    assert snap.provenance["k8s.networkpolicies"] == "k8s/networkpolicies.networking.k8s.io.json"
    assert notes(snap, "ignored")["k8s/networkpolicies.json"] == (
        "duplicate of k8s/networkpolicies.networking.k8s.io.json"
    )


def test_missing_core_files_are_noted_by_their_documented_path(tmp_path: Path) -> None:
    (tmp_path / "b" / "nodes" / "n1").mkdir(parents=True)
    snap = BundleSource(tmp_path / "b").load()
    assert snap.nodes is None
    assert snap.pods is None
    missing = set(notes(snap, "missing"))
    assert {
        "bundle.yaml",
        "k8s/version.json",
        "k8s/nodes.json",
        "k8s/pods.json",
        "k8s/services.json",
        "k8s/endpointslices.discovery.k8s.io.json",
        "k8s/networkpolicies.networking.k8s.io.json",
        "k8s/daemonsets.apps.json",
        "k8s/configmaps.json",
        "k8s/events.json",
        "nodes/n1/ip-addr.json",
        "nodes/n1/sysctl.txt",
        "nodes/n1/cni/",
    } <= missing
    assert "k8s/deployments.apps.json" not in missing  # not a core file
    assert snap.node_facts["n1"].interfaces is None


def test_an_empty_cni_folder_is_collected_and_empty_not_missing(basic: Path) -> None:
    (basic / "nodes" / N5 / "cni").mkdir()
    snap = BundleSource(basic).load()
    assert snap.node_facts[N5].cni_files == {}
    assert f"nodes/{N5}/cni/" not in notes(snap, "missing")


def test_a_pod_folder_without_route_output_notes_it_missing(basic: Path) -> None:
    (basic / "pods" / "default" / "netdebug04" / "ip-route.json").unlink()
    snap = BundleSource(basic).load()
    assert snap.pod_facts["default/netdebug04"].routes is None
    assert "pods/default/netdebug04/ip-route.json" in notes(snap, "missing")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_in_a_folder_bundle_are_not_followed(basic: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pods.json").write_text('{"kind": "List", "items": [{"metadata": {"name": "x"}}]}')
    (basic / "k8s" / "pods.json").unlink()
    (basic / "k8s" / "pods.json").symlink_to(outside / "pods.json")
    (basic / "nodes" / "evil").symlink_to(outside, target_is_directory=True)
    snap = BundleSource(basic).load()
    assert snap.pods is None
    assert "evil" not in snap.node_facts
    ignored = notes(snap, "ignored")
    assert ignored["k8s/pods.json"] == "symlink not followed"
    assert ignored["nodes/evil"] == "symlink not followed"
    assert "k8s/pods.json" in notes(snap, "missing")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_a_folder_bundle_is_skipped_without_blocking(basic: Path) -> None:
    os.mkfifo(basic / "k8s" / "events.json.fifo")
    os.unlink(basic / "k8s" / "configmaps.json")
    os.mkfifo(basic / "k8s" / "configmaps.json")
    snap = BundleSource(basic).load()
    assert snap.configmaps is None
    assert notes(snap, "ignored")["k8s/configmaps.json"] == "not a regular file"


def test_a_path_that_does_not_exist_is_a_one_line_bundle_error(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as e:
        BundleSource(tmp_path / "nope.tgz").load()
    assert_one_line(str(e.value), "nope.tgz", "no such file or folder")


def test_a_file_that_is_not_an_archive_is_a_one_line_bundle_error(tmp_path: Path) -> None:
    (tmp_path / "pods.json").write_text("{}")
    with pytest.raises(BundleError) as e:
        BundleSource(tmp_path / "pods.json").load()
    assert_one_line(str(e.value), "pods.json", "not a bundle folder or a .tar.gz/.tgz/.tar")


def test_a_zip_archive_is_refused_with_what_is_read_instead(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "b.zip", "w") as z:
        z.writestr("k8s/nodes.json", "{}")
    with pytest.raises(BundleError) as e:
        BundleSource(tmp_path / "b.zip").load()
    assert_one_line(str(e.value), "b.zip", "zip archive", ".tar.gz")


def test_a_source_never_writes_inside_a_folder_bundle(basic: Path) -> None:
    before = sorted((p.relative_to(basic), p.stat().st_mtime_ns) for p in basic.rglob("*"))
    BundleSource(basic).load()
    after = sorted((p.relative_to(basic), p.stat().st_mtime_ns) for p in basic.rglob("*"))
    assert after == before


def test_input_notes_are_plain_data_naming_paths_inside_the_bundle(basic: Path) -> None:
    snap = BundleSource(basic).load()
    for note in snap.input_notes:
        assert isinstance(note, InputNote)
        assert not note.file.startswith(("/", str(basic)))
        assert note.note in {"missing", "ignored", "malformed"}
