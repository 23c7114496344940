"""--probe: measured from the source pod through an ephemeral container (or a probe pod)."""

from __future__ import annotations

import json

from conftest import EXAMPLES
from test_collect import run, without_source

from netdoctor.model.snapshot import Question
from netdoctor.sources.bundle import BundleSource
from netdoctor.sources.live.probes import plan_probes

Q = ("--from", "default/netdebug04", "--to", "default/netdebug05", "--port", "22/tcp")


def replies(api, ping: str = "ping-timeout", nc: str = "nc-timeout") -> None:
    api.probe_replies.update({"ping": ping, "nc": nc, "dig": "dig-ok"})


def test_probes_run_in_an_ephemeral_container_of_the_source_pod(calico, capsys):
    api, kc = calico
    replies(api)
    code, out, _ = run(capsys, "diagnose", "--kubeconfig", str(kc), "--probe", "-o", "json", *Q)
    assert code == 1
    report = json.loads(out)
    kinds = {p["kind"]: p for p in report["probes"]}
    assert set(kinds) == {"icmp", "pmtu", "tcp"}
    assert kinds["icmp"]["result"] == "timeout"
    assert kinds["tcp"]["result"] == "timeout"
    assert "timed out" in kinds["tcp"]["detail"]
    # the ephemeral container went into the source pod; nothing was created
    patches = [c for c in api.calls if c.startswith("PATCH")]
    assert patches
    assert all("/namespaces/default/pods/netdebug04/ephemeralcontainers" in c for c in patches)
    assert not [c for c in api.calls if c.startswith("POST")]
    execs = [argv for pod, argv in api.execs if pod == "default/netdebug04"]
    assert execs[1][:9] == ("ping", "-M", "do", "-s", "1472", "-c", "3", "-W", "2")


def test_refused_ephemeral_containers_fall_back_to_a_probe_pod_on_the_node(calico, capsys):
    api, kc = calico
    replies(api, ping="ping-ok", nc="nc-refused")
    api.faults["ephemeral"] = "403"
    code, out, _ = run(capsys, "diagnose", "--kubeconfig", str(kc), "--probe", "-o", "json", *Q)
    report = json.loads(out)
    assert api.created == {}
    (deleted,) = api.deleted
    assert deleted.startswith("netdoctor-probe-l20-gpu-04-")
    tcp = next(p for p in report["probes"] if p["kind"] == "tcp")
    assert tcp["result"] == "refused"
    assert f"(from the probe pod netdoctor/{deleted})" in tcp["detail"]
    notes = " ".join(n.get("detail", "") for n in report["input"]["notes"])
    assert "no ephemeral container in default/netdebug04" in notes
    assert code in (1, 3)


def test_collect_writes_the_probes_and_offline_equals_live(calico, tmp_path, capsys):
    api, kc = calico
    replies(api)
    _, live_out, _ = run(capsys, "diagnose", "--kubeconfig", str(kc), "--probe", "-o", "json", *Q)
    out = tmp_path / "p"
    code, _, _ = run(capsys, "collect", "-o", str(out), "--kubeconfig", str(kc), "--probe", *Q)
    assert code == 0
    names = sorted(p.name for p in (out / "probes").iterdir())
    assert names == [
        "default-netdebug04--default-netdebug05-icmp.json",
        "default-netdebug04--default-netdebug05-pmtu.json",
        "default-netdebug04--default-netdebug05-tcp.json",
    ]
    rec = json.loads((out / "probes" / names[2]).read_text())
    assert rec["from"] == {"pod": "default/netdebug04"}
    assert rec["to"]["port"] == 22
    assert rec["result"] == "timeout"
    _, off_out, _ = run(capsys, "diagnose", "--bundle", str(out), "-o", "json")
    live_report, off_report = without_source(live_out), without_source(off_out)
    for report in (live_report, off_report):
        for p in report["probes"]:  # type: ignore[attr-defined]
            p.pop("at", None)
    assert live_report == off_report


def test_a_service_gets_a_dns_lookup_and_a_connect_not_a_ping():
    snap = BundleSource(EXAMPLES / "calico-ib-autodetect").load()
    svc = next(s for s in snap.services or () if s.spec.cluster_ip not in (None, "None"))
    q = Question(from_="default/netdebug04", to=f"svc/{svc.ref}", port=443, protocol="TCP")
    kinds = {p.kind: p for p in plan_probes(snap, q, 1500)}
    assert set(kinds) == {"tcp", "dns"}
    name, ns = svc.metadata.name, svc.metadata.namespace
    assert kinds["dns"].argv[-1] == f"{name}.{ns}.svc"
    assert kinds["tcp"].argv[-2:] == (svc.spec.cluster_ip, "443")


def test_probe_needs_a_question(calico, capsys):
    _api, kc = calico
    code, _, err = run(capsys, "diagnose", "--kubeconfig", str(kc), "--probe")
    assert code == 2
    assert "--probe needs --from" in err
