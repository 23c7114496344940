"""Each example plan (examples/plans/) describes the bundle that is shipped next to it.

No root needed: the plan is loaded and turned into the cluster's objects, logs, probes and node
networks in memory (nothing is built), then compared with examples/<name>/. A plan edited
without regenerating its bundle (or the other way round) fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from netdoctor.lab.errors import LabUsageError
from netdoctor.lab.examples import build_cluster
from netdoctor.lab.examples.bundle import write_bundle
from netdoctor.lab.examples.plan import ExamplePlan, load_plan, plan_paths
from netdoctor.lab.objects.cluster import Cluster
from netdoctor.model.cni import CALICO_ADDRESS, FLANNEL_PUBLIC_IP

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLANS = plan_paths(EXAMPLES / "plans")
NAMES = [p.stem for p in PLANS]


def _items(bundle: Path, resource: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((bundle / "k8s" / f"{resource}.json").read_text())[
        "items"
    ]
    return items


@pytest.fixture(scope="module", params=NAMES)
def example(request: pytest.FixtureRequest) -> tuple[ExamplePlan, Cluster, Path]:
    plan = load_plan(EXAMPLES / "plans" / f"{request.param}.yaml")
    return plan, build_cluster(plan), EXAMPLES / plan.name


def test_there_is_a_plan_for_each_generated_example() -> None:
    assert NAMES == ["calico-ib-autodetect", "flannel-virtualbox-nat", "healthy-calico"]
    for name in NAMES:
        assert (EXAMPLES / "plans" / f"{name}.bundle.yaml").is_file()
        assert (EXAMPLES / name / "bundle.yaml").is_file()


def test_plan_nodes_are_the_bundle_nodes(example: tuple[ExamplePlan, Cluster, Path]) -> None:
    plan, _, bundle = example
    shipped = {
        n["metadata"]["name"]: next(
            a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"
        )
        for n in _items(bundle, "nodes")
    }
    assert {n.name: n.ip for n in plan.nodes} == shipped
    assert sorted(p.name for p in (bundle / "nodes").iterdir()) == sorted(shipped)
    for node in plan.nodes:
        addr = json.loads((bundle / "nodes" / node.name / "ip-addr.json").read_text())
        have = {e["ifname"]: e for e in addr}
        for link in node.links:
            assert link.name in have, (node.name, link.name)
            assert have[link.name]["mtu"] == link.mtu
            inet = {f"{a['local']}/{a['prefixlen']}" for a in have[link.name]["addr_info"]}
            assert set(link.addrs) <= inet, (node.name, link.name)
            if link.mac:
                assert have[link.name]["address"] == link.mac


def test_plan_cni_address_is_the_annotated_one(example: tuple[ExamplePlan, Cluster, Path]) -> None:
    plan, _, bundle = example
    for n in _items(bundle, "nodes"):
        spec = plan.node(n["metadata"]["name"])
        ann = n["metadata"]["annotations"]
        if plan.cni == "calico":
            assert ann[CALICO_ADDRESS] == f"{spec.cni_ip}/24"
        else:
            assert ann[FLANNEL_PUBLIC_IP] == spec.cni_ip


def test_plan_pods_are_the_bundle_pods(example: tuple[ExamplePlan, Cluster, Path]) -> None:
    plan, _, bundle = example
    pods = [p for p in _items(bundle, "pods") if not p["spec"].get("hostNetwork")]
    shipped = {(p["spec"]["nodeName"], p["status"]["podIP"]) for p in pods}
    assert {(p.node, p.ip) for p in plan.pods.values()} == shipped
    captured = sorted(f"{d.parent.name}/{d.name}" for d in (bundle / "pods").glob("*/*"))
    by_ip = {p["status"]["podIP"]: p["metadata"] for p in pods}
    want = sorted(
        f"{by_ip[p.ip]['namespace']}/{by_ip[p.ip]['name']}" for p in plan.pods.values() if p.capture
    )
    assert captured == want


def test_bundle_file_is_the_shipped_bundle_yaml(example: tuple[ExamplePlan, Cluster, Path]) -> None:
    plan, _, bundle = example
    shipped = yaml.safe_load((bundle / "bundle.yaml").read_text())
    assert shipped["question"] == plan.question
    assert shipped["collectedAt"] == plan.collected
    assert shipped["cluster"] == plan.title
    probes = {p.stem: json.loads(p.read_text()) for p in (bundle / "probes").glob("*.json")}
    assert probes == plan.probes


def test_plan_regenerates_the_shipped_objects_logs_and_probes(
    example: tuple[ExamplePlan, Cluster, Path], tmp_path: Path
) -> None:
    """Everything but the captured node facts, byte for byte (those need root and namespaces)."""
    _, cluster, bundle = example
    write_bundle(cluster, tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (bundle / rel).read_bytes(), rel
    shipped = {
        p.relative_to(bundle)
        for top in ("k8s", "logs", "probes")
        for p in (bundle / top).rglob("*")
        if p.is_file()
    }
    assert shipped | {Path("bundle.yaml")} == set(written)
    for net in cluster.nets:
        for name, text in net.cni.items():
            assert (bundle / "nodes" / net.name / "cni" / name).read_text() == text


def test_a_plan_with_an_unknown_node_key_or_a_wrong_name_is_refused(tmp_path: Path) -> None:
    src = EXAMPLES / "plans" / "healthy-calico.yaml"
    bundle = src.with_name("healthy-calico.bundle.yaml").read_text()
    typo = tmp_path / "healthy-calico.yaml"
    typo.write_text(
        src.read_text().replace("    podCIDR: 10.30.1.0/24", "    podCidr: 10.30.1.0/24")
    )
    (tmp_path / "healthy-calico.bundle.yaml").write_text(bundle)
    with pytest.raises(LabUsageError, match="podCidr"):
        load_plan(typo)
    renamed = tmp_path / "other.yaml"
    renamed.write_text(src.read_text())
    (tmp_path / "other.bundle.yaml").write_text(bundle)
    with pytest.raises(LabUsageError, match="not the file's name"):
        load_plan(renamed)
