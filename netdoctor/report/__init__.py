"""Report layer: build the localized report model from a Diagnosis, and render it."""

from __future__ import annotations

from typing import Literal

from netdoctor.report.model import Report

__all__ = ["FORMATS", "Format", "Report", "render"]

Format = Literal["text", "json", "markdown"]
FORMATS: tuple[Format, ...] = ("text", "json", "markdown")


def render(
    report: Report, fmt: Format, *, width: int | None = None, color: bool | None = None
) -> str:
    if fmt == "json":
        from netdoctor.report.render_json import render_json

        return render_json(report)
    if fmt == "markdown":
        from netdoctor.report.render_markdown import render_markdown

        return render_markdown(report)
    from netdoctor.report.render_text import render_text

    return render_text(report, width=width, color=color)
