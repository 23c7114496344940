"""``netdoctor collect``: read the live cluster and write it as a bundle, secrets redacted.

CLI layer.
"""

from __future__ import annotations

import sys
from pathlib import Path
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
    NodeFactsFlag,
    NodeTimeoutFlag,
    PageSizeFlag,
    ProbeFlag,
    ProbeSizeFlag,
    RequestTimeoutFlag,
    lang_of,
)
from netdoctor.errors import UsageError


@app.command()
def collect(
    output: Annotated[
        str, typer.Option("--output", "-o", help="Where to write: FILE.tar.gz (or a new folder).")
    ],
    kubeconfig: KubeconfigFlag = None,
    context: ContextFlag = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Record the question: source NS/POD.")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Record the question: destination.")
    ] = None,
    port: Annotated[str | None, typer.Option("--port", help="N or N/tcp|udp|sctp.")] = None,
    symptom: Annotated[str | None, typer.Option("--symptom", help="What you saw.")] = None,
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
    lang: LangFlag = None,
) -> None:
    """Read the live cluster and write it as a bundle, secrets redacted.

    Only get/list calls, unless --node-facts / --all-nodes (which create pods)."""
    from netdoctor.catalog import load_catalog
    from netdoctor.model.snapshot import Question, parse_port
    from netdoctor.sources.live.collect import write_bundle

    if Path(output).exists():
        raise UsageError(
            key="live.error.out_exists",
            params={"path": output},
        )
    p, proto = parse_port(port) if port else (None, "TCP")
    question = Question(from_=from_, to=to, port=p, protocol=proto, symptom=symptom)
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
    summary = write_bundle(read, output, question)
    cat, lg = load_catalog(), lang_of(lang)
    for nc in summary.not_collected:
        reason = cat.text(f"input.{nc['reason']}", lg, {**nc, "detail": nc["reason"]})
        sys.stderr.write(
            cat.text("live.collect.skipped_kind", lg, {"file": nc["file"], "reason": reason}) + "\n"
        )
    params = {
        "path": summary.path,
        "objects": str(summary.objects),
        "kinds": str(summary.kinds),
        "seconds": f"{summary.seconds:.1f}",
        "calls": str(summary.calls),
        "redacted": str(len(summary.redactions)),
    }
    sys.stderr.write(cat.text("live.collect.done", lg, params) + "\n")
