"""``netdoctor reach``: the allowed/denied matrix under NetworkPolicies.

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
    use_color,
)
from netdoctor.errors import ReachUnknownError, UsageError


@app.command(name="reach")
def reach_cmd(
    bundle: BundleFlag,
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="Only pods in this namespace; repeatable."),
    ] = None,
    selector: Annotated[
        list[str] | None,
        typer.Option(
            "--selector", "-l", help="Only pods matching this label selector (kubectl -l syntax)."
        ),
    ] = None,
    port: Annotated[
        list[str] | None,
        typer.Option(
            "--port", help="N or N/tcp|udp|sctp; repeatable (default: a flow without a port)."
        ),
    ] = None,
    output: OutputFlag = Output.text,
    lang: LangFlag = None,
    width: WidthFlag = None,
    no_color: NoColorFlag = False,
) -> None:
    """The allowed/denied matrix under NetworkPolicies, by label-equivalence classes."""
    from netdoctor.model.snapshot import parse_port
    from netdoctor.policy import NamespacesUnknown, parse_selector, reach
    from netdoctor.report.reach import iter_reach_json, render_reach_text
    from netdoctor.sources.bundle import BundleSource

    if output is Output.markdown:
        raise UsageError(
            key="error.reach_output",
            params={},
        )
    selectors = []
    for text in selector or ():
        try:
            selectors.append(parse_selector(text))
        except ValueError as e:
            raise UsageError(
                key="error.reach_selector",
                params={"value": text, "problem": str(e)},
            ) from None
    ports = [parse_port(p) for p in port or ()] or [(None, "ICMP")]
    snap = BundleSource(bundle).load()
    for key in ("k8s.pods", "k8s.networkpolicies"):
        if not snap.has(key):  # without either, every answer would be a guess
            file = snap.source(key)
            raise ReachUnknownError(key="error.reach_missing", params={"path": file})
    try:
        result = reach(snap, namespaces=namespace or (), selectors=selectors, ports=ports)
    except NamespacesUnknown as e:
        file = snap.source("k8s.namespaces")
        raise ReachUnknownError(
            key="error.reach_namespaces",
            params={"policy": e.policy, "path": file},
        ) from None
    if output is Output.json:
        write = sys.stdout.write
        for chunk in iter_reach_json(result):
            write(chunk)
    else:
        color = use_color(no_color)
        sys.stdout.write(render_reach_text(result, lang_of(lang), width=width, color=color))
    sys.stdout.flush()
