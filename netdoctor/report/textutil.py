"""Text helpers shared by the renderers: make input safe to echo, measure it in terminal cells.

Report layer, below the three renderers. Every string in a report may carry bytes from the
cluster (pod names, annotations, command output), so a renderer passes each one through
:func:`clean` or :func:`clean_line` before a terminal or a ticket sees it. Widths are counted
in terminal cells, not code points, so that Chinese (two cells a character) lines up.

No rich and no wcwidth here (each costs tens of milliseconds to import): the Markdown
renderer imports this module and ``netdoctor`` must start fast. ``unicodedata`` gives the
same widths for what a report holds (CJK wide, combining marks zero).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = ["cell_len", "clean", "clean_line", "label", "md_cell", "pad", "word"]

# Escape sequences are removed whole, so that their parameters ("[2J") do not remain as text.
# CSI (ESC [ or the C1 byte 0x9b), OSC/DCS/SOS/PM/APC strings up to BEL or ST, then any other
# two-byte ESC sequence.
_ESCAPES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]?
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?
    | \x1b [ -/]* [0-~]?
    """,
    re.VERBOSE,
)
# What is left: C0 but tab and newline, DEL, C1, and the bidirectional overrides and isolates
# that can make a terminal or a web page show text in another order than it is stored.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\t\n]+")
# Markdown: characters that would end a table cell, open a code span, emphasis or a link, or
# be taken for HTML. The backslash comes first so that the escapes added are not escaped.
_MD_SPECIAL = re.compile(r"[\\`|*\[\]]")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def clean(s: str) -> str:
    """Return *s* without escape sequences and control characters; keeps tab and newline."""
    return _CONTROLS.sub("", _ESCAPES.sub("", s))


def clean_line(s: str) -> str:
    """Like :func:`clean`, and tabs and line breaks become one space: for one-line fields."""
    return _LINE_BREAKS.sub(" ", clean(s.replace("\r\n", "\n"))).strip()


def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf", "Cc"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cell_len(s: str) -> int:
    """Width of *s* in terminal cells (CJK characters count two). *s* should be clean."""
    return sum(_char_cells(ch) for ch in s)


def pad(s: str, cells: int) -> str:
    """Left-justify *s* to *cells* terminal cells; a longer string is returned as it is."""
    return s + " " * max(cells - cell_len(s), 0)


def md_cell(s: str) -> str:
    """Make *s* safe as GitHub Markdown inline text or a table cell: one line, escaped."""
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), clean_line(s))
    return "".join(_HTML.get(ch, ch) for ch in text)


def label(labels: Mapping[str, str], key: str) -> str:
    """The heading for *key* in the report's language, or the key itself when it is missing."""
    value = labels.get(key)
    return clean_line(value) if value else key


def word(labels: Mapping[str, str], kind: str, value: str) -> str:
    """An enum value (severity, status, note) in the report's language; itself when untranslated.

    JSON keeps the enum; people reading text or Markdown get ``严重`` rather than ``critical``.
    """
    return clean_line(labels.get(f"word.{kind}.{value}") or value)
