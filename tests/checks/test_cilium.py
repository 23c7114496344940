"""Cilium: cilium-config as the agent reads it, kube-proxy replacement, NET-602 on real devices."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import msgspec
import pytest
from builders import daemonset, node, pod, snapshot

from netdoctor.checks import REGISTRY
from netdoctor.checks._support.detect import detect_cni
from netdoctor.checks._support.registry import Context
from netdoctor.checks.cilium import overlay_port
from netdoctor.model.findings import Finding
from netdoctor.model.k8s import ConfigMap
from netdoctor.model.snapshot import Snapshot
from netdoctor.sources.bundle import BundleSource

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "healthy-cilium"
DIGEST = "sha256:6aa840986a3a9722cd967ef63248d675a87add7e1704740902d5d3162f0c0def"
IMAGE = "quay.io/cilium/cilium:{tag}@" + DIGEST


def cilium_snapshot(data: dict[str, str] | None, tag: str = "v1.15.6") -> Snapshot:
    snap = snapshot(
        nodes=[node("a", "10.0.0.1")],
        daemonsets=[
            daemonset(
                "kube-system",
                "cilium",
                {"name": "cilium-agent", "image": IMAGE.format(tag=tag)},
                labels={"k8s-app": "cilium"},
            )
        ],
        pods=[
            pod(
                "kube-system",
                "cilium-abcde",
                "a",
                "10.0.0.1",
                host_network=True,
                owner=("DaemonSet", "cilium", "uid-ds-cilium"),
                containers=[{"name": "cilium-agent", "image": IMAGE.format(tag=tag)}],
            )
        ],
    )
    cms = []
    if data is not None:
        cms.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cilium-config", "namespace": "kube-system"},
                "data": data,
            }
        )
    return dataclasses.replace(snap, configmaps=tuple(msgspec.convert(cms, list[ConfigMap])))


@pytest.mark.parametrize(
    ("data", "tag", "want"),
    [
        ({"kube-proxy-replacement": "true"}, "v1.15.6", True),
        ({"kube-proxy-replacement": "strict"}, "v1.12.10", True),
        ({"kube-proxy-replacement": "false"}, "v1.15.6", False),
        ({"kube-proxy-replacement": "partial"}, "v1.12.10", False),
        ({"kube-proxy-replacement": "disabled"}, "v1.12.10", False),
        ({"kube-proxy-replacement": "probe"}, "v1.12.10", None),
        ({}, "v1.15.6", False),
        ({}, "v1.13.4", None),
        (None, "v1.15.6", None),
    ],
)
def test_kube_proxy_replacement_follows_the_release_s_meaning(
    data: dict[str, str] | None, tag: str, want: bool | None
) -> None:
    assert detect_cni(cilium_snapshot(data, tag)).kube_proxy_replaced is want


def test_a_cluster_without_cilium_has_kube_proxy_not_replaced() -> None:
    snap = snapshot(nodes=[node("a", "10.0.0.1")], pods=[])
    assert detect_cni(snap).kube_proxy_replaced is False


def test_the_agent_version_ignores_the_image_digest() -> None:
    agent = detect_cni(cilium_snapshot({})).agent("cilium")
    assert agent is not None
    assert agent.version == "v1.15.6"


@pytest.mark.parametrize(
    ("data", "mode", "proto", "port"),
    [
        ({"routing-mode": "tunnel", "tunnel-protocol": "geneve"}, "tunnel", "geneve", 6081),
        ({"routing-mode": "tunnel", "tunnel-port": "8473"}, "tunnel", "vxlan", 8473),
        ({"routing-mode": "native"}, "native", None, None),
        ({"tunnel": "geneve"}, "tunnel", "geneve", 6081),
        ({"tunnel": "disabled"}, "native", None, None),
        ({}, "tunnel", "vxlan", 8472),
    ],
)
def test_cilium_config_reads_new_and_legacy_tunnel_keys(
    data: dict[str, str], mode: str, proto: str | None, port: int | None
) -> None:
    cfg = detect_cni(cilium_snapshot(data)).cilium
    assert cfg is not None
    assert (cfg.routing_mode, cfg.tunnel_protocol, cfg.tunnel_port) == (mode, proto, port)
    assert overlay_port(cfg) == (("udp", port) if port else None)


def test_native_routing_makes_the_tunnel_check_not_apply(tmp_path: Path) -> None:
    dest = tmp_path / "b"
    shutil.copytree(EXAMPLE, dest)
    cm_file = dest / "k8s/configmaps.json"
    cms = json.loads(cm_file.read_text())
    cms["items"][0]["data"]["routing-mode"] = "native"
    cm_file.write_text(json.dumps(cms))
    out = list(REGISTRY["cilium-tunnel-mismatch"].run(Context(snapshot=BundleSource(dest).load())))
    assert [type(o).__name__ for o in out] == ["NotApplicable"]


def test_a_node_whose_agent_is_not_ready_is_left_to_the_agent_check(tmp_path: Path) -> None:
    dest = tmp_path / "b"
    shutil.copytree(EXAMPLE, dest)
    cm_file = dest / "k8s/configmaps.json"
    cms = json.loads(cm_file.read_text())
    cms["items"][0]["data"]["tunnel-port"] = "8473"  # every node's device still says 8472
    cm_file.write_text(json.dumps(cms))
    pods_file = dest / "k8s/pods.json"
    pods = json.loads(pods_file.read_text())
    for p in pods["items"]:
        if p["metadata"]["name"] == "cilium-w8n3c":
            p["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    pods_file.write_text(json.dumps(pods))
    out = list(REGISTRY["cilium-tunnel-mismatch"].run(Context(snapshot=BundleSource(dest).load())))
    assert sorted(f.subject.name for f in out if isinstance(f, Finding)) == [
        "l20-gpu-04",
        "l20-master-01",
    ]
