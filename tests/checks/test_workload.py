"""NET-901, NET-902 and what a symptom says: refused arrived, timeout dropped, and the ranking."""

from __future__ import annotations

import msgspec
import pytest
from builders import node, pod, snapshot

from netdoctor.checks.workload import Symptom, classify_symptom
from netdoctor.engine import diagnose
from netdoctor.model.snapshot import Probe, Question


def probe(result, *, port=22, to_pod="shop/b", kind="tcp", detail=""):
    return msgspec.convert(
        {
            "name": f"{kind}-a-b-{port}",
            "from": {"pod": "shop/a"},
            "to": {"pod": to_pod, "port": port, "protocol": "TCP"},
            "kind": kind,
            "attempts": 3,
            "succeeded": 0,
            "result": result,
            "detail": detail,
        },
        Probe,
    )


def two_pods(b=None, *, probes=None, port=22, symptom=None):
    snap = snapshot(
        nodes=[node("n1", "10.0.0.1"), node("n2", "10.0.0.2")],
        pods=[pod("shop", "a", "n1", "10.244.0.5"), b or pod("shop", "b", "n2", "10.244.1.5")],
        question=Question(from_="shop/a", to="shop/b", port=port, symptom=symptom),
    )
    return type(snap)(**{**snap.__dict__, "probes": tuple(probes) if probes is not None else None})


def ids(d):
    return [r.finding.id for r in d.findings]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("curl: (7) Failed to connect to 10.96.0.1 port 443: Connection refused", Symptom.REFUSED),
        ("连接被拒绝", Symptom.REFUSED),
        ("dial tcp 10.244.1.5:8080: i/o timeout", Symptom.TIMEOUT),
        ("nc: connect to 10.244.1.5 port 22 (tcp) failed: Connection timed out", Symptom.TIMEOUT),
        ("跨节点 Pod ping 100% 丢包, TCP 连接超时", Symptom.TIMEOUT),
        ("ssh: connect to host 10.244.1.5 port 22: No route to host", Symptom.HOST_UNREACHABLE),
        ("connect: Network is unreachable", Symptom.NET_UNREACHABLE),
        ("curl: (6) Could not resolve host: web.shop", Symptom.DNS),
        (";; connection timed out; no servers could be reached", Symptom.DNS),
        ("dial tcp: lookup web.shop on 10.96.0.10:53: no such host", Symptom.DNS),
        ("域名解析失败", Symptom.DNS),
        ("it is slow", None),
    ],
)
def test_the_symptom_text_is_classified_in_english_and_chinese(text, expected):
    assert classify_symptom(Question(symptom=text)) is expected


def test_a_measured_probe_outranks_what_the_user_wrote():
    q = Question(symptom="connection timed out")
    assert classify_symptom(q, [probe("refused")]) is Symptom.REFUSED
    assert classify_symptom(q, [probe("no-route")]) is Symptom.NET_UNREACHABLE
    assert classify_symptom(q, [probe("timeout", kind="dns")]) is Symptom.DNS
    assert classify_symptom(q, [probe("nxdomain", kind="dns")]) is Symptom.DNS


def test_a_refused_probe_to_a_ready_pod_is_a_missing_listener():
    d = diagnose(two_pods(probes=[probe("refused", detail="Connection refused")]))
    assert ids(d) == ["target-not-listening"]
    f = d.findings[0].finding
    assert f.evidence[0].source == "probes/tcp-a-b-22.json"
    assert f.confidence == 1.0


def test_a_timeout_or_a_probe_on_another_port_is_not_a_missing_listener():
    assert "target-not-listening" not in ids(diagnose(two_pods(probes=[probe("timeout")])))
    other = two_pods(probes=[probe("refused", port=80)], port=22)
    assert "target-not-listening" not in ids(diagnose(other))


def test_a_refusal_the_user_reported_without_a_probe_counts_with_less_confidence():
    d = diagnose(two_pods(probes=[], symptom="Connection refused"))
    f = d.findings[0].finding
    assert (f.id, f.confidence) == ("target-not-listening", 0.6)
    assert f.evidence[0].source == "bundle.yaml"


def test_a_target_pod_that_is_not_ready_is_net_901_not_a_missing_listener():
    b = pod(
        "shop",
        "b",
        "n2",
        "10.244.1.5",
        ready=False,
        waiting=("CrashLoopBackOff", "back-off 40s restarting failed container=main"),
        restarts=3,
    )
    d = diagnose(two_pods(b, probes=[probe("refused")]))
    assert ids(d) == ["pod-not-ready"]
    f = d.findings[0].finding
    assert (f.variant, f.params["reason"]) == ("default", "CrashLoopBackOff")
    assert f.fix[1].command == "kubectl -n shop logs b --all-containers --previous --tail=100"


def test_a_pending_pod_without_an_ip_is_the_no_ip_variant_and_gets_no_trace():
    b = pod("shop", "b", "n2", "10.244.1.5", ready=False, waiting=("ContainerCreating", ""))
    b["status"].update(phase="Pending", podIP=None, podIPs=[])
    d = diagnose(two_pods(b))
    f = d.findings[0].finding
    assert (f.id, f.variant) == ("pod-not-ready", "no_ip")
    assert d.path is None
    assert [a.command for a in f.fix] == ["kubectl -n shop describe pod b"]


# --- words are not evidence (issue #12, item 4) ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "拒绝" is also a policy's "deny": a question about default-deny is not a refusal
        ("默认拒绝策略下 web 到 db 的 5432 端口仍然放通吗？", None),
        ("NetworkPolicy denies and refuses nothing", None),
        ("dial tcp 10.244.1.5:5432: connect: ECONNREFUSED", Symptom.REFUSED),
        ("psql: 服务器拒绝连接", Symptom.REFUSED),
    ],
)
def test_only_an_error_string_reads_as_a_refusal(text, expected):
    assert classify_symptom(Question(symptom=text)) is expected


def test_a_refusal_only_the_user_reported_is_an_info_finding_that_breaks_nothing():
    d = diagnose(two_pods(probes=[], symptom="Connection refused"))
    f = next(r for r in d.findings if r.finding.id == "target-not-listening")
    assert f.severity.value == "info"
    assert d.verdict.value != "broken"
    # the same refusal measured by a probe is the critical cause
    d = diagnose(two_pods(probes=[probe("refused", detail="Connection refused")]))
    f = next(r for r in d.findings if r.finding.id == "target-not-listening")
    assert f.severity.value == "critical"
    assert d.verdict.value == "broken"
