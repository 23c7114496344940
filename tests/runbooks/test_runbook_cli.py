"""``netdoctor runbooks list|show|match|lint`` and ``diagnose --symptom``, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netdoctor.cli import main

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
BAD = ROOT / "tests" / "fixtures" / "runbooks_bad"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("跨节点 Pod ping 不通，同节点正常", "cross-node-pod-traffic"),
        ("nginx 无法解析 backend-svc 域名", "dns-resolution"),
        ("curl svc timeout but pod IP works", "pod-to-service"),
    ],
)
def test_match_json_is_the_contract_best_first(capsys, text, expected):
    code, out, _ = run(capsys, "runbooks", "match", text, "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["abstained"] is False
    first = doc["matches"][0]
    assert first["id"] == expected
    assert set(first) >= {"id", "category", "score", "confidence", "matchedTerms"}
    assert first["matchedTerms"]
    scores = [m["score"] for m in doc["matches"]]
    assert scores == sorted(scores, reverse=True)


def test_match_text_shows_scores_and_terms_and_abstains_with_exit_3(capsys):
    code, out, _ = run(capsys, "runbooks", "match", "curl svc timeout but pod IP works")
    assert code == 0
    assert "pod-to-service" in out
    assert "svc, timeout" in out
    code, out, _ = run(capsys, "runbooks", "match", "pods cannot reach each other", "--lang", "zh")
    assert code == 3
    assert "两个 Pod 在同一节点还是不同节点上？" in out
    assert "cross-node-pod-traffic" in out
    assert "same-node-pod-traffic" in out


def test_match_with_the_clusters_cni(capsys):
    code, out, _ = run(
        capsys, "runbooks", "match", "跨节点 Pod ping 不通", "--cni", "flannel", "-o", "json"
    )
    assert code == 0
    assert json.loads(out)["matches"][0]["id"] == "flannel-cross-node"


def test_list_and_show(capsys):
    code, out, _ = run(capsys, "runbooks", "list", "-o", "json")
    assert code == 0
    ids = {b["id"] for b in json.loads(out)["runbooks"]}
    assert {"kubeovn-pod-connectivity", "dns-resolution", "mtu-large-packets"} <= ids
    code, out, _ = run(capsys, "runbooks", "show", "kubeovn-pod-connectivity", "--lang", "zh")
    assert code == 0
    assert "Kube-OVN Pod 间网络连通性诊断工作流" in out
    assert "kubectl ko trace <NS>/<POD> <DST_IP> tcp <PORT>" in out
    assert "ip4.dst == <DST_IP>" in out
    assert "eth.dst == <" not in out


def test_show_of_an_unknown_id_is_one_line_and_exit_2(capsys):
    code, out, err = run(capsys, "runbooks", "show", "no-such-runbook")
    assert code == 2
    assert out == ""
    assert err == "netdoctor: error: no runbook no-such-runbook (see 'netdoctor runbooks list')\n"


def test_lint_on_the_seeded_bad_folder_fails_with_every_rule(capsys):
    code, out, _ = run(capsys, "runbooks", "lint", "--dir", str(BAD), "-o", "json")
    assert code == 1
    doc = json.loads(out)
    rules = {i["rule"] for i in doc["issues"]}
    assert rules >= {
        "unreadable",
        "duplicate-id",
        "bad-category",
        "unknown-check",
        "bad-reference",
        "missing-branch",
        "empty-step",
        "unreachable-step",
        "unreachable-conclusion",
        "cycle",
        "missing-section",
        "example-misrouted",
        "counter-example-matches",
        "command-mistake",
        "trigger-collision",
    }
    assert doc["errors"] > 0
    assert doc["warnings"] >= 1


def test_lint_of_a_missing_folder_is_one_line_and_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "runbooks", "lint", "--dir", str(tmp_path / "nope"))
    assert code == 2
    assert err.count("\n") == 1
    assert "not a folder of runbooks" in err


def test_a_team_folder_adds_runbooks_to_match(capsys, tmp_path):
    good = (BAD / "good.md").read_text(encoding="utf-8")
    (tmp_path / "good.md").write_text(good, encoding="utf-8")
    code, out, _ = run(capsys, "runbooks", "lint", "--dir", str(tmp_path))
    assert code == 0, out
    code, out, _ = run(
        capsys,
        "runbooks",
        "match",
        "the zebra-widget pods fail",
        "--dir",
        str(tmp_path),
        "-o",
        "json",
    )
    assert code == 0
    assert json.loads(out)["matches"][0]["id"] == "good"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_diagnose_with_a_symptom_walks_the_runbook_to_the_root_cause(capsys, lang):
    code, out, _ = run(
        capsys,
        "diagnose",
        "-b",
        str(EX / "calico-ib-autodetect"),
        "-o",
        "json",
        "--lang",
        lang,
        "--symptom",
        "跨节点 Pod ping 不通，同节点正常",
    )
    assert code == 1
    doc = json.loads(out)
    rb = doc["runbook"]
    assert rb["id"] == "calico-cross-node"
    assert rb["outcome"] == "found"
    assert rb["rootCauses"][0] == "calico-node-address-mismatch"
    assert rb["matchedTerms"] == ["跨节点"]
    assert doc["findings"][0]["runbook"] == "calico-cross-node"
    statuses = {s["id"]: s["status"] for s in rb["steps"]}
    assert statuses["address"] == "finding"


def test_diagnose_text_shows_the_checklist_and_the_conclusion(capsys):
    code, out, _ = run(
        capsys,
        "diagnose",
        "-b",
        str(EX / "calico-ib-autodetect"),
        "--width",
        "120",
        "--symptom",
        "calico cross-node pods unreachable",
    )
    assert code == 1
    assert "calico-cross-node: Calico: pods on different nodes cannot reach each other" in out
    assert "[!] 2. Calico uses each node's reachable address — finding" in out
    assert "Conclusion" in out
    assert "NET-301" in out


def test_diagnose_takes_the_symptom_from_the_bundle_and_says_when_none_fits(capsys):
    _, out, _ = run(capsys, "diagnose", "-b", str(EX / "healthy-calico"), "-o", "json")
    assert json.loads(out)["runbook"]["id"] == "calico-cross-node"  # bundle.yaml's symptom
    _code, out, err = run(
        capsys, "diagnose", "-b", str(EX / "healthy-calico"), "--symptom", "helm upgrade stuck"
    )
    assert "No runbook fits the symptom" in err


def test_diagnose_markdown_shows_the_walk_as_a_task_list(capsys):
    code, out, _ = run(
        capsys,
        "diagnose",
        "-b",
        str(EX / "calico-ib-autodetect"),
        "-o",
        "markdown",
        "--lang",
        "zh",
        "--symptom",
        "calico 跨节点不通",
    )
    assert code == 1
    section = out.split("## 处置手册", 1)[1]
    assert "- [ ] Calico 使用每个节点可达的地址 — 发现问题 → address" in section
    assert "**结论：Calico 使用了错误或重复的节点地址" in section


def test_diagnose_asks_for_what_would_decide_when_the_symptom_is_ambiguous(capsys):
    _, out, err = run(
        capsys,
        "diagnose",
        "-b",
        str(EX / "healthy-calico"),
        "--lang",
        "zh",
        "--symptom",
        "pods cannot reach each other",
        "-o",
        "json",
    )
    assert "runbook" not in json.loads(out)
    assert "两个 Pod 在同一节点还是不同节点上？" not in err  # JSON stays quiet on stderr
    _, out, err = run(
        capsys,
        "diagnose",
        "-b",
        str(EX / "healthy-calico"),
        "--lang",
        "zh",
        "--symptom",
        "pods cannot reach each other",
    )
    assert "没有足够匹配该症状的处置手册" in err
    assert "两个 Pod 在同一节点还是不同节点上？" in err


def test_an_unreadable_runbook_is_said_in_the_users_language(capsys, tmp_path):
    (tmp_path / "x.md").write_text("# no front matter\n", encoding="utf-8")
    code, out, err = run(capsys, "runbooks", "list", "--dir", str(tmp_path), "--lang", "zh")
    assert code == 2
    assert out == ""
    assert err == f"netdoctor: error: {tmp_path / 'x.md'}：文件开头不是 '---' 前言行\n"
    code, out, _ = run(
        capsys, "runbooks", "lint", "--dir", str(tmp_path), "--lang", "zh", "-o", "json"
    )
    assert code == 1
    [issue] = json.loads(out)["issues"]
    assert issue["rule"] == "unreadable"
    assert issue["message"] == "无法作为处置手册读取（x.md：文件开头不是 '---' 前言行）"
