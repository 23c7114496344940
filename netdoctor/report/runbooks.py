"""Runbooks in words: a walked runbook for the report, and the ``netdoctor runbooks`` outputs.

Report layer: the only place where runbook results become sentences (through the catalog).
``run_row`` turns a :class:`~netdoctor.runbooks.execute.RunbookRun` into the report's
``runbook`` section; ``render_*`` print ``list``, ``show``, ``match`` and ``lint`` as text
(rich) or JSON. Strings that come from a runbook file or the user are cleaned before they are
printed on a terminal.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from netdoctor.catalog import Catalog, Lang, load_catalog
from netdoctor.report.model import RunbookRunRow, RunbookStepRow
from netdoctor.report.textutil import clean_line
from netdoctor.runbooks.execute import RunbookRun
from netdoctor.runbooks.lint import Issue
from netdoctor.runbooks.model import Runbook
from netdoctor.runbooks.router import Calibration, Routing

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "lint_json",
    "match_json",
    "render_lint",
    "render_list",
    "render_match",
    "render_show",
    "run_row",
]


def _t(cat: Catalog, key: str, lang: Lang, **params: str) -> str:
    return cat.text(key, lang, params)


def run_row(
    run: RunbookRun, lang: Lang, *, routing: Routing | None = None, catalog: Catalog | None = None
) -> RunbookRunRow:
    cat = catalog or load_catalog()
    book = run.runbook
    steps = []
    for r in run.steps:
        steps.append(
            RunbookStepRow(
                id=r.step.id,
                title=r.step.title[lang],
                status=r.status,
                checks=list(r.step.checks),
                reasons=[cat.render(m, lang) for m in r.reasons],
                findings=[f"{f.code} {cat.title(f.finding, lang)}" for f in r.findings],
                command=r.command,
                branch=r.branch,
                next=r.target,
            )
        )
    text = book.conclusions.get(run.conclusion, {}).get(lang, run.conclusion)
    summary = _t(
        cat,
        f"runbooks.outcome.{run.outcome}",
        lang,
        conclusion=text,
        steps=", ".join(run.unverified),
    )
    match = None
    if routing is not None:
        match = next((m for m in routing.matches if m.runbook.id == book.id), None)
    return RunbookRunRow(
        id=book.id,
        title=book.title[lang],
        category=book.category,
        confidence=match.confidence if match else None,
        matched_terms=list(match.matched) if match else [],
        steps=steps,
        conclusion=run.conclusion,
        conclusion_text=text,
        outcome=run.outcome,
        summary=summary,
        root_causes=[f.finding.id for f in run.findings],
        unverified=list(run.unverified),
    )


def _console(width: int | None, color: bool) -> tuple[Console, io.StringIO]:
    from rich.console import Console

    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width or 100,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        emoji=False,
        markup=False,
    )
    return console, buf


def _done(buf: io.StringIO) -> str:
    """The text without the blanks rich pads table rows with."""
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())


def render_list(
    books: Sequence[Runbook], lang: Lang, fmt: str, *, width: int | None = None, color: bool = False
) -> str:
    if fmt == "json":
        doc = [
            {
                "id": b.id,
                "title": b.title[lang],
                "category": b.category,
                "cni": list(b.cni) or ["any"],
                "priority": b.priority,
                "path": b.path,
            }
            for b in books
        ]
        return msgspec.json.format(msgspec.json.encode({"runbooks": doc}), indent=2).decode() + "\n"
    from rich.table import Table

    cat = load_catalog()
    console, buf = _console(width, color)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for key in ("id", "category", "cni", "title"):
        table.add_column(_t(cat, f"runbooks.ui.col.{key}", lang), overflow="fold")
    for b in books:
        table.add_row(b.id, b.category, ",".join(b.cni) or "any", clean_line(b.title[lang]))
    console.print(table)
    return _done(buf)


def render_show(book: Runbook, lang: Lang, *, width: int | None = None, color: bool = False) -> str:
    from rich.text import Text

    cat = load_catalog()
    console, buf = _console(width, color)
    console.print(
        Text(
            _t(cat, "runbooks.ui.runbook", lang, id=book.id, title=clean_line(book.title[lang])),
            style="bold",
        )
    )
    console.print(f"{book.category} · cni {','.join(book.cni) or 'any'} · priority {book.priority}")
    console.print()
    console.print(Text(_t(cat, "runbooks.ui.steps", lang), style="bold underline"))
    for n, s in enumerate(book.steps, 1):
        console.print(Text(f"{n}. [{s.id}] {clean_line(s.title[lang])}", style="bold"))
        if s.checks:
            console.print(f"   {_t(cat, 'runbooks.ui.checks', lang)}: {', '.join(s.checks)}")
        for line in s.command.splitlines():
            console.print(Text("   " + clean_line(line), style="cyan"), soft_wrap=True)
        for name, br in (("pass", s.on_pass), ("fail", s.on_fail)):
            target = br.next or f"=> {br.conclude}"
            console.print(f"   {_t(cat, f'runbooks.ui.{name}', lang)} → {target}")
    console.print()
    console.print(Text(_t(cat, "runbooks.ui.conclusions", lang), style="bold underline"))
    for cid, texts in book.conclusions.items():
        console.print(f"- {cid}: {clean_line(texts[lang])}")
    console.print()
    for line in book.body.splitlines():
        console.print(clean_line(line), soft_wrap=True)
    return _done(buf)


def match_json(routing: Routing, cal: Calibration | None = None) -> dict[str, Any]:
    """The contract of ``runbooks match -o json``: matches best first, and whether it abstained."""
    doc: dict[str, Any] = {
        "matches": [
            {
                "id": m.runbook.id,
                "category": m.runbook.category,
                "score": m.score,
                "confidence": m.confidence,
                "matchedTerms": list(m.matched),
                "negatedTerms": list(m.negated),
                "excludedTerms": list(m.excluded),
                "entityTerms": list(m.entity),
            }
            for m in routing.matches
        ],
        "abstained": routing.abstained,
    }
    if routing.abstained:
        doc["reason"] = routing.reason
        doc["ask"] = list(routing.ask)
    doc["entities"] = routing.entities.as_dict()
    if cal is not None:
        doc["threshold"] = cal.threshold
    return doc


def render_match(
    routing: Routing,
    lang: Lang,
    cal: Calibration,
    *,
    width: int | None = None,
    color: bool = False,
) -> str:
    from rich.table import Table
    from rich.text import Text

    cat = load_catalog()
    console, buf = _console(width, color)
    shown = routing.matches[:3] if routing.abstained else routing.matches[:5]
    if routing.abstained:
        if routing.reason == "no_match":
            console.print(Text(_t(cat, "runbooks.abstain.no_match", lang), style="yellow"))
        else:
            best = f"{routing.matches[0].confidence:.2f}"
            console.print(
                Text(
                    _t(
                        cat,
                        "runbooks.abstain.low_confidence",
                        lang,
                        confidence=best,
                        threshold=f"{cal.threshold:.2f}",
                    ),
                    style="yellow",
                )
            )
        for key in routing.ask:
            console.print(Text("? " + _t(cat, f"runbooks.ask.{key}", lang), style="bold"))
    if shown:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for key in ("id", "score", "confidence", "matched", "negated"):
            table.add_column(_t(cat, f"runbooks.ui.col.{key}", lang), overflow="fold")
        for i, m in enumerate(shown):
            style = "bold green" if i == 0 and not routing.abstained else ""
            table.add_row(
                Text(m.runbook.id, style=style),
                f"{m.score:g}",
                f"{m.confidence:.2f}",
                clean_line(", ".join([*m.matched, *m.entity])),
                clean_line(", ".join([*m.negated, *(f"-{x}" for x in m.excluded)])),
            )
        console.print(table)
    ent = routing.entities.as_dict()
    if ent:
        pairs = "; ".join(
            f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in ent.items()
        )
        console.print(f"{_t(cat, 'runbooks.ui.entities', lang)}: {clean_line(pairs)}")
    return _done(buf)


def _issue_text(cat: Catalog, i: Issue, lang: Lang) -> str:
    params = dict(i.params)
    if i.detail_key:
        params["problem"] = cat.text(i.detail_key, lang, i.detail_params)
    return cat.text(i.key, lang, params)


def lint_json(issues: Sequence[Issue], lang: Lang, count: int) -> dict[str, Any]:
    cat = load_catalog()
    return {
        "runbooks": count,
        "errors": sum(i.level == "error" for i in issues),
        "warnings": sum(i.level == "warning" for i in issues),
        "issues": [
            {
                "level": i.level,
                "rule": i.rule,
                "path": i.path,
                "runbook": i.runbook,
                "message": _issue_text(cat, i, lang),
                "params": i.params,
            }
            for i in issues
        ],
    }


def render_lint(
    issues: Sequence[Issue],
    lang: Lang,
    count: int,
    *,
    width: int | None = None,
    color: bool = False,
) -> str:
    from rich.text import Text

    cat = load_catalog()
    console, buf = _console(width, color)
    for i in issues:
        style = "bold red" if i.level == "error" else "yellow"
        where = f"{i.path}" + (f" [{i.runbook}]" if i.runbook else "")
        console.print(
            Text.assemble(
                (f"{i.level}", style),
                f" {i.rule} ",
                (where, "dim"),
                ": ",
                clean_line(_issue_text(cat, i, lang)),
            ),
            soft_wrap=True,
        )
    errors = sum(i.level == "error" for i in issues)
    warnings = sum(i.level == "warning" for i in issues)
    key = "runbooks.ui.lint_failed" if errors else "runbooks.ui.lint_clean"
    console.print(
        Text(
            _t(cat, key, lang, count=str(count), errors=str(errors), warnings=str(warnings)),
            style="bold red" if errors else "bold green",
        )
    )
    return _done(buf)


def no_match_note(routing: Routing, lang: Lang, *, catalog: Catalog | None = None) -> str:
    """What ``diagnose`` says (on stderr) when no runbook fits the symptom: the closest ones,
    and the questions that would tell them apart."""
    cat = catalog or load_catalog()
    closest = ", ".join(f"{m.runbook.id} ({m.confidence:.2f})" for m in routing.matches[:3])
    lines = [cat.text("runbooks.ui.no_symptom_match", lang, {"candidates": closest or "-"})]
    lines += ["? " + cat.text(f"runbooks.ask.{key}", lang) for key in routing.ask]
    return "".join(line + "\n" for line in lines)
