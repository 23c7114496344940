"""``netdoctor collect`` against the stand-in, and ``diagnose --live``: the CLI end to end."""

from __future__ import annotations

import json
import tarfile

import pytest
import yaml

from netdoctor.cli import main
from netdoctor.sources.bundle import BundleSource
from netdoctor.sources.live.redact import REDACTED, looks_secret

QUESTION = ("--from", "default/netdebug04", "--to", "default/netdebug05", "--port", "22/tcp")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def without_source(report: str) -> dict[str, object]:
    data = json.loads(report)
    data["input"].pop("kind")
    data["input"].pop("path")
    data["input"].pop("collectedAt")  # two reads, maybe a second apart
    return data


def test_collect_then_offline_diagnose_equals_live_diagnose(calico, tmp_path, capsys):
    api, kc = calico
    code_live, live_out, _ = run(
        capsys, "diagnose", "--kubeconfig", str(kc), "-o", "json", *QUESTION
    )
    out = tmp_path / "b.tar.gz"
    code, _, err = run(capsys, "collect", "-o", str(out), "--kubeconfig", str(kc), *QUESTION)
    assert code == 0, err
    assert "wrote" in err
    code_off, off_out, _ = run(capsys, "diagnose", "--bundle", str(out), "-o", "json")
    live_report, off_report = without_source(live_out), without_source(off_out)
    assert live_report == off_report
    assert code_live == code_off == 1
    assert live_report["findings"][0]["code"] == "NET-301"  # type: ignore[index]
    assert json.loads(live_out)["input"]["kind"] == "live"
    # Read-only: nothing but GETs, and never a Secret.
    assert not [p for p in api.calls if "secret" in p]


def test_collect_writes_kubectl_lists_and_the_manifest(calico, tmp_path, capsys):
    api, kc = calico
    api.faults["networkpolicies.networking.k8s.io"] = "403"
    out = tmp_path / "c.tgz"
    code, _, err = run(capsys, "collect", "-o", str(out), "--kubeconfig", str(kc))
    assert code == 0
    assert "not collected: k8s/networkpolicies.networking.k8s.io.json" in err
    with tarfile.open(out) as tf:
        names = tf.getnames()
        pods = json.loads(tf.extractfile("k8s/pods.json").read())  # type: ignore[union-attr]
        manifest = yaml.safe_load(tf.extractfile("bundle.yaml").read())  # type: ignore[union-attr]
        version = json.loads(tf.extractfile("k8s/version.json").read())  # type: ignore[union-attr]
    assert "k8s/networkpolicies.networking.k8s.io.json" not in names
    assert not [n for n in names if n.startswith("/") or ".." in n]
    assert pods["kind"] == "List"
    assert {(p["apiVersion"], p["kind"]) for p in pods["items"]} == {("v1", "Pod")}
    assert manifest["formatVersion"] == 1
    assert manifest["redacted"] is True
    assert manifest["cluster"] == "standin"
    assert manifest["notCollected"] == [
        {
            "file": "k8s/networkpolicies.networking.k8s.io.json",
            "reason": "forbidden",
            "permission": "list networkpolicies.networking.k8s.io",
        }
    ]
    assert version["serverVersion"]["gitVersion"] == "v1.28.6"


def test_collect_redacts_secret_looking_values_and_records_them(calico, tmp_path, capsys):
    api, kc = calico
    pod = {
        "metadata": {
            "name": "app-1",
            "namespace": "default",
            "annotations": {
                "example.com/db-password": "hunter2",
                "kubectl.kubernetes.io/last-applied-configuration": '{"env":"hunter3"}',
                "example.com/owner": "team-a",
            },
        },
        "spec": {
            "nodeName": "l20-gpu-04",
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "env": [
                        {"name": "API_TOKEN", "value": "tok-abc"},
                        {"name": "dbPassword", "value": "pw-abc"},
                        {"name": "MONKEY_BUSINESS", "value": "bananas"},
                        {
                            "name": "SECRET_REF",
                            "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                        },
                    ],
                }
            ],
        },
        "status": {"phase": "Running", "podIP": "10.244.9.9"},
    }
    api.objects["pods"].append(("default", json.dumps(pod).encode()))
    cm = {
        "metadata": {"name": "cfg", "namespace": "kube-system"},
        "data": {"join-token": "jt", "mtu": "1450"},
    }
    api.objects["configmaps"].append(("kube-system", json.dumps(cm).encode()))
    out = tmp_path / "r"
    code, _, _ = run(capsys, "collect", "-o", str(out), "--kubeconfig", str(kc))
    assert code == 0
    everything = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for secret in (b"hunter2", b"hunter3", b"tok-abc", b"pw-abc", b'jt"'):
        assert secret not in everything
    assert b"bananas" in everything
    assert b"team-a" in everything
    assert b'"1450"' in everything
    pods = json.loads((out / "k8s/pods.json").read_text())["items"]
    app = next(p for p in pods if p["metadata"]["name"] == "app-1")
    env = {e["name"]: e for e in app["spec"]["containers"][0]["env"]}
    assert env["API_TOKEN"]["value"] == REDACTED
    assert env["SECRET_REF"] == {
        "name": "SECRET_REF",
        "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
    }
    manifest = yaml.safe_load((out / "bundle.yaml").read_text())
    assert (
        "k8s/pods.json: Pod/default/app-1 spec.containers[app].env[API_TOKEN]"
        in manifest["redactions"]
    )
    assert (
        "k8s/configmaps.json: ConfigMap/kube-system/cfg data[join-token]" in manifest["redactions"]
    )
    assert len(manifest["redactions"]) == 5
    # The redacted bundle still reads, and the redacted pod is there.
    assert "default/app-1" in BundleSource(out).load().pod_by_ref


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("API_KEY", True),
        ("dbPassword", True),
        ("x-auth-token", True),
        ("SECRET_KEY_BASE", True),
        ("AWS_SECRET_ACCESS_KEYS", True),
        ("example.com/db-password", True),
        ("MONKEY", False),
        ("KEYSTONE_URL", False),
        ("TOKENIZER_MODEL", False),
        ("IP_AUTODETECTION_METHOD", False),
        ("FELIX_IPINIPMTU", False),
    ],
)
def test_secret_looking_names(name, secret):
    assert looks_secret(name) is secret


def test_collect_never_overwrites(calico, tmp_path, capsys):
    _api, kc = calico
    out = tmp_path / "exists.tar.gz"
    out.write_bytes(b"keep")
    code, _, err = run(capsys, "collect", "-o", str(out), "--kubeconfig", str(kc))
    assert code == 2
    assert "already exists" in err
    assert out.read_bytes() == b"keep"


def test_diagnose_live_errors_are_one_line(tmp_path, capsys):
    code, _, err = run(capsys, "diagnose", "--bundle", "x", "--live")
    assert code == 2
    assert err.strip() == "netdoctor: error: give either --bundle or --live, not both"
    code, _, err = run(capsys, "diagnose", "--kubeconfig", str(tmp_path / "none"))
    assert code == 2
    assert err.count("\n") == 1
    assert "no kubeconfig" in err
    code, _, err = run(capsys, "diagnose", "--kubeconfig", str(tmp_path / "none"), "--lang", "zh")
    assert "找不到 kubeconfig" in err


def test_diagnose_live_says_which_permission_is_missing(calico, capsys):
    api, kc = calico
    api.faults["pods"] = "403"
    code, out, _ = run(
        capsys, "diagnose", "--live", "--kubeconfig", str(kc), "--no-color", "--width", "200"
    )
    assert "this account may not list pods" in out
    assert code == 1  # nodes alone still prove NET-301
