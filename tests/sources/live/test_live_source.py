"""The live source against the stand-in API server, with the real kubernetes client."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES
from standin import StandIn

from netdoctor.engine import diagnose
from netdoctor.errors import InputError, UsageError
from netdoctor.model.findings import CheckStatus
from netdoctor.sources.bundle import BundleSource
from netdoctor.sources.live import LiveSource, connect
from netdoctor.sources.live.source import LIVE_RESOURCES


def live(kubeconfig: Path, **kw: float) -> LiveSource:
    client, _, label = connect(str(kubeconfig))
    return LiveSource(client, label=label, **kw)  # type: ignore[arg-type]


def note_for(snap: object, file: str) -> object:
    notes = [n for n in snap.input_notes if n.file == file]  # type: ignore[attr-defined]
    assert len(notes) == 1, notes
    return notes[0]


def test_live_snapshot_equals_the_bundle_it_serves_across_many_pages(calico):
    api, kc = calico
    snap = live(kc, page_size=2).load()
    offline = BundleSource(EXAMPLES / "calico-ib-autodetect").load()
    for attr in ("nodes", "pods", "services", "daemonsets", "events", "calico_nodes", "ippools"):
        assert getattr(snap, attr) == getattr(offline, attr), attr
    assert snap.version is not None
    assert offline.version is not None
    assert snap.version.server_version == offline.version.server_version
    assert snap.provenance["k8s.pods"] == "k8s/pods.json"
    assert snap.source_kind == "live"
    assert snap.manifest.cluster == "standin"
    assert snap.source_path == api.url
    # limit=2: one call per page, so calls grow with pages.
    n_pods = len(offline.pods or ())
    assert n_pods > 2
    assert api.calls["/api/v1/pods"] == math.ceil(n_pods / 2)
    assert all(h == "Bearer t0ken" for h in api.auth)


def test_a_403_on_one_kind_leaves_it_absent_and_its_checks_skipped_naming_the_permission(calico):
    api, kc = calico
    api.faults["pods"] = "403"
    snap = live(kc).load()
    assert snap.pods is None
    assert snap.nodes is not None
    note = note_for(snap, "k8s/pods.json")
    assert note.reason == "forbidden"  # type: ignore[attr-defined]
    assert note.params["permission"] == "list pods"  # type: ignore[attr-defined]
    result = diagnose(snap, None)
    agent = next(o for o in result.outcomes if o.check_id == "cni-agent-unhealthy")
    assert agent.status is CheckStatus.SKIPPED
    assert agent.reason is not None
    assert agent.reason.key == "skip.forbidden"
    assert agent.reason.params["permission"] == "list pods"
    # The checks that read only nodes still run and still find the root cause.
    assert "calico-node-address-mismatch" in [f.finding.id for f in result.findings]


def test_a_403_on_networkpolicies_names_the_group(calico):
    api, kc = calico
    api.faults["networkpolicies.networking.k8s.io"] = "403"
    snap = live(kc).load()
    note = note_for(snap, "k8s/networkpolicies.networking.k8s.io.json")
    assert note.params["permission"] == "list networkpolicies.networking.k8s.io"  # type: ignore[attr-defined]


def test_a_crd_that_is_not_installed_is_simply_absent(calico):
    _api, kc = calico
    snap = live(kc).load()
    assert "k8s.cilium_nodes" not in snap.custom
    assert not [n for n in snap.input_notes if "cilium" in n.file]


def test_a_stale_continue_restarts_the_kind_once_without_duplicates(calico):
    api, kc = calico
    api.faults["pods"] = "410-once"
    snap = live(kc, page_size=2).load()
    offline = BundleSource(EXAMPLES / "calico-ib-autodetect").load()
    assert snap.pods == offline.pods
    assert not [n for n in snap.input_notes if n.file == "k8s/pods.json"]


def test_a_continue_that_keeps_expiring_ends_in_a_note(calico):
    api, kc = calico
    api.faults["pods"] = "410"
    snap = live(kc, page_size=2).load()
    assert snap.pods is None
    assert note_for(snap, "k8s/pods.json").reason == "gone"  # type: ignore[attr-defined]


def test_a_500_is_retried_and_a_persistent_500_is_a_note(calico):
    api, kc = calico
    api.faults["nodes"] = "500-once"
    assert live(kc).load().nodes is not None
    api.faults["nodes"] = "500"
    snap = live(kc).load()
    assert snap.nodes is None
    note = note_for(snap, "k8s/nodes.json")
    assert note.reason == "api_error"  # type: ignore[attr-defined]
    assert "etcdserver: request timed out" in note.params["detail"]  # type: ignore[attr-defined]


def test_a_hung_kind_ends_in_bounded_time_with_what_was_read(calico):
    api, kc = calico
    api.faults["pods"] = "hang"
    t = time.monotonic()
    snap = live(kc, timeout=1.0).load()
    assert time.monotonic() - t < 6
    assert snap.pods is None
    assert snap.nodes is not None
    assert note_for(snap, "k8s/pods.json").reason == "api_timeout"  # type: ignore[attr-defined]


def test_a_slow_server_stops_at_the_deadline(calico):
    api, kc = calico
    for res in LIVE_RESOURCES:
        api.faults[res.name] = "slow:0.4"
    t = time.monotonic()
    snap = live(kc, page_size=1, timeout=5.0, deadline=1.5).load()
    assert time.monotonic() - t < 4
    # pods need ~20 pages at 0.4 s: cut off, and said so.
    assert snap.pods is None
    assert note_for(snap, "k8s/pods.json").params["detail"] == "deadline reached"  # type: ignore[attr-defined]


def test_an_unreachable_server_is_one_input_error(tmp_path):
    api = StandIn({})
    url = api.url
    api.httpd.server_close()  # never started: the port is closed
    kc = api.kubeconfig(tmp_path / "kc")
    assert url in kc.read_text()
    with pytest.raises(InputError, match="cannot reach the API server"):
        live(kc, timeout=2.0).load()


def test_exec_credential_plugins_are_used(tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json\n"
        'print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", '
        '"kind": "ExecCredential", "status": {"token": "from-exec"}}))\n'
    )
    with StandIn.from_bundle(EXAMPLES / "healthy-calico") as api:
        user = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": sys.executable,
                "args": [str(plugin)],
                "interactiveMode": "Never",
            }
        }
        kc = api.kubeconfig(tmp_path / "kc", user=user)
        assert live(kc).load().nodes is not None
        assert api.auth
        assert all(h == "Bearer from-exec" for h in api.auth)


def test_no_kubeconfig_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(UsageError) as e:
        connect(str(tmp_path / "nope"))
    assert "no kubeconfig" in str(e.value)


def test_a_broken_kubeconfig_is_one_line(tmp_path):
    bad = tmp_path / "kc"
    bad.write_text("clusters: [yaml\n")
    with pytest.raises(InputError) as e:
        connect(str(bad))
    assert str(e.value).startswith(f"{bad}: not a valid kubeconfig (")
    assert "\n" not in str(e.value)
