"""The trace and the checks name a CNI address cause with one detector (issue #11 item 5).

Each case starts from a shipped example (real kubectl and ip shapes) and moves the datum the
cause turns on to another of the sources the check reads: the check must find its root cause,
and the trace's drop must name the same cause, at the same hop as in the example.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from netdoctor.checks import REGISTRY
from netdoctor.checks._support.registry import Context
from netdoctor.model.cni import CALICO_ADDRESS, FLANNEL_PUBLIC_IP, FLANNEL_PUBLIC_IP_OVERWRITE
from netdoctor.model.findings import Finding
from netdoctor.model.snapshot import Snapshot
from netdoctor.sources.bundle import BundleSource
from netdoctor.trace.path import Hop, trace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _copy(name: str, tmp_path: Path) -> Path:
    dest = tmp_path / name
    shutil.copytree(EXAMPLES / name, dest)
    return dest


def _edit_nodes(bundle: Path, edit) -> None:  # type: ignore[no-untyped-def]
    path = bundle / "k8s" / "nodes.json"
    doc = json.loads(path.read_text())
    for item in doc["items"]:
        edit(item["metadata"]["name"], item["metadata"].setdefault("annotations", {}))
    path.write_text(json.dumps(doc, indent=2))


def _findings(snap: Snapshot, check_id: str) -> list[Finding]:
    return [o for o in REGISTRY[check_id].run(Context(snapshot=snap)) if isinstance(o, Finding)]


def _drop(snap: Snapshot, source: str, target: str) -> Hop:
    path = trace(snap, source, target)
    assert path.verdict == "dropped"
    assert path.drop_at is not None
    return path.hops[path.drop_at]


def test_a_calico_address_only_the_calico_node_resource_carries_is_named_by_check_and_trace(
    tmp_path: Path,
) -> None:
    # calico-ib-autodetect: l20-gpu-05's calico-node picked its InfiniBand port. Drop the node
    # annotations and calico-node's logs: only Node.crd.projectcalico.org still says so.
    bundle = _copy("calico-ib-autodetect", tmp_path)
    _edit_nodes(bundle, lambda _name, ann: ann.pop(CALICO_ADDRESS, None))
    shutil.rmtree(bundle / "logs")
    snap = BundleSource(bundle).load()
    assert not any(CALICO_ADDRESS in n.metadata.annotations for n in snap.nodes or ())

    (finding,) = _findings(snap, "calico-node-address-mismatch")
    assert finding.subject.name == "l20-gpu-05"
    assert [e.field for e in finding.evidence][:1] == ["spec.bgp.ipv4Address"]

    hop = _drop(snap, "default/netdebug04", "default/netdebug05")
    assert (hop.node, hop.stage, hop.cause) == (
        "l20-gpu-04",
        "underlay",
        "calico-node-address-mismatch",
    )
    assert hop.node in finding.nodes
    assert hop.message.params["dst"] == finding.params["calico_ip"].split("/")[0]


def test_the_calico_address_from_the_annotation_gives_the_same_cause_at_the_same_hop() -> None:
    snap = BundleSource(EXAMPLES / "calico-ib-autodetect").load()
    (finding,) = _findings(snap, "calico-node-address-mismatch")
    hop = _drop(snap, "default/netdebug04", "default/netdebug05")
    assert (hop.node, hop.stage, hop.cause) == (
        "l20-gpu-04",
        "underlay",
        "calico-node-address-mismatch",
    )
    assert finding.subject.name == "l20-gpu-05"


def test_a_flannel_duplicate_public_ip_set_by_the_overwrite_annotation_is_named_by_both(
    tmp_path: Path,
) -> None:
    # flannel-virtualbox-nat: every VM's flanneld took the NAT address 10.0.2.15. Move it from
    # public-ip to public-ip-overwrite (which flanneld honours first): the checks read it there.
    bundle = _copy("flannel-virtualbox-nat", tmp_path)

    def move(_name: str, ann: dict[str, str]) -> None:
        ip = ann.get(FLANNEL_PUBLIC_IP)
        if ip is not None:
            ann[FLANNEL_PUBLIC_IP_OVERWRITE] = ip
            ann[FLANNEL_PUBLIC_IP] = "192.0.2.1"  # what the overwrite replaces

    _edit_nodes(bundle, move)
    snap = BundleSource(bundle).load()
    (finding,) = _findings(snap, "flannel-public-ip-duplicate")
    hop = _drop(snap, "kube-system/coredns-76f75df574-7rfwm", "default/nginx-wm9dg8jrb9-8kf92")
    assert (hop.node, hop.stage, hop.cause) == (
        "k8s-master1",
        "outer-route",
        "flannel-public-ip-duplicate",
    )
    assert hop.node in finding.nodes
    assert hop.message.params["dst"] == finding.params["address"]
