"""The Markdown renderer: a ticket that reads well and that input cannot break."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from netdoctor.report.model import Report, StepRow
from netdoctor.report.render_markdown import render_markdown

GOLDEN = ["broken-en", "broken-zh", "healthy-en", "healthy-zh", "inconclusive-en"]
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
UNESCAPED_PIPE = re.compile(r"(?<!\\)(?:\\\\)*\|")


@pytest.mark.parametrize("name", GOLDEN)
def test_markdown_matches_its_golden_file(
    name: str, report_named: Callable[[str], Report], golden: Callable[[str, str], None]
) -> None:
    golden(f"{name}.md", render_markdown(report_named(name)))


def test_markdown_opens_with_the_summary_and_the_question(broken_en: Report) -> None:
    lines = render_markdown(broken_en).splitlines()
    assert lines[0] == f"# netdoctor: {broken_en.summary}"
    assert lines[2].startswith("**Question**: default/netdebug04 → default/netdebug05 22/TCP")


def _tables(out: str) -> list[list[str]]:
    tables: list[list[str]] = []
    current: list[str] = []
    for line in [*out.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_hostile_strings_have_no_control_bytes_and_cannot_break_tables(hostile: Report) -> None:
    out = render_markdown(hostile)
    assert CONTROL.findall(out) == []
    assert "pwned" not in out
    tables = _tables(out)
    assert len(tables) == 4  # evidence, path, probes, checks
    for table in tables:
        columns = {len(UNESCAPED_PIPE.findall(row)) for row in table}
        assert len(columns) == 1, table
    assert r"evil\|&lt;script&gt;" in out
    assert "<script>" not in out.replace("'evil|<script>", "")  # only inside the sh fence


def test_html_and_backticks_in_text_are_escaped(hostile: Report) -> None:
    out = render_markdown(hostile)
    heading = out.splitlines()[0]
    assert heading == r"# netdoctor: BROKEN: evil\|&lt;script&gt;alert(1)&lt;/script&gt;\`x\`"
    assert "second line &amp; &lt;b&gt;" in out


def test_commands_are_whole_in_sh_fences_and_not_escaped(broken_en: Report) -> None:
    out = render_markdown(broken_en)
    for step in broken_en.findings[0].fix + broken_en.findings[0].verify:
        assert f"   ```sh\n   {step.command}\n   ```" in out


def test_a_command_with_backticks_gets_a_longer_fence(broken_en: Report) -> None:
    command = "kubectl exec netdebug04 -- sh -c 'echo ```; ip route'"
    broken_en.findings[0].fix = [StepRow(description="Look:", command=command)]
    out = render_markdown(broken_en)
    assert f"   ````sh\n   {command}\n   ````" in out


def test_the_root_cause_comes_before_other_findings(broken_zh: Report) -> None:
    out = render_markdown(broken_zh)
    root = out.index(f"## {broken_zh.labels['root_cause']}")
    other = out.index(f"## {broken_zh.labels['other_findings']}")
    assert root < out.index(f"### [NET-301] {broken_zh.findings[0].title}") < other
    assert other < out.index(f"[NET-202]** {broken_zh.findings[1].title}")


def test_skipped_checks_show_their_reason(broken_zh: Report) -> None:
    row = next(line for line in render_markdown(broken_zh).splitlines() if "NET-101" in line)
    assert "skipped" in row
    assert "缺少 nodes/l20-gpu-05/sysctl.txt" in row


def test_a_healthy_report_has_no_root_cause_section(healthy_en: Report) -> None:
    out = render_markdown(healthy_en)
    assert "## Root cause" not in out
    assert "## Findings" in out
    assert "## Path" not in out


def test_an_inconclusive_report_lists_its_reasons(inconclusive_en: Report) -> None:
    out = render_markdown(inconclusive_en)
    section = out.split(f"## {inconclusive_en.labels['reasons']}\n\n", 1)[1]
    assert section.startswith("".join(f"- {r}\n" for r in inconclusive_en.reasons))


def test_markdown_ends_with_exactly_one_newline(broken_en: Report) -> None:
    out = render_markdown(broken_en)
    assert out.endswith("\n")
    assert not out.endswith("\n\n")
