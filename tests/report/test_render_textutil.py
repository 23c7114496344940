"""Helpers the renderers share: cleaning input, escaping Markdown, measuring cells."""

from __future__ import annotations

import pytest

from netdoctor.report.textutil import cell_len, clean, clean_line, label, md_cell, pad


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pod\x1b[2Jname", "podname"),
        ("a\x1b[38;5;196mred\x1b[0m", "ared"),
        ("t\x1b]0;title\x07x", "tx"),
        ("t\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "tlink"),
        ("c1\x9b2Jcsi", "c1csi"),
        ("nul\x00del\x7fnel\x85", "nuldelnel"),
        ("bidi\u202egnp.exe", "bidignp.exe"),
        ("keeps\ttab\nand newline", "keeps\ttab\nand newline"),
        ("lone escape\x1b", "lone escape"),
        ("中文 stays", "中文 stays"),
    ],
)
def test_clean_strips_escape_sequences_and_control_characters(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_clean_line_turns_breaks_into_single_spaces() -> None:
    assert clean_line("  one\r\ntwo\n\n\tthree\r ") == "one two three"


def test_md_cell_escapes_what_markdown_and_html_would_act_on() -> None:
    assert md_cell("a|b") == r"a\|b"
    assert md_cell("`x`") == r"\`x\`"
    assert md_cell("<b>&") == "&lt;b&gt;&amp;"
    assert md_cell("[x](http://e)") == r"\[x\](http://e)"
    assert md_cell("a\\|b") == r"a\\\|b"
    assert md_cell("**bold**") == r"\*\*bold\*\*"
    assert md_cell("x\ny\x1b[1m") == "x y"


def test_cell_len_counts_chinese_as_two_cells() -> None:
    assert cell_len("代码") == 4
    assert cell_len("（ibs845f0），") == 14
    assert cell_len("e\u0301") == 1


def test_pad_fills_to_terminal_cells_and_never_cuts() -> None:
    assert pad("状态", 6) == "状态  "
    assert pad("ok", 6) == "ok    "
    assert pad("too long", 3) == "too long"


def test_label_falls_back_to_the_key_and_cleans_the_text() -> None:
    assert label({"fix": "修复"}, "fix") == "修复"
    assert label({}, "fix") == "fix"
    assert label({"fix": ""}, "fix") == "fix"
    assert label({"fix": "Fix\x1b[2J"}, "fix") == "Fix"
