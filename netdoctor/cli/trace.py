"""``netdoctor trace``: follow one packet and its reply hop by hop over a bundle's node facts.

CLI layer.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from netdoctor.cli.app import app
from netdoctor.cli.options import (
    BundleFlag,
    LangFlag,
    NoColorFlag,
    Output,
    OutputFlag,
    WidthFlag,
    lang_of,
    packet_size,
    use_color,
)


@app.command(name="trace")
def trace_cmd(
    bundle: BundleFlag,
    from_: Annotated[str, typer.Option("--from", help="Source pod: NS/POD.")],
    to: Annotated[str, typer.Option("--to", help="Destination: NS/POD or an IP.")],
    port: Annotated[str | None, typer.Option("--port", help="N or N/tcp|udp|sctp.")] = None,
    size: Annotated[
        int, typer.Option("--size", help="IP packet size in bytes (MTU), default a default ping.")
    ] = 84,
    output: OutputFlag = Output.text,
    lang: LangFlag = None,
    width: WidthFlag = None,
    no_color: NoColorFlag = False,
) -> None:
    """Follow one packet and its reply hop by hop over the bundle's node facts."""
    from netdoctor.engine import diagnose as run_diagnosis
    from netdoctor.model.snapshot import Question, parse_port
    from netdoctor.report import render
    from netdoctor.report.build import build_report
    from netdoctor.sources.bundle import BundleSource

    packet_size("--size", size, 1)
    snap = BundleSource(bundle).load()
    p, proto = parse_port(port) if port else (None, "TCP")
    question = Question(from_=from_, to=to, port=p, protocol=proto)
    # The trace alone: no check runs, so the verdict is the path's.
    diagnosis = run_diagnosis(snap, question, size=size, with_checks=False)
    report = build_report(diagnosis, lang_of(lang))
    color = use_color(no_color)
    sys.stdout.write(render(report, output.value, width=width, color=color))
    sys.stdout.flush()
    raise typer.Exit(diagnosis.verdict.exit_status)
