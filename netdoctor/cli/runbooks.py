"""``netdoctor runbooks list|show|match|lint``: the troubleshooting runbooks.

CLI layer.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from netdoctor.cli.app import runbooks_app
from netdoctor.cli.options import (
    DirFlag,
    LangFlag,
    NoColorFlag,
    Output,
    WidthFlag,
    lang_of,
    use_color,
)
from netdoctor.errors import UsageError

if TYPE_CHECKING:
    from netdoctor.runbooks.model import Runbook


def _library(folder: str | None) -> list[Runbook]:
    from netdoctor.session import runbook_library

    return runbook_library(folder)


@runbooks_app.command(name="list")
def runbooks_list(
    lang: LangFlag = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="text or json.")] = Output.text,
    folder: DirFlag = None,
    width: WidthFlag = None,
    no_color: NoColorFlag = False,
) -> None:
    """List the runbooks: id, category, CNI, title."""
    from netdoctor.report.runbooks import render_list

    books = sorted(_library(folder), key=lambda b: (b.category, b.id))
    sys.stdout.write(
        render_list(books, lang_of(lang), output.value, width=width, color=use_color(no_color))
    )


@runbooks_app.command(name="show")
def runbooks_show(
    runbook_id: Annotated[str, typer.Argument(help="A runbook id (see 'runbooks list').")],
    lang: LangFlag = None,
    folder: DirFlag = None,
    width: WidthFlag = None,
    no_color: NoColorFlag = False,
) -> None:
    """Print a runbook: its steps, checks, manual commands, branches and body."""
    from netdoctor.report.runbooks import render_show

    book = next((b for b in _library(folder) if b.id == runbook_id), None)
    if book is None:
        raise UsageError(
            key="runbooks.error.no_runbook",
            params={"id": runbook_id},
        )
    sys.stdout.write(render_show(book, lang_of(lang), width=width, color=use_color(no_color)))


@runbooks_app.command(name="match")
def runbooks_match(
    text: Annotated[str, typer.Argument(help="The symptom, in your words (zh or en).")],
    lang: LangFlag = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="text or json.")] = Output.text,
    cni: Annotated[
        list[str] | None,
        typer.Option("--cni", help="The cluster's CNI (calico, flannel, kube-ovn, cilium)."),
    ] = None,
    folder: DirFlag = None,
    width: WidthFlag = None,
    no_color: NoColorFlag = False,
) -> None:
    """Score the runbooks against a symptom and show why (exit 3 when it abstains)."""
    import json

    from netdoctor.report.runbooks import match_json, render_match
    from netdoctor.runbooks.router import load_calibration, route

    cal = load_calibration()
    routing = route(text, _library(folder), cni=cni or (), calibration=cal)
    if output is Output.json:
        doc = match_json(routing, cal)
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(
            render_match(routing, lang_of(lang), cal, width=width, color=use_color(no_color))
        )
    raise typer.Exit(3 if routing.abstained else 0)


@runbooks_app.command(name="lint")
def runbooks_lint(
    folder: DirFlag = None,
    lang: LangFlag = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="text or json.")] = Output.text,
    width: WidthFlag = None,
    no_color: NoColorFlag = False,
) -> None:
    """Check runbooks (the shipped ones, or --dir): exit 1 on an error.

    Every check exists, every step and conclusion is reachable, no loop, every example routes
    to its runbook, known command mistakes; shared triggers are listed as warnings."""
    import json
    from pathlib import Path

    from netdoctor.checks._support.registry import load_checks
    from netdoctor.report.runbooks import lint_json, render_lint
    from netdoctor.runbooks.lint import lint
    from netdoctor.runbooks.loader import load_dir

    shipped, shipped_problems = load_dir()
    if folder:
        books, problems = load_dir(Path(folder))
        pool = [*shipped, *books]
    else:
        books, problems, pool = shipped, shipped_problems, shipped
    issues = lint(books, problems, known_checks=set(load_checks()), routing_pool=pool)
    count = len(books) + len(problems)
    if output is Output.json:
        doc = lint_json(issues, lang_of(lang), count)
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(
            render_lint(issues, lang_of(lang), count, width=width, color=use_color(no_color))
        )
    raise typer.Exit(1 if any(i.level == "error" for i in issues) else 0)
