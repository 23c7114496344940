"""``netdoctor reach``: the JSON contract, the table, and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from netdoctor.cli import main

LAB = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "lab-calico-routed-policy-drop"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_json_has_one_entry_per_pod_pair_and_port_with_the_denying_policy(capsys) -> None:
    code, out, _ = run(
        capsys, "reach", "--bundle", str(LAB), "-n", "default",
        "--port", "8080/tcp", "--port", "53/udp", "-o", "json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["schemaVersion"] == 1
    entries = doc["entries"]
    assert len(entries) == 4 * 3 * 2  # 4 pods, ordered pairs without self, 2 ports
    assert set(entries[0]) == {
        "from", "to", "port", "protocol", "allowed", "allowedBy", "deniedBy",
    }  # fmt: skip
    denied = [e for e in entries if not e["allowed"]]
    assert {(e["from"], e["to"], e["port"], e["protocol"]) for e in denied} == {
        ("default/pod-n1-1", "default/pod-n2-1", 8080, "TCP"),
        ("default/pod-n1-1", "default/pod-n2-1", 53, "UDP"),
    }
    assert denied[0]["deniedBy"] == ["default/deny-pod-n1-1-to-pod-n2-1 ingress"]
    allowed_in = next(
        e for e in entries if e["from"] == "default/pod-n2-2" and e["to"] == "default/pod-n2-1"
    )
    assert allowed_in["allowedBy"] == ["default/deny-pod-n1-1-to-pod-n2-1 ingress[0]"]


def test_a_selector_narrows_the_pods(capsys) -> None:
    code, out, _ = run(
        capsys, "reach", "--bundle", str(LAB), "-l", "lab.netdoctor.io/pod in (pod-n1-1,pod-n2-1)",
        "-o", "json",
    )  # fmt: skip
    assert code == 0
    pairs = {(e["from"], e["to"]) for e in json.loads(out)["entries"]}
    assert pairs == {
        ("default/pod-n1-1", "default/pod-n2-1"),
        ("default/pod-n2-1", "default/pod-n1-1"),
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_table_says_denied_with_the_policy(capsys, lang: str) -> None:
    code, out, _ = run(
        capsys, "reach", "--bundle", str(LAB), "-n", "default", "--port", "8080",
        "--lang", lang, "--width", "160",
    )  # fmt: skip
    assert code == 0
    row = next(
        line
        for line in out.splitlines()
        if "default/deny-pod-n1-1-to-pod-n2-1 ingress " in line + " "
    )
    assert ("denied" if lang == "en" else "拒绝") in row
    assert row.split()[:2] == ["default/pod-n1-1", "default/pod-n2-1"]


def test_a_namespace_selector_without_namespaces_is_inconclusive_naming_the_file(
    capsys, tmp_path: Path
) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(LAB, bundle)
    f = bundle / "k8s" / "networkpolicies.networking.k8s.io.json"
    doc = json.loads(f.read_text())
    doc["items"][0]["spec"]["ingress"][0]["from"][0]["namespaceSelector"] = {
        "matchLabels": {"team": "a"}
    }
    f.write_text(json.dumps(doc))
    code, out, err = run(capsys, "reach", "--bundle", str(bundle), "-o", "json")
    assert code == 3
    assert out == ""
    assert err.count("\n") == 1
    assert "k8s/namespaces.json" in err
    assert "default/deny-pod-n1-1-to-pod-n2-1" in err


def test_a_bad_selector_is_one_line_and_exit_2(capsys) -> None:
    code, _, err = run(capsys, "reach", "--bundle", str(LAB), "-l", "a=b,,c")
    assert code == 2
    assert err.startswith("netdoctor: error: --selector")
    assert err.count("\n") == 1


def test_a_big_table_keeps_the_denied_pairs_and_counts_the_rest() -> None:
    from netdoctor.policy import reach
    from netdoctor.report.reach import render_reach_text
    from netdoctor.sources.bundle import BundleSource

    r = reach(BundleSource(LAB).load(), namespaces=["default"], ports=[(8080, "TCP")])
    text = render_reach_text(r, "en", width=160, max_rows=5)
    rows = [line for line in text.splitlines() if line.startswith("default/")]
    assert len(rows) == 1
    assert "denied" in rows[0]
    assert "11 allowed class pairs not shown" in text


def test_without_the_policies_file_reach_is_inconclusive_naming_it(capsys, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(LAB, bundle)
    (bundle / "k8s" / "networkpolicies.networking.k8s.io.json").unlink()
    code, out, err = run(capsys, "reach", "--bundle", str(bundle), "--lang", "en")
    assert code == 3
    assert out == ""
    assert err == (
        "netdoctor: error: reach needs k8s/networkpolicies.networking.k8s.io.json: collect it\n"
    )
