"""Sample reports, built by hand, and the golden-file helper for the renderer tests.

The broken report is the Calico InfiniBand case: calico-node on l20-gpu-05 autodetected the
address of its IB port, so cross-node pod traffic to that node is dropped. Its English and
Chinese versions hold the same data; only the words differ, as the catalog would give them.

Golden files live in ``golden/``. ``NETDOCTOR_UPDATE_GOLDEN=1 pytest tests/report`` rewrites
them; review the diff by eye before keeping it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from netdoctor.report.model import (
    CheckRow,
    EvidenceRow,
    FindingRow,
    HopRow,
    InputInfo,
    InputNoteRow,
    PathRow,
    ProbeRow,
    QuestionRow,
    Report,
    StepRow,
    SubjectRow,
    ToolInfo,
)

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("NETDOCTOR_UPDATE_GOLDEN") == "1"

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "question": "Question",
        "input": "Input",
        "cni": "CNI",
        "reasons": "Why netdoctor cannot decide",
        "root_cause": "Root cause",
        "severity": "Severity",
        "subject": "Subject",
        "runbook": "Runbook",
        "runbook.status.ok": "ok",
        "runbook.status.finding": "finding",
        "runbook.status.skipped": "skipped because",
        "runbook.status.manual": "manual, not verified",
        "evidence": "Evidence",
        "fix": "Fix",
        "verify": "Verify",
        "notes": "Notes",
        "findings": "Findings",
        "other_findings": "Other findings",
        "path": "Path (round trip)",
        "probes": "Probes",
        "checks": "Checks",
        "input_notes": "Input notes",
        "col.value": "Value",
        "col.field": "Field",
        "col.object": "Object",
        "col.source": "Source",
        "col.target": "Target",
        "col.kind": "Kind",
        "col.result": "Result",
        "col.detail": "Detail",
        "col.code": "Code",
        "col.id": "Check",
        "col.status": "Status",
        "col.reason": "Reason",
        "col.direction": "Direction",
        "col.node": "Node",
        "col.stage": "Stage",
        "col.verdict": "Verdict",
        "walk": "Service path (the steps a connection takes)",
        "col.step": "Step",
        "observed": "Observed",
    },
    "zh": {
        "question": "问题",
        "input": "输入",
        "cni": "CNI",
        "reasons": "无法判断的原因",
        "root_cause": "根因",
        "severity": "严重程度",
        "subject": "对象",
        "runbook": "处置手册",
        "runbook.status.ok": "通过",
        "runbook.status.finding": "发现问题",
        "runbook.status.skipped": "已跳过，原因",
        "runbook.status.manual": "需人工执行，未验证",
        "evidence": "证据",
        "fix": "修复",
        "verify": "验证",
        "notes": "备注",
        "findings": "发现",
        "other_findings": "其他发现",
        "path": "路径（往返）",
        "probes": "探测",
        "checks": "检查项",
        "input_notes": "输入说明",
        "col.value": "值",
        "col.field": "字段",
        "col.object": "资源",
        "col.source": "来源",
        "col.target": "目标",
        "col.kind": "类型",
        "col.result": "结果",
        "col.detail": "详情",
        "col.code": "代码",
        "col.id": "检查",
        "col.status": "状态",
        "col.reason": "原因",
        "col.direction": "方向",
        "col.node": "节点",
        "col.stage": "阶段",
        "col.verdict": "结论",
        "walk": "Service 路径（连接依次经过的环节）",
        "col.step": "环节",
        "observed": "现象",
    },
}

# Words that differ between the two languages, by key. Data (names, addresses, commands,
# file paths, ids, codes, enums) is the same in both.
_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "symptom": "ssh from netdebug04 to netdebug05 hangs",
        "summary.broken": (
            "BROKEN: NET-301 calico-node on l20-gpu-05 uses 10.6.130.201/24 (ibs845f0), "
            "not the node's InternalIP 10.6.131.36"
        ),
        "title.301": (
            "calico-node on l20-gpu-05 uses 10.6.130.201/24 (ibs845f0), "
            "not the node's InternalIP 10.6.131.36"
        ),
        "fix.301": (
            "Make calico-node pick its address in 10.6.131.0/24 (the subnet of the interface "
            "holding each node's InternalIP); this rolls daemonset/calico-node on every node:"
        ),
        "fix.301.alt": "Or use each node's Kubernetes InternalIP as it is:",
        "verify.rollout": "Wait for daemonset/calico-node to finish rolling out:",
        "verify.address": "Expect l20-gpu-05's Calico address to be 10.6.131.36 (its InternalIP):",
        "verify.ping": (
            "Then the original test passes (ping from default/netdebug04 to default/netdebug05):"
        ),
        "note.301": "The annotation is only rewritten when calico-node restarts.",
        "title.202": "calico-node pod calico-node-7xk2p on l20-gpu-05 has restarted 14 times",
        "fix.202": "Read why calico-node-7xk2p failed (its previous run):",
        "verify.202": "Expect the calico-node pod Running and READY:",
        "skip.sysctl": "nodes/l20-gpu-05/sysctl.txt is missing",
        "hop.0": "10.244.12.7 → 10.244.87.3 leaves the pod by eth0 to cali3f2a9c1e",
        "hop.1": "route 10.244.87.0/26 via 10.6.130.201 dev tunl0 onlink: IPIP to 10.6.130.201",
        "hop.2": (
            "no route to 10.6.130.201 in 10.6.131.0/24: the outer packet goes to the default "
            "gateway 10.6.131.1, which does not forward to the IB subnet"
        ),
        "hop.3": "never reached",
        "probe.ping": "100% packet loss",
        "probe.tcp": "connect() timed out after 3s",
        "summary.healthy": "HEALTHY: 5 checks passed, nothing wrong found",
        "title.info": "calico-node on all 4 nodes uses IP_AUTODETECTION_METHOD=first-found",
        "fix.info": "Pin the address method before adding a node with a second NIC:",
        "summary.inconclusive": (
            "INCONCLUSIVE: not enough data to decide (4 checks could not run for lack of data)"
        ),
        "reason.skipped": "4 checks could not run for lack of data",
        "reason.probe": "probe ping-04-05 (ping) measured fail, and no check explains it",
        "skip.nodes": "k8s/nodes.json is missing",
        "note.ignored": "not a file netdoctor reads",
    },
    "zh": {
        "symptom": "从 netdebug04 ssh 到 netdebug05 卡住",
        "summary.broken": (
            "故障：NET-301 l20-gpu-05 上的 calico-node 使用了 10.6.130.201/24（ibs845f0），"
            "而不是节点的 InternalIP 10.6.131.36"
        ),
        "title.301": (
            "l20-gpu-05 上的 calico-node 使用了 10.6.130.201/24（ibs845f0），"
            "而不是节点的 InternalIP 10.6.131.36"
        ),
        "fix.301": (
            "让 calico-node 在 10.6.131.0/24 中选择地址（即各节点 InternalIP 所在网卡的网段）；"
            "这会滚动重启所有节点上的 daemonset/calico-node："
        ),
        "fix.301.alt": "或者直接使用每个节点在 Kubernetes 中的 InternalIP：",
        "verify.rollout": "等待 daemonset/calico-node 滚动更新完成：",
        "verify.address": "l20-gpu-05 的 Calico 地址应为 10.6.131.36（即其 InternalIP）：",
        "verify.ping": "然后原来的测试应能通过（从 default/netdebug04 ping default/netdebug05）：",
        "note.301": "注解只会在 calico-node 重启时更新。",
        "title.202": "l20-gpu-05 上的 calico-node Pod calico-node-7xk2p 已重启 14 次",
        "fix.202": "查看 calico-node-7xk2p 失败的原因（上一次运行的日志）：",
        "verify.202": "应看到 calico-node 的 Pod 处于 Running 且 READY：",
        "skip.sysctl": "缺少 nodes/l20-gpu-05/sysctl.txt",
        "hop.0": "10.244.12.7 → 10.244.87.3 经 eth0 离开 Pod，到达 cali3f2a9c1e",
        "hop.1": (
            "路由 10.244.87.0/26 via 10.6.130.201 dev tunl0 onlink：IPIP 封装发往 10.6.130.201"
        ),
        "hop.2": (
            "10.6.131.0/24 中没有到 10.6.130.201 的路由：外层报文发往默认网关 10.6.131.1，"
            "而网关不转发到 IB 网段"
        ),
        "hop.3": "未到达",
        "probe.ping": "100% 丢包",
        "probe.tcp": "connect() 3 秒后超时",
        "summary.healthy": "健康：5 项检查全部通过，未发现问题",
        "title.info": "全部 4 个节点上的 calico-node 都使用 IP_AUTODETECTION_METHOD=first-found",
        "fix.info": "在加入带第二块网卡的节点之前，先固定地址选择方式：",
        "summary.inconclusive": "无法判断：数据不足（4 项检查因缺少数据未能执行）",
        "reason.skipped": "4 项检查因缺少数据未能执行",
        "reason.probe": "探测 ping-04-05（ping）的结果为 fail，但没有任何检查能解释它",
        "skip.nodes": "缺少 k8s/nodes.json",
        "note.ignored": "netdoctor 不读取该文件",
    },
}

FIX_301 = (
    "kubectl set env daemonset/calico-node -n kube-system "
    "IP_AUTODETECTION_METHOD=cidr=10.6.131.0/24"
)


def _tool() -> ToolInfo:
    return ToolInfo(name="netdoctor", version="0.1.0")


def _question(w: dict[str, str]) -> QuestionRow:
    return QuestionRow(
        from_="default/netdebug04",
        to="default/netdebug05",
        port=22,
        protocol="TCP",
        symptom=w["symptom"],
    )


def _finding_301(w: dict[str, str]) -> FindingRow:
    node = "Node/l20-gpu-05"
    return FindingRow(
        id="calico-node-address-mismatch",
        code="NET-301",
        severity="critical",
        on_path=True,
        subject=SubjectRow(kind="Node", name="l20-gpu-05"),
        title=w["title.301"],
        evidence=[
            EvidenceRow(
                source="k8s/nodes.json",
                object=node,
                field="metadata.annotations[projectcalico.org/IPv4Address]",
                value="10.6.130.201/24",
            ),
            EvidenceRow(
                source="k8s/nodes.json",
                object=node,
                field="status.addresses[InternalIP]",
                value="10.6.131.36",
            ),
            EvidenceRow(
                source="nodes/l20-gpu-05/ip-addr.json",
                object=node,
                field="ibs845f0.addr_info[0]",
                value="10.6.130.201/24",
                node="l20-gpu-05",
            ),
            EvidenceRow(
                source="nodes/l20-gpu-04/ip-route.json",
                object="Node/l20-gpu-04",
                field="routes[dst=default]",
                value="default via 10.6.131.1 dev eno1",
                node="l20-gpu-04",
            ),
            EvidenceRow(
                source="k8s/daemonsets.json",
                object="DaemonSet/kube-system/calico-node",
                field="spec.template.spec.containers[calico-node].env[IP_AUTODETECTION_METHOD]",
                value="first-found",
            ),
        ],
        fix=[
            StepRow(description=w["fix.301"], command=FIX_301),
            StepRow(
                description=w["fix.301.alt"],
                command=(
                    "kubectl set env daemonset/calico-node -n kube-system "
                    "IP_AUTODETECTION_METHOD=kubernetes-internal-ip"
                ),
            ),
        ],
        verify=[
            StepRow(
                description=w["verify.rollout"],
                command="kubectl rollout status daemonset/calico-node -n kube-system --timeout=10m",
            ),
            StepRow(
                description=w["verify.address"],
                command=(
                    "kubectl get node l20-gpu-05 -o "
                    "jsonpath='{.metadata.annotations.projectcalico\\.org/IPv4Address}'"
                ),
            ),
            StepRow(
                description=w["verify.ping"],
                command="kubectl exec -n default netdebug04 -- ping -c 3 10.244.87.3",
            ),
        ],
        notes=[w["note.301"]],
        runbook="cross-node-pod-traffic",
    )


def _finding_202(w: dict[str, str]) -> FindingRow:
    return FindingRow(
        id="cni-agent-unhealthy",
        code="NET-202",
        severity="warning",
        on_path=True,
        subject=SubjectRow(kind="Pod", name="calico-node-7xk2p", namespace="kube-system"),
        title=w["title.202"],
        evidence=[
            EvidenceRow(
                source="k8s/pods.json",
                object="Pod/kube-system/calico-node-7xk2p",
                field="status.containerStatuses[calico-node].restartCount",
                value="14",
            )
        ],
        fix=[
            StepRow(
                description=w["fix.202"],
                command="kubectl logs -n kube-system calico-node-7xk2p -c calico-node --previous",
            )
        ],
        verify=[
            StepRow(
                description=w["verify.202"],
                command="kubectl get pods -n kube-system -l k8s-app=calico-node -o wide",
            )
        ],
        confidence=0.6,
        runbook="cni-agent",
    )


def _input(notes: list[InputNoteRow]) -> InputInfo:
    return InputInfo(
        kind="bundle",
        path="examples/calico-ib-autodetect",
        notes=notes,
        cluster="l20-prod",
        collected_at="2024-11-20T03:12:44Z",
    )


def _checks(w: dict[str, str], *, broken: bool) -> list[CheckRow]:
    status = "finding" if broken else "ok"
    return [
        CheckRow(
            id="node-ip-forward-disabled",
            code="NET-101",
            status="skipped",
            reason=w["skip.sysctl"],
        ),
        CheckRow(id="node-internal-ip-duplicate", code="NET-105", status="ok"),
        CheckRow(id="cni-agent-unhealthy", code="NET-202", status=status),
        CheckRow(id="calico-node-address-mismatch", code="NET-301", status=status),
        CheckRow(id="calico-duplicate-node-address", code="NET-302", status="ok"),
    ]


def make_broken(lang: str) -> Report:
    w = _WORDS[lang]
    hops = [
        HopRow(
            index=0,
            node="l20-gpu-04",
            stage="pod-egress",
            direction="request",
            verdict="pass",
            detail=w["hop.0"],
        ),
        HopRow(
            index=1,
            node="l20-gpu-04",
            stage="ipip-encap",
            direction="request",
            verdict="pass",
            detail=w["hop.1"],
        ),
        HopRow(
            index=2,
            node="l20-gpu-04",
            stage="underlay-route",
            direction="request",
            verdict="drop",
            detail=w["hop.2"],
            evidence=[
                EvidenceRow(
                    source="nodes/l20-gpu-04/ip-route.json",
                    object="Node/l20-gpu-04",
                    field="routes[dst=default]",
                    value="default via 10.6.131.1 dev eno1",
                    node="l20-gpu-04",
                )
            ],
        ),
        HopRow(
            index=3,
            node="l20-gpu-05",
            stage="pod-ingress",
            direction="request",
            verdict="unknown",
            detail=w["hop.3"],
        ),
    ]
    return Report(
        tool=_tool(),
        lang=lang,
        input=_input(
            [
                InputNoteRow(file="k8s/events.json", note="missing"),
                InputNoteRow(file="nodes/l20-gpu-05/sysctl.txt", note="missing"),
                InputNoteRow(
                    file="nodes/l20-gpu-04/ethtool.txt",
                    note="ignored",
                    detail=w["note.ignored"],
                ),
            ]
        ),
        question=_question(w),
        verdict="broken",
        summary=w["summary.broken"],
        cni=["calico"],
        findings=[_finding_301(w), _finding_202(w)],
        checks=_checks(w, broken=True),
        probes=[
            ProbeRow(
                name="ping-04-05",
                kind="ping",
                source="default/netdebug04",
                target="default/netdebug05",
                result="fail",
                detail=w["probe.ping"],
                attempts=3,
                succeeded=0,
            ),
            ProbeRow(
                name="tcp-04-05-22",
                kind="tcp",
                source="default/netdebug04",
                target="10.244.87.3:22",
                result="timeout",
                detail=w["probe.tcp"],
                attempts=1,
                succeeded=0,
            ),
        ],
        path=PathRow(verdict="dropped", drop_at=2, hops=hops),
        exit_status=1,
        labels=LABELS[lang],
    )


def make_healthy(lang: str) -> Report:
    w = _WORDS[lang]
    info = FindingRow(
        id="calico-autodetect-first-found",
        code="NET-303",
        severity="info",
        on_path=False,
        subject=SubjectRow(kind="DaemonSet", name="calico-node", namespace="kube-system"),
        title=w["title.info"],
        evidence=[
            EvidenceRow(
                source="k8s/daemonsets.json",
                object="DaemonSet/kube-system/calico-node",
                field="spec.template.spec.containers[calico-node].env[IP_AUTODETECTION_METHOD]",
                value="first-found",
            )
        ],
        fix=[StepRow(description=w["fix.info"], command=FIX_301)],
        verify=[],
    )
    return Report(
        tool=_tool(),
        lang=lang,
        input=_input([]),
        question=None,
        verdict="healthy",
        summary=w["summary.healthy"],
        cni=["calico"],
        findings=[info],
        checks=[
            CheckRow(id="node-ip-forward-disabled", code="NET-101", status="ok"),
            CheckRow(id="node-internal-ip-duplicate", code="NET-105", status="ok"),
            CheckRow(id="cni-agent-unhealthy", code="NET-202", status="ok"),
            CheckRow(id="calico-node-address-mismatch", code="NET-301", status="ok"),
            CheckRow(id="calico-duplicate-node-address", code="NET-302", status="ok"),
        ],
        exit_status=0,
        labels=LABELS[lang],
    )


def make_inconclusive(lang: str) -> Report:
    w = _WORDS[lang]
    return Report(
        tool=_tool(),
        lang=lang,
        input=_input([InputNoteRow(file="k8s/nodes.json", note="missing")]),
        question=QuestionRow(from_="default/netdebug04", to="default/netdebug05"),
        verdict="inconclusive",
        summary=w["summary.inconclusive"],
        reasons=[w["reason.skipped"], w["reason.probe"]],
        checks=[
            CheckRow(id=cid, code=code, status="skipped", reason=w["skip.nodes"])
            for cid, code in (
                ("node-ip-forward-disabled", "NET-101"),
                ("node-internal-ip-duplicate", "NET-105"),
                ("calico-node-address-mismatch", "NET-301"),
                ("calico-duplicate-node-address", "NET-302"),
            )
        ],
        probes=[
            ProbeRow(
                name="ping-04-05",
                kind="ping",
                source="default/netdebug04",
                target="default/netdebug05",
                result="fail",
                detail=w["probe.ping"],
                attempts=3,
            )
        ],
        path=PathRow(verdict="unknown", drop_at=None, hops=[]),
        exit_status=3,
        labels=LABELS[lang],
    )


# Strings a hostile cluster could plant: a pod name that clears the screen and sets the window
# title, a C1 CSI, NUL and DEL bytes, a bidi override, a Markdown table breaker and HTML.
HOSTILE_POD = "evil\x1b[2J\x1b[H\x1b]0;pwned\x07|<script>alert(1)</script>\x9b31m`x`\x00\x7f"
HOSTILE_VALUE = "10.0.0.1\x1b[31m|red|\x85\u202egnp.exe\r\nsecond line & <b>"


def make_hostile() -> Report:
    report = make_broken("en")
    root = report.findings[0]
    root.title = f"pod {HOSTILE_POD} is bad"
    root.subject = SubjectRow(kind="Pod", name=HOSTILE_POD, namespace="default\x1b[1m")
    root.evidence.append(
        EvidenceRow(
            source=f"pods/{HOSTILE_POD}.json",
            object=f"Pod/default/{HOSTILE_POD}",
            field="metadata.labels[a|b]",
            value=HOSTILE_VALUE,
        )
    )
    root.fix.append(
        StepRow(
            description=f"Delete {HOSTILE_POD}:",
            command=f"kubectl delete pod -n default '{HOSTILE_POD}'",
        )
    )
    report.summary = f"BROKEN: {HOSTILE_POD}"
    report.checks.append(
        CheckRow(id="x", code="NET-999", status="skipped", reason=f"{HOSTILE_VALUE} missing")
    )
    report.input.notes.append(
        InputNoteRow(file=HOSTILE_POD, note="malformed", detail=HOSTILE_VALUE)
    )
    report.probes[0].detail = HOSTILE_VALUE
    assert report.path is not None
    report.path.hops[0].detail = HOSTILE_VALUE
    report.question = QuestionRow(from_=HOSTILE_POD, to="default/b", symptom=HOSTILE_VALUE)
    return report


REPORTS: dict[str, Callable[[], Report]] = {
    "broken-en": lambda: make_broken("en"),
    "broken-zh": lambda: make_broken("zh"),
    "healthy-en": lambda: make_healthy("en"),
    "healthy-zh": lambda: make_healthy("zh"),
    "inconclusive-en": lambda: make_inconclusive("en"),
    "inconclusive-zh": lambda: make_inconclusive("zh"),
    "hostile": make_hostile,
}


@pytest.fixture
def broken_en() -> Report:
    return make_broken("en")


@pytest.fixture
def broken_zh() -> Report:
    return make_broken("zh")


@pytest.fixture
def healthy_en() -> Report:
    return make_healthy("en")


@pytest.fixture
def inconclusive_en() -> Report:
    return make_inconclusive("en")


@pytest.fixture
def hostile() -> Report:
    return make_hostile()


@pytest.fixture
def report_named() -> Callable[[str], Report]:
    """Build one of :data:`REPORTS` by name (for parametrised tests)."""
    return lambda name: REPORTS[name]()


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compare output to ``golden/<name>``, or write it when NETDOCTOR_UPDATE_GOLDEN=1."""

    def check(name: str, actual: str) -> None:
        path = GOLDEN_DIR / name
        if UPDATE_GOLDEN:
            GOLDEN_DIR.mkdir(exist_ok=True)
            path.write_text(actual, encoding="utf-8", newline="\n")
            return
        if not path.exists():
            pytest.fail(f"{path} is missing: run NETDOCTOR_UPDATE_GOLDEN=1 pytest tests/report")
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"output differs from {path}"

    return check
