"""``netdoctor diagnose``: a bundle or the live cluster -> root cause, evidence, fix, verify.

CLI layer: parses the flags, picks the source, hands the Snapshot and the question to
``netdoctor.session.run`` and renders what it returns. It decides nothing itself.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from netdoctor.cli.app import app
from netdoctor.cli.live import NodeOpts, live_read, probe_question
from netdoctor.cli.options import (
    AllNodesFlag,
    ContextFlag,
    DeadlineFlag,
    DebugImageFlag,
    DebugNamespaceFlag,
    KubeconfigFlag,
    LangFlag,
    LiveFlag,
    NoColorFlag,
    NodeFactsFlag,
    NodeTimeoutFlag,
    OptBundleFlag,
    Output,
    OutputFlag,
    PageSizeFlag,
    ProbeFlag,
    ProbeSizeFlag,
    RequestTimeoutFlag,
    WidthFlag,
    lang_of,
    parse_size,
    use_color,
)
from netdoctor.errors import UsageError

__all__ = ["diagnose"]


@app.command()
def diagnose(
    bundle: OptBundleFlag = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Source: NS/POD or node/NAME.")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", help="Destination: NS/POD, svc/NS/NAME, node/NAME, an IP or a DNS name."
        ),
    ] = None,
    port: Annotated[str | None, typer.Option("--port", help="N or N/tcp|udp|sctp.")] = None,
    symptom: Annotated[
        str | None, typer.Option("--symptom", help="What you saw, in your words (zh or en).")
    ] = None,
    output: OutputFlag = Output.text,
    lang: LangFlag = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only this check (id or NET code); repeatable."),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", help="Do not run this check (id or NET code); repeatable."),
    ] = None,
    width: WidthFlag = None,
    no_color: NoColorFlag = False,
    max_bundle_size: Annotated[
        str,
        typer.Option("--max-bundle-size", help="Cap on what an archive may unpack to, e.g. 8G."),
    ] = "8G",
    runbooks_dir: Annotated[
        str | None,
        typer.Option(
            "--runbooks-dir", help="A folder of team runbooks to add to the shipped ones."
        ),
    ] = None,
    live: LiveFlag = False,
    kubeconfig: KubeconfigFlag = None,
    context: ContextFlag = None,
    request_timeout: RequestTimeoutFlag = 30.0,
    deadline: DeadlineFlag = 300.0,
    page_size: PageSizeFlag = 500,
    node_facts: NodeFactsFlag = False,
    all_nodes: AllNodesFlag = False,
    debug_image: DebugImageFlag = "nicolaka/netshoot",
    debug_namespace: DebugNamespaceFlag = "netdoctor",
    node_timeout: NodeTimeoutFlag = 60.0,
    probe: ProbeFlag = False,
    probe_size: ProbeSizeFlag = 1500,
) -> None:
    """Diagnose a bundle, or the live cluster: root cause, evidence, fix and how to verify it.

    With a symptom (--symptom, or question.symptom in bundle.yaml) the best-fitting runbook is
    walked step by step over the data and shown as a checklist."""
    from netdoctor.report import render
    from netdoctor.report.build import build_report
    from netdoctor.report.runbooks import no_match_note
    from netdoctor.session import merge_question, run
    from netdoctor.sources.bundle import BundleSource

    if bundle is not None and live:
        raise UsageError(key="live.error.source_twice")
    if bundle is None:
        from netdoctor.sources.live import snapshot_of

        nodes = NodeOpts(
            "all" if all_nodes else ("question" if node_facts else None),
            (from_, to),
            debug_image,
            debug_namespace,
            node_timeout,
            probe_question(probe, from_, to, port) if probe else None,
            probe_size,
        )
        read = live_read(kubeconfig, context, request_timeout, deadline, page_size, nodes)
        snap = snapshot_of(read)
    else:
        max_total = parse_size(max_bundle_size, "--max-bundle-size")
        snap = BundleSource(bundle, max_total_bytes=max_total).load()
    question = merge_question(
        snap.manifest.question, from_=from_, to=to, port=port, symptom=symptom
    )
    diagnosis = run(snap, question, only=only or (), skip=skip or (), runbooks_dir=runbooks_dir)
    lg = lang_of(lang)
    report = build_report(diagnosis, lg)
    routing = diagnosis.routing
    if routing is not None and routing.best is None and output is Output.text:
        sys.stderr.write(no_match_note(routing, lg))
    sys.stdout.write(render(report, output.value, width=width, color=use_color(no_color)))
    sys.stdout.flush()
    raise typer.Exit(diagnosis.verdict.exit_status)
