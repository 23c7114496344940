"""``netdoctor explain``, ``checks`` and ``version``: what netdoctor knows, without a cluster.

CLI layer.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from netdoctor import __version__
from netdoctor.cli.app import app
from netdoctor.cli.options import LangFlag, Output, lang_of
from netdoctor.errors import UsageError


@app.command()
def explain(
    id_or_code: Annotated[str, typer.Argument(help="A root-cause id or NET code, e.g. NET-301.")],
    lang: LangFlag = None,
) -> None:
    """Print a root cause's page: what it checks, why it breaks traffic, evidence, fix."""
    from netdoctor.catalog import load_catalog
    from netdoctor.report.explain import render_explain

    entry = load_catalog().entry(id_or_code)
    if entry is None:
        raise UsageError(
            key="error.no_root_cause",
            params={"name": id_or_code},
        )
    sys.stdout.write(render_explain(entry, lang_of(lang)))


@app.command(name="checks")
def list_checks(
    lang: LangFlag = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="text or json.")] = Output.text,
) -> None:
    """List every check: code, id, severity, what it looks for, the data it needs."""
    from netdoctor.report.explain import render_checks

    sys.stdout.write(render_checks(lang_of(lang), output.value))


@app.command()
def version() -> None:
    """Print netdoctor's version."""
    sys.stdout.write(f"netdoctor {__version__}\n")
