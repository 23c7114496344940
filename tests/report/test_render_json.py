"""The JSON renderer keeps the contract in shared/docs/report-format.md."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from netdoctor.report.model import Report
from netdoctor.report.render_json import render_json

GOLDEN = ["broken-en", "broken-zh", "healthy-en", "healthy-zh", "inconclusive-en"]

CONTRACT_TOP = ["schemaVersion", "tool", "input", "question", "verdict", "findings", "checks"]
CONTRACT_FINDING = [
    "id",
    "code",
    "severity",
    "onPath",
    "subject",
    "title",
    "evidence",
    "fix",
    "verify",
]
CONTRACT_CHECK = ["id", "code", "status"]


@pytest.mark.parametrize("name", GOLDEN)
def test_json_matches_its_golden_file(
    name: str, report_named: Callable[[str], Report], golden: Callable[[str, str], None]
) -> None:
    golden(f"{name}.json", render_json(report_named(name)))


@pytest.mark.parametrize("name", [*GOLDEN, "inconclusive-zh", "hostile"])
def test_json_round_trips_to_an_equal_report_without_the_headings(
    name: str, report_named: Callable[[str], Report]
) -> None:
    report = report_named(name)
    assert report.labels  # the human formats' headings are there to be left out
    decoded = msgspec.json.decode(render_json(report), type=Report)
    assert decoded == msgspec.structs.replace(report, labels={})


def test_json_has_the_contract_keys_in_the_struct_order(broken_en: Report) -> None:
    doc = json.loads(render_json(broken_en))
    assert [k for k in doc if k in CONTRACT_TOP] == CONTRACT_TOP
    assert list(doc["tool"]) == ["name", "version"]
    assert {"kind", "path", "notes"} <= set(doc["input"])
    # The contract's keys first, in order; then the added ones (what the symptom tells).
    assert list(doc["question"]) == [
        "from",
        "to",
        "port",
        "protocol",
        "symptom",
        "observed",
        "observedMeaning",
    ]
    for finding in doc["findings"]:
        assert [k for k in finding if k in CONTRACT_FINDING] == CONTRACT_FINDING
        assert {"kind", "name"} <= set(finding["subject"])
        for row in finding["evidence"]:
            assert {"source", "object", "field", "value"} <= set(row)
        for step in finding["fix"] + finding["verify"]:
            assert {"description", "command"} <= set(step)
    for check in doc["checks"]:
        assert [k for k in check if k in CONTRACT_CHECK] == CONTRACT_CHECK
    assert {"verdict", "dropAt", "hops"} <= set(doc["path"])


def _keys(node: Any, skip: str = "labels") -> list[str]:
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            found.append(key)
            if key != skip:
                found += _keys(value)
        return found
    if isinstance(node, list):
        return [k for item in node for k in _keys(item)]
    return []


def test_json_names_every_field_in_camel_case(broken_en: Report) -> None:
    keys = _keys(json.loads(render_json(broken_en)))
    assert "onPath" in keys
    assert "dropAt" in keys
    assert [k for k in keys if "_" in k] == []


def test_path_is_absent_when_none_and_present_when_set(
    broken_en: Report, healthy_en: Report
) -> None:
    assert healthy_en.path is None
    assert "path" not in json.loads(render_json(healthy_en))
    doc = json.loads(render_json(broken_en))
    assert doc["path"]["verdict"] == "dropped"
    assert doc["path"]["dropAt"] == 2
    assert [h["verdict"] for h in doc["path"]["hops"]] == ["pass", "pass", "drop", "unknown"]


def test_json_keeps_other_nulls_so_the_shape_is_fixed(healthy_en: Report) -> None:
    doc = json.loads(render_json(healthy_en))
    assert doc["question"] is None
    assert doc["findings"][0]["runbook"] is None


def test_json_is_pretty_utf8_with_a_trailing_newline(broken_zh: Report) -> None:
    out = render_json(broken_zh)
    assert out.startswith('{\n  "schemaVersion": 1,\n')
    assert out.endswith("}\n")
    assert "l20-gpu-05 上的 calico-node 使用了" in out
    assert "\\u4e0a" not in out


def test_json_is_the_same_on_every_run(broken_zh: Report) -> None:
    copy = msgspec.json.decode(msgspec.json.encode(broken_zh), type=Report)
    assert render_json(broken_zh) == render_json(broken_zh) == render_json(copy)


def test_json_escapes_c1_and_bidi_controls_but_keeps_the_data(hostile: Report) -> None:
    out = render_json(hostile)
    assert not any(0x7F <= ord(ch) <= 0x9F or 0x202A <= ord(ch) <= 0x202E for ch in out)
    assert "\\u009b31m" in out
    assert msgspec.json.decode(out, type=Report).summary == hostile.summary
