"""The terminal renderer: root cause first, commands whole, Chinese aligned, input defanged."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import pytest
from rich.cells import cell_len

from netdoctor.report.model import Report, StepRow
from netdoctor.report.render_text import LABEL_KEYS, render_text

GOLDEN = ["broken-en", "broken-zh", "healthy-en", "healthy-zh", "inconclusive-en"]
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("name", GOLDEN)
def test_text_matches_its_golden_file_at_width_100(
    name: str, report_named: Callable[[str], Report], golden: Callable[[str, str], None]
) -> None:
    golden(f"{name}.txt", render_text(report_named(name), width=100, color=False))


def test_a_200_character_command_is_never_wrapped_at_width_80(broken_en: Report) -> None:
    command = "kubectl annotate node l20-gpu-05 --overwrite " + " ".join(
        f"netdoctor.io/k{i}=value-{i:03d}" for i in range(8)
    )
    command = (command + " --dry-run=client")[:200]
    assert len(command) == 200
    root = broken_en.findings[0]
    root.fix.insert(0, StepRow(description="Annotate the node:", command=command))
    root.verify.append(StepRow(description="", command=command))
    broken_en.findings[1].fix[0].command = command
    lines = [line.strip() for line in render_text(broken_en, width=80).splitlines()]
    assert lines.count(command) == 3


def _check_table(out: str, header_start: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(header_start))
    table = []
    for line in lines[start:]:
        if not line.strip():
            break
        table.append(line)
    return table


def _column_offsets(line: str) -> list[int]:
    """Cell offsets where each column starts: columns are separated by two or more spaces."""
    return [cell_len(line[: m.start()]) for m in re.finditer(r"\S+(?: \S+)*", line)]


@pytest.mark.parametrize("name", ["broken-zh", "inconclusive-zh", "healthy-zh"])
def test_chinese_check_table_columns_align(
    name: str, report_named: Callable[[str], Report]
) -> None:
    report = report_named(name)
    table = _check_table(render_text(report, width=100), report.labels["col.code"])
    assert len(table) == len(report.checks) + 1
    header = _column_offsets(table[0])
    assert len(header) == 4
    for row in table[1:]:
        offsets = _column_offsets(row)
        assert offsets == header[: len(offsets)], row
        assert len(offsets) >= 3


def test_chinese_evidence_and_probe_tables_align_with_their_headers(broken_zh: Report) -> None:
    out = render_text(broken_zh, width=100)
    probes = _check_table(out, broken_zh.labels["col.kind"])
    header = _column_offsets(probes[0])
    assert [_column_offsets(row) for row in probes[1:]] == [header, header]
    evidence = _check_table(out, broken_zh.labels["col.value"])
    value_col = _column_offsets(evidence[0])[1]
    assert all(_column_offsets(row)[-1] == value_col for row in evidence[1:])


@pytest.mark.parametrize("color", [False, True])
def test_hostile_strings_come_out_without_control_bytes(hostile: Report, color: bool) -> None:
    out = render_text(hostile, width=100, color=color)
    if color:  # the only escapes left are the renderer's own colours
        out = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert CONTROL.findall(out) == []
    assert "[2J" not in out
    assert "pwned" not in out
    assert "evil|<script>alert(1)</script>`x`" in out


def test_the_root_cause_is_printed_before_other_findings(broken_en: Report) -> None:
    out = render_text(broken_en, width=100)
    root_at = out.index(f"\n{broken_en.labels['root_cause']} ─")
    other_at = out.index(f"\n{broken_en.labels['other_findings']} ─")
    assert root_at < out.index("[NET-301]") < out.index(broken_en.findings[0].evidence[0].field)
    assert out.index(broken_en.findings[0].evidence[0].field) < other_at < out.index("[NET-202]")


def test_the_verdict_line_comes_first(broken_en: Report) -> None:
    out = render_text(broken_en, width=200)
    assert out.splitlines()[0] == broken_en.summary


def test_skipped_checks_show_their_reason(broken_en: Report) -> None:
    out = render_text(broken_en, width=100)
    row = next(line for line in out.splitlines() if "node-ip-forward-disabled" in line)
    assert re.search(r"skipped\s+nodes/l20-gpu-05/sysctl\.txt is missing$", row)


def test_inconclusive_report_shows_its_reasons_before_the_checks(
    inconclusive_en: Report,
) -> None:
    out = render_text(inconclusive_en, width=100)
    for reason in inconclusive_en.reasons:
        assert f"- {reason}" in out
    assert out.index(inconclusive_en.reasons[-1]) < out.index(inconclusive_en.labels["checks"])


def test_evidence_quotes_value_field_object_and_source(broken_en: Report) -> None:
    out = render_text(broken_en, width=160)
    for ev in broken_en.findings[0].evidence:
        assert ev.value in out
        assert ev.field in out
        assert f"{ev.source} · {ev.object}" in out


@pytest.mark.parametrize("color", [None, False])
def test_plain_output_has_no_ansi_codes(broken_en: Report, color: bool | None) -> None:
    assert "\x1b" not in render_text(broken_en, width=100, color=color)


def test_color_output_has_ansi_codes_and_the_same_text(broken_en: Report) -> None:
    colored = render_text(broken_en, width=100, color=True)
    assert "\x1b[1;31m" in colored  # broken: bold red
    plain = re.sub(r"\x1b\[[0-9;]*m", "", colored)
    assert plain == render_text(broken_en, width=100, color=False)


def test_color_output_styles_a_healthy_verdict_green(healthy_en: Report) -> None:
    first = render_text(healthy_en, width=100, color=True).splitlines()[0]
    assert first.startswith("\x1b[1;32m")


def test_missing_labels_fall_back_to_their_keys(broken_en: Report) -> None:
    broken_en.labels = {}
    out = render_text(broken_en, width=100)
    assert "root_cause" in out
    assert "other_findings" in out
    assert "col.reason" in out


def test_the_fixtures_define_every_label_key_in_both_languages(
    broken_en: Report, broken_zh: Report
) -> None:
    assert set(broken_en.labels) == set(LABEL_KEYS)
    assert set(broken_zh.labels) == set(LABEL_KEYS)
    assert len(LABEL_KEYS) == len(set(LABEL_KEYS))


def test_output_has_no_trailing_blanks_and_one_final_newline(broken_zh: Report) -> None:
    out = render_text(broken_zh, width=100)
    assert out.endswith("\n")
    assert not out.endswith("\n\n")
    assert all(line == line.rstrip() for line in out.splitlines())


def test_text_fits_the_width_except_commands(broken_zh: Report) -> None:
    out = render_text(broken_zh, width=60)
    commands = {s.command for f in broken_zh.findings for s in f.fix + f.verify}
    for line in out.splitlines():
        assert cell_len(line) <= 60 or line.strip() in commands, line


def test_importing_the_renderers_does_not_import_rich() -> None:
    code = (
        "import sys, netdoctor.report.render_text, netdoctor.report.render_markdown, "
        "netdoctor.report.render_json; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'wcwidth')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("width", [1, 8, 20, 40])
@pytest.mark.parametrize("name", ["broken-zh", "inconclusive-en", "hostile"])
def test_any_width_renders_without_error(
    name: str, width: int, report_named: Callable[[str], Report]
) -> None:
    out = render_text(report_named(name), width=width, color=True)
    assert out.endswith("\n")


def test_a_broken_report_without_findings_still_renders(broken_en: Report) -> None:
    broken_en.findings = []
    out = render_text(broken_en, width=200)
    assert out.splitlines()[0] == broken_en.summary
    assert broken_en.labels["root_cause"] not in out
