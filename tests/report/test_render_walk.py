"""The Service walk (``Report.walk``): its steps in order, in both renderers and in JSON."""

from __future__ import annotations

import json

import msgspec

from netdoctor.report.model import Report, WalkRow
from netdoctor.report.render_json import render_json
from netdoctor.report.render_markdown import render_markdown
from netdoctor.report.render_text import render_text

WALK = [
    WalkRow(
        step="dns", status="failed", detail="web is the Service shop/web", checks=["dns-unhealthy"]
    ),
    WalkRow(step="service", status="ok", detail="shop/web: type ClusterIP, ClusterIP 10.96.0.7"),
    WalkRow(
        step="endpoints",
        status="failed",
        detail="0 of 1 endpoint(s) ready",
        checks=["service-endpoints-not-ready"],
    ),
    WalkRow(step="policy", status="not-checked", detail="NetworkPolicies", checks=[]),
]


def _with_walk(report: Report, words: dict[str, str]) -> Report:
    return msgspec.structs.replace(report, walk=WALK, labels={**report.labels, **words})


def test_the_walk_is_shown_in_order_with_the_failed_steps_marked(broken_en: Report) -> None:
    r = _with_walk(broken_en, {"word.walk.failed": "failed", "word.step.dns": "DNS"})
    text = render_text(r, width=120, color=False)
    assert "Service path (the steps a connection takes)" in text
    lines = [line for line in text.splitlines() if line.strip()[:1] in "1234" and "  " in line]
    rows = [line.split()[:3] for line in lines if line.split()[0] in {"1", "2", "3", "4"}]
    assert rows[:4] == [
        ["1", "DNS", "failed"],
        ["2", "service", "ok"],
        ["3", "endpoints", "failed"],
        ["4", "policy", "not-checked"],
    ]
    md = render_markdown(r)
    cells = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in md.splitlines()
        if line.startswith("| 3 ")
    ]
    assert ["3", "endpoints", "**failed**", "0 of 1 endpoint(s) ready"] in cells


def test_the_walk_words_are_translated_in_chinese(broken_zh: Report) -> None:
    r = _with_walk(broken_zh, {"word.walk.failed": "故障", "word.step.endpoints": "endpoint"})
    text = render_text(r, width=120, color=False)
    assert "Service 路径（连接依次经过的环节）" in text
    assert "故障" in text


def test_json_keeps_the_enums_and_check_ids(broken_zh: Report) -> None:
    doc = json.loads(render_json(_with_walk(broken_zh, {})))
    assert [(w["step"], w["status"]) for w in doc["walk"]] == [
        ("dns", "failed"),
        ("service", "ok"),
        ("endpoints", "failed"),
        ("policy", "not-checked"),
    ]
    assert doc["walk"][2]["checks"] == ["service-endpoints-not-ready"]


def test_a_report_without_a_service_target_has_an_empty_walk_and_no_section(
    broken_en: Report,
) -> None:
    assert broken_en.walk == []
    assert "Service path" not in render_text(broken_en, width=120, color=False)


def test_what_the_symptom_tells_is_shown_under_the_question(broken_zh: Report) -> None:
    assert broken_zh.question is not None
    q = msgspec.structs.replace(
        broken_zh.question, observed="timeout", observed_meaning="超时：完全没有应答"
    )
    r = msgspec.structs.replace(broken_zh, question=q)
    text = render_text(r, width=120, color=False)
    assert "现象：超时：完全没有应答" in text
    assert "**现象**：超时：完全没有应答" in render_markdown(r)
    assert json.loads(render_json(r))["question"]["observed"] == "timeout"
