"""Node facts over exec (websocket v4.channel.k8s.io) and the debug pods' lifecycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_collect import run, without_source

from netdoctor.sources.live import LiveSource, connect, snapshot_of
from netdoctor.sources.live.nodes import NODE_COMMANDS, NodeCollector

ROOT = Path(__file__).resolve().parents[3]


def without_agents(api) -> None:
    """No CNI agent pods: the collector has to bring its own debug pods."""
    api.objects["pods"] = [
        (ns, raw) for ns, raw in api.objects["pods"] if b"calico-node" not in raw
    ]


def test_all_nodes_runs_the_bundle_commands_in_the_cni_agent_pods(calico, capsys):
    api, kc = calico
    code, out, err = run(capsys, "diagnose", "--kubeconfig", str(kc), "--all-nodes", "-o", "json")
    report = json.loads(out)
    assert code == 1
    assert report["findings"][0]["code"] == "NET-301"
    # exec went to calico-node on each node, one exec per command; no pod was created
    pods = {pod for pod, _ in api.execs}
    assert len(pods) == 3
    assert all(p.startswith("kube-system/calico-node-") for p in pods)
    assert len(api.execs) == 3 * len(NODE_COMMANDS)
    assert not [c for c in api.calls if c.startswith("POST")]
    assert err.count("node facts") == 3
    # the node facts confirm it: peers route to the wrong address (no "cannot confirm" hedge)
    assert "no node facts" not in report["findings"][0]["title"]


def test_node_facts_land_in_the_snapshot_like_a_bundle(calico):
    _api, kc = calico
    client, _, label = connect(str(kc))
    read = LiveSource(client, label=label).fetch()
    results = NodeCollector(client).collect(snapshot_of(read, release=False), ["l20-gpu-05"])
    client.close()
    r = results["l20-gpu-05"]
    bundle = ROOT / "examples" / "calico-ib-autodetect" / "nodes" / "l20-gpu-05"
    assert r.files["ip-addr.json"] == (bundle / "ip-addr.json").read_bytes()
    assert r.files["sysctl.txt"] == (bundle / "sysctl.txt").read_bytes()
    # a command whose file the node lacks failed: a note, not a guess
    assert [n.file for n in r.notes] == ["nodes/l20-gpu-05/bridge-fdb.json"]
    assert r.notes[0].reason == "node_command_failed"
    read.node_files["l20-gpu-05"] = r.files
    snap = snapshot_of(read)
    facts = snap.node_facts["l20-gpu-05"]
    assert facts.interfaces is not None
    assert facts.sysctl is not None
    assert snap.provenance["node:l20-gpu-05:sysctl"] == "nodes/l20-gpu-05/sysctl.txt"


def test_without_an_agent_pod_a_pinned_debug_pod_is_made_and_deleted(calico, capsys):
    api, kc = calico
    without_agents(api)
    code, _, _ = run(
        capsys,
        "diagnose",
        "--kubeconfig",
        str(kc),
        "--node-facts",
        "--from",
        "default/netdebug04",
        "--to",
        "default/netdebug05",
        "--debug-image",
        "mirror.local/netshoot:v0.13",
        "-o",
        "json",
    )
    assert code == 1
    assert api.created == {}
    assert len(api.deleted) == 2  # the question's two nodes, no more
    posts = [c for c in api.calls if c.startswith("POST /api/v1/namespaces/netdoctor/pods")]
    assert posts
    execs = {pod for pod, _ in api.execs}
    assert {p.split("/")[0] for p in execs} == {"netdoctor"}


def test_debug_pod_spec(calico):
    api, kc = calico
    without_agents(api)
    client, _, label = connect(str(kc))
    read = LiveSource(client, label=label).fetch()
    seen: list[dict] = []
    collector = NodeCollector(client, image="mirror.local/netshoot:v0.13", timeout=5)
    real_call = collector._call

    def spy(method, path, body=None, query=None):
        if method == "POST":
            seen.append(body)
        return real_call(method, path, body, query)

    collector._call = spy  # type: ignore[method-assign]
    collector.collect(snapshot_of(read, release=False), ["l20-gpu-04"])
    client.close()
    (pod,) = seen
    spec = pod["spec"]
    assert pod["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "netdoctor"}
    assert spec["nodeName"] == "l20-gpu-04"
    assert spec["hostNetwork"] is True
    assert spec["activeDeadlineSeconds"] >= 300
    assert spec["containers"][0]["image"] == "mirror.local/netshoot:v0.13"
    assert spec["containers"][0]["securityContext"] == {"privileged": True}
    assert api.created == {}


def test_failing_commands_become_notes_and_pods_are_still_deleted(calico, capsys):
    api, kc = calico
    without_agents(api)
    api.faults["exec"] = "fail"
    code, out, _ = run(capsys, "diagnose", "--kubeconfig", str(kc), "--all-nodes", "-o", "json")
    assert code in (1, 3)
    assert api.created == {}
    assert len(api.deleted) == 3
    notes = json.loads(out)["input"]["notes"]
    assert any("ip-addr.json" in n["file"] for n in notes)


def test_leftovers_of_an_earlier_run_are_deleted_at_start(calico):
    api, kc = calico
    old = {
        "metadata": {
            "name": "netdoctor-old-abc123",
            "namespace": "netdoctor",
            "labels": {"app.kubernetes.io/managed-by": "netdoctor"},
        },
        "spec": {"nodeName": "l20-gpu-04"},
    }
    other = {"metadata": {"name": "keep-me", "namespace": "netdoctor", "labels": {}}, "spec": {}}
    api.created[("netdoctor", "netdoctor-old-abc123")] = old
    api.created[("netdoctor", "keep-me")] = other
    client, _, label = connect(str(kc))
    read = LiveSource(client, label=label).fetch()
    NodeCollector(client).collect(snapshot_of(read, release=False), ["l20-gpu-04"])
    client.close()
    assert "netdoctor-old-abc123" in api.deleted
    assert list(api.created) == [("netdoctor", "keep-me")]


def test_collect_with_node_facts_then_offline_equals_live(calico, tmp_path, capsys):
    _api, kc = calico
    q = ("--from", "default/netdebug04", "--to", "default/netdebug05", "--port", "22/tcp")
    _, live_out, _ = run(
        capsys, "diagnose", "--kubeconfig", str(kc), "--all-nodes", "-o", "json", *q
    )
    out = tmp_path / "n.tar.gz"
    code, _, _ = run(capsys, "collect", "-o", str(out), "--kubeconfig", str(kc), "--all-nodes", *q)
    assert code == 0
    _, off_out, _ = run(capsys, "diagnose", "--bundle", str(out), "-o", "json")
    live_report, off_report = without_source(live_out), without_source(off_out)
    # Live knows why a node file is missing (the command failed); offline only that it is.
    live_notes = live_report.pop("input")["notes"]  # type: ignore[attr-defined]
    off_notes = off_report.pop("input")["notes"]  # type: ignore[attr-defined]
    assert live_report == off_report
    assert any("the command failed" in n.get("detail", "") for n in live_notes)
    assert {
        "file": "nodes/*/bridge-fdb.json",
        "note": "missing",
        "detail": "all 3 nodes",
    } in off_notes
    assert [n for n in live_notes if "bridge-fdb" not in n["file"]] == [
        n for n in off_notes if "bridge-fdb" not in n["file"]
    ]
    assert json.loads(live_out)["path"]["verdict"] == json.loads(off_out)["path"]["verdict"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_leaves_no_debug_pod(calico, sig):
    api, kc = calico
    without_agents(api)
    api.faults["exec"] = "hang"
    env = {**os.environ, "NETDOCTOR_DEBUG": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "netdoctor.cli", "diagnose", "--kubeconfig", str(kc), "--all-nodes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end and len(api.execs) < 3:
            time.sleep(0.05)
        assert len(api.created) == 3, "debug pods were not created"
        proc.send_signal(sig)
        t = time.monotonic()
        _, err = proc.communicate(timeout=20)
        assert time.monotonic() - t < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert api.created == {}
    assert len(api.deleted) == 3


@pytest.mark.parametrize("where", ["question", "all"])
def test_node_facts_need_something_to_collect(calico, capsys, where):
    _api, kc = calico
    flag = "--node-facts" if where == "question" else "--all-nodes"
    code, _, err = run(capsys, "diagnose", "--kubeconfig", str(kc), flag, "-o", "json")
    if where == "question":
        assert code == 2
        assert "--node-facts" in err
    else:
        assert code == 1
