"""JSON renderer: the report struct as the contract in ``shared/docs/report-format.md``.

Report layer. Other tools, CI jobs and tickets parse this, so it is the struct encoded as it is
(field order as declared, camelCase names) with one contract rule applied: ``path`` is present
only when the question names a source and a destination, i.e. when the report has one (and
``runbook`` only when a symptom chose one). The
``labels`` (headings for the human formats) are left out: they are not data.
Strings are quoted exactly, not cleaned: JSON escapes C0 itself, and C1 and bidi controls are
written as ``\\u`` escapes so that printing the document cannot drive a terminal either.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from netdoctor.report.model import Report

__all__ = ["render_json"]

# Legal raw in JSON strings, but some terminals act on U+007F..U+009F (U+009B is CSI), and the
# bidirectional overrides reorder what is shown. Escaped, they still decode to the same text.
_RAW_CONTROLS = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def render_json(report: Report) -> str:
    """Encode *report* as pretty-printed UTF-8 JSON (2-space indent, trailing newline)."""
    doc: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(report))
    for optional in ("path", "runbook"):
        if doc.get(optional) is None:
            doc.pop(optional, None)
    doc.pop("labels", None)
    text = msgspec.json.format(msgspec.json.encode(doc), indent=2).decode("utf-8")
    return _RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text) + "\n"
