"""The command line, end to end on the shipped examples: exit statuses, languages, formats,
and one clear line with exit status 2 for every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netdoctor.cli import main

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
CIDR_FIX = (
    "kubectl set env daemonset/calico-node -n kube-system "
    "IP_AUTODETECTION_METHOD=cidr=10.6.131.0/24"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_calico_example_names_the_autodetect_root_cause_first_with_the_cidr_fix(capsys, lang):
    code, out, _ = run(
        capsys,
        "diagnose",
        "--bundle",
        str(EX / "calico-ib-autodetect"),
        "-o",
        "json",
        "--lang",
        lang,
    )
    report = json.loads(out)
    assert code == 1
    assert report["verdict"] == "broken"
    top = report["findings"][0]
    assert (top["id"], top["code"], top["onPath"]) == (
        "calico-node-address-mismatch",
        "NET-301",
        True,
    )
    assert top["fix"][0]["command"] == CIDR_FIX
    assert report["lang"] == lang
    if lang == "zh":
        assert "而不是节点的 InternalIP 10.6.131.36" in top["title"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_flannel_example_names_the_duplicate_public_ip_first_with_iface_enp0s8(capsys, lang):
    code, out, _ = run(
        capsys,
        "diagnose",
        "--bundle",
        str(EX / "flannel-virtualbox-nat"),
        "-o",
        "json",
        "--lang",
        lang,
    )
    top = json.loads(out)["findings"][0]
    assert code == 1
    assert top["id"] == "flannel-public-ip-duplicate"
    assert '"value":"--iface=enp0s8"' in top["fix"][0]["command"]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_healthy_example_exits_zero_in_every_format_and_language(capsys, lang, fmt):
    code, out, err = run(
        capsys, "diagnose", "--bundle", str(EX / "healthy-calico"), "-o", fmt, "--lang", lang
    )
    assert (code, err) == (0, "")
    if fmt == "json":
        report = json.loads(out)
        assert report["verdict"] == "healthy"
        assert not [f for f in report["findings"] if f["severity"] in ("critical", "warning")]
        assert {c["status"] for c in report["checks"]} == {"ok"}


def test_text_report_shows_the_fix_command_whole_on_one_line(capsys):
    code, out, _ = run(capsys, "diagnose", "-b", str(EX / "calico-ib-autodetect"), "--width", "80")
    assert code == 1
    assert [line.strip() for line in out.splitlines() if CIDR_FIX in line] == [CIDR_FIX]
    assert out.index("NET-301") < out.index(CIDR_FIX)


def test_markdown_report_is_a_ticket_with_the_fix_in_a_shell_block(capsys):
    _, out, _ = run(
        capsys,
        "diagnose",
        "-b",
        str(EX / "flannel-virtualbox-nat"),
        "-o",
        "markdown",
        "--lang",
        "zh",
    )
    assert out.startswith("# netdoctor")
    assert "```sh" in out
    assert "--iface=enp0s8" in out


def test_question_flags_override_the_bundle_question(capsys):
    # Asking about the healthy pair of the broken cluster still finds the fault, but off-path
    # ranking applies: the control-plane node holds no pod of the question.
    _, out, _ = run(
        capsys,
        "diagnose",
        "-b",
        str(EX / "calico-ib-autodetect"),
        "-o",
        "json",
        "--from",
        "default/netdebug04",
        "--to",
        "node/l20-gpu-04",
    )
    report = json.loads(out)
    assert report["question"]["to"] == "node/l20-gpu-04"
    assert report["question"]["port"] is None
    assert report["findings"][0]["id"] == "calico-node-address-mismatch"
    assert (
        report["findings"][0]["onPath"] is True
    )  # l20-gpu-04 is among the peers that cannot reach it


def test_only_and_skip_select_checks_by_id_or_code(capsys):
    _, out, _ = run(
        capsys,
        "diagnose",
        "-b",
        str(EX / "calico-ib-autodetect"),
        "-o",
        "json",
        "--only",
        "NET-101",
    )
    assert [c["code"] for c in json.loads(out)["checks"]] == ["NET-101"]
    code, out, _ = run(
        capsys,
        "diagnose",
        "-b",
        str(EX / "calico-ib-autodetect"),
        "-o",
        "json",
        "--skip",
        "calico-node-address-mismatch",
    )
    report = json.loads(out)
    assert "NET-301" not in [c["code"] for c in report["checks"]]
    # Without the check, the trace still shows where the packet dies, and why.
    assert (code, report["verdict"]) == (1, "broken")
    assert report["findings"] == []
    drop = report["path"]["hops"][report["path"]["dropAt"]]
    assert (drop["stage"], drop["cause"]) == ("underlay", "calico-node-address-mismatch")
    assert "NET-301" in report["summary"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["diagnose", "-b", "/nonexistent/bundle"], "/nonexistent/bundle"),
        (["diagnose", "-b", str(EX / "healthy-calico"), "--to", "default/nope"], "no such Pod"),
        (["diagnose", "-b", str(EX / "healthy-calico"), "--port", "http"], "--port"),
        (["diagnose", "-b", str(EX / "healthy-calico"), "--port", "99999/tcp"], "1-65535"),
        (["diagnose", "-b", str(EX / "healthy-calico"), "--only", "NET-999"], "no such check"),
        (
            ["diagnose", "-b", str(EX / "healthy-calico"), "--max-bundle-size", "lots"],
            "--max-bundle-size",
        ),
        (["diagnose", "-b", str(EX / "healthy-calico"), "-o", "yaml"], "yaml"),
        (["diagnose"], "--bundle"),
        (["explain", "NET-999"], "NET-999"),
        (["nosuchcommand"], "nosuchcommand"),
    ],
)
def test_usage_errors_are_one_line_and_exit_two(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("netdoctor: error: ")
    assert needle in err


def test_a_malformed_file_names_the_file_and_what_is_wrong(tmp_path, capsys):
    import shutil

    bundle = tmp_path / "b"
    shutil.copytree(EX / "healthy-calico", bundle)
    pods = bundle / "k8s" / "pods.json"
    pods.write_bytes(pods.read_bytes()[:5000])
    code, out, err = run(capsys, "diagnose", "-b", str(bundle))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert "k8s/pods.json" in err


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_explain_prints_every_section_by_code_or_id(capsys, lang):
    code, out, _ = run(capsys, "explain", "net-301", "--lang", lang)
    assert code == 0
    assert out.startswith("NET-301  calico-node-address-mismatch")
    headings = [line for line in out.splitlines() if line.startswith("## ")]
    assert len(headings) == 7
    _, by_id, _ = run(capsys, "explain", "calico-node-address-mismatch", "--lang", lang)
    assert by_id == out


def test_checks_lists_every_registered_check_with_its_needs(capsys):
    code, out, _ = run(capsys, "checks", "-o", "json")
    rows = json.loads(out)["checks"]
    assert code == 0
    # every registered check, in code order, and every catalogued root cause has one
    from netdoctor.catalog import load_catalog
    from netdoctor.checks import REGISTRY

    codes = [r["code"] for r in rows]
    assert codes == sorted(s.code for s in REGISTRY.values())
    assert set(codes) == {e.code for e in load_catalog().entries.values()}
    assert {"NET-101", "NET-301", "NET-401"} <= set(codes)
    assert next(r for r in rows if r["code"] == "NET-101")["needs"] == [
        "k8s/nodes.json",
        "nodes/<node>/sysctl.txt",
    ]


def test_the_installed_console_scripts_run_as_netdoctor_and_as_a_kubectl_plugin():
    bindir = Path(sys.executable).parent
    for script in ("netdoctor", "kubectl-netdoctor"):
        exe = bindir / script
        if not exe.exists():
            pytest.skip(f"{script} not installed in this environment")
        proc = subprocess.run(
            [str(exe), "diagnose", "-b", str(EX / "calico-ib-autodetect"), "-o", "json"],
            capture_output=True,
            text=True,
            env={**os.environ, "LANG": "zh_CN.UTF-8"},
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        assert json.loads(proc.stdout)["lang"] == "zh"  # the default language follows the locale


def test_an_unreadable_bundle_never_prints_a_traceback(tmp_path):
    bad = tmp_path / "b.tgz"
    bad.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(4000))
    proc = subprocess.run(
        [sys.executable, "-m", "netdoctor.cli", "diagnose", "-b", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "b.tgz" in proc.stderr


def test_chinese_text_shows_enum_words_in_chinese_while_json_keeps_the_enums(capsys):
    _, text, _ = run(capsys, "diagnose", "-b", str(EX / "calico-ib-autodetect"), "--lang", "zh")
    assert "严重程度：严重" in text
    assert "critical" not in text
    assert "缺失" in text
    _, out, _ = run(
        capsys, "diagnose", "-b", str(EX / "calico-ib-autodetect"), "--lang", "zh", "-o", "json"
    )
    report = json.loads(out)
    assert report["findings"][0]["severity"] == "critical"
    assert {c["status"] for c in report["checks"]} == {"ok", "finding"}


def test_usage_errors_speak_the_language_asked_for(capsys):
    argv = ["diagnose", "-b", str(EX / "healthy-calico"), "--to", "default/nope", "--lang", "zh"]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == "netdoctor: error: --to 'default/nope'：k8s/pods.json 中没有这个 Pod\n"
    code, _, err = run(capsys, "diagnose", "-b", "/nonexistent/b", "--lang=zh")
    assert (code, err) == (2, "netdoctor: error: /nonexistent/b：文件或目录不存在\n")


def test_trace_finds_where_the_infiniband_case_dies_and_exits_one(capsys):
    argv = ["trace", "-b", str(EX / "calico-ib-autodetect"), "--from", "default/netdebug04"]
    code, out, _ = run(capsys, *argv, "--to", "default/netdebug05", "-o", "json")
    report = json.loads(out)
    assert (code, report["verdict"], report["path"]["verdict"]) == (1, "broken", "dropped")
    drop = report["path"]["hops"][report["path"]["dropAt"]]
    assert (drop["node"], drop["stage"], drop["direction"]) == ("l20-gpu-04", "underlay", "request")
    assert report["checks"] == []  # the trace alone: no check ran


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_trace_of_the_healthy_cluster_delivers_both_ways(capsys, lang):
    argv = ["trace", "-b", str(EX / "healthy-calico"), "--from", "default/netdebug04"]
    code, out, _ = run(capsys, *argv, "--to", "10.30.229.240", "-o", "json", "--lang", lang)
    path = json.loads(out)["path"]
    assert (code, path["verdict"], path["dropAt"]) == (0, "delivered", None)
    assert {h["direction"] for h in path["hops"]} == {"request", "reply"}


def test_trace_with_a_packet_larger_than_the_pod_mtu_drops_it_at_the_pod(capsys):
    argv = ["trace", "-b", str(EX / "healthy-calico"), "--from", "default/netdebug04"]
    code, out, _ = run(capsys, *argv, "--to", "default/netdebug05", "--size", "1500", "-o", "json")
    path = json.loads(out)["path"]
    drop = path["hops"][path["dropAt"]]
    assert (code, path["verdict"], drop["cause"]) == (1, "dropped", "mtu-mismatch")
    code, _, err = run(capsys, *argv, "--to", "default/netdebug05", "--size", "0")
    assert (code, err.count("\n")) == (2, 1)


def test_the_trace_and_the_engine_import_no_check_family_until_checks_run():
    # `netdoctor trace` is called hundreds of times by scripts: its imports must stay light.
    code = (
        "import sys, netdoctor.cli, netdoctor.engine, netdoctor.trace.path\n"
        "from netdoctor.checks._support.registry import family_modules\n"
        "modules = family_modules()\n"
        "loaded = [m for m in modules if m in sys.modules]\n"
        # the engine uses the symptom's helpers, nothing else (kube_proxy_mode is in _support)
        "assert set(loaded) <= {'netdoctor.checks.workload'}, loaded\n"
        "from netdoctor.checks import REGISTRY\n"
        "assert len(modules) >= 11 and all(m in sys.modules for m in modules)\n"
        "assert 'node-ip-forward-disabled' in REGISTRY\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--request-timeout", "0"], "--request-timeout 0: expected a positive number"),
        (["--deadline", "-5"], "--deadline -5: expected a positive number"),
        (["--page-size", "0"], "--page-size 0: expected a positive number"),
    ],
)
def test_each_live_flag_validator_says_what_it_expects(capsys, argv, line):
    # before, --request-timeout 0 said "expected a positive size such as 512M"
    with pytest.raises(SystemExit) as e:
        main(["diagnose", "--live", "--kubeconfig", "/nonexistent", *argv])
    assert e.value.code == 2
    assert capsys.readouterr().err == f"netdoctor: error: {line}\n"


def test_a_packet_size_error_names_its_own_flag_and_range(capsys):
    with pytest.raises(SystemExit) as e:
        main(
            [
                "diagnose",
                "--live",
                "--kubeconfig",
                "/nonexistent",
                "--probe",
                "--from",
                "a/b",
                "--to",
                "c/d",
                "--probe-size",
                "20",
            ]
        )
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--probe-size 20: expected an IP packet size 68-65535" in err or "kubeconfig" in err
