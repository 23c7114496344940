"""Reading the live cluster for ``diagnose`` and ``collect``: the API objects, then, only when
asked, node facts and probes (these create pods, and clean up after themselves).

CLI layer: turns the flags into the live source's calls; the reading itself is
``netdoctor.sources.live``.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netdoctor.cli.options import lang_of, packet_size, positive
from netdoctor.errors import UsageError

if TYPE_CHECKING:
    from netdoctor.model.snapshot import Question
    from netdoctor.sources.live import LiveRead

__all__ = ["NodeOpts", "live_read", "probe_question"]


def live_read(
    kubeconfig: str | None,
    context: str | None,
    request_timeout: float,
    deadline: float,
    page_size: int,
    nodes: NodeOpts | None = None,
) -> LiveRead:
    """Read the live cluster's API objects (get/list only), then node facts when asked."""
    from netdoctor.sources.live import LiveSource, connect

    positive("--request-timeout", request_timeout, f"{request_timeout:g}")
    positive("--deadline", deadline, f"{deadline:g}")
    positive("--page-size", page_size, str(page_size))
    client, _namespace, label = connect(kubeconfig, context)
    # A SIGTERM (a closed terminal, `timeout`, a CI job cancelled) cleans up like Ctrl-C.
    old_term = signal.signal(signal.SIGTERM, interrupt)
    try:
        source = LiveSource(
            client, label=label, page_size=page_size, timeout=request_timeout, deadline=deadline
        )
        read = source.fetch()
        if nodes is not None and nodes.mode is not None:
            _node_facts(client, read, nodes, request_timeout)
        if nodes is not None and nodes.probe is not None:
            _probes(client, read, nodes, request_timeout)
    finally:
        signal.signal(signal.SIGTERM, old_term)
        client.close()
    return read


def interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass
class NodeOpts:
    mode: str | None  # "question" | "all" | None
    ends: tuple[str | None, str | None]
    image: str
    namespace: str
    timeout: float
    probe: Question | None = None
    probe_size: int = 1500


def probe_question(probe: bool, from_: str | None, to: str | None, port: str | None) -> Question:
    from netdoctor.model.snapshot import Question, parse_port

    if not from_ or not to:
        raise UsageError(key="live.error.probe_needs_question")
    p, proto = parse_port(port) if port else (None, "TCP")
    return Question(from_=from_, to=to, port=p, protocol=proto)


def _probes(client: object, read: LiveRead, opts: NodeOpts, request_timeout: float) -> None:
    """Run the probes of ``opts.probe``; records and notes land in ``read``."""
    from netdoctor.sources.live import snapshot_of
    from netdoctor.sources.live.probes import ProbeRunner

    assert opts.probe is not None
    packet_size("--probe-size", opts.probe_size, 68)
    snap = snapshot_of(read, release=False)
    runner = ProbeRunner(
        client,
        image=opts.image,
        namespace=opts.namespace,
        timeout=opts.timeout,
        request_timeout=request_timeout,
    )
    records, notes = runner.run(snap, opts.probe, opts.probe_size)
    read.probe_files = records
    read.probe_notes.extend(notes)


def _node_facts(client: object, read: LiveRead, opts: NodeOpts, request_timeout: float) -> None:
    """Run the node commands on the nodes that matter; results and notes land in ``read``."""
    from netdoctor.catalog import load_catalog
    from netdoctor.sources.live import snapshot_of
    from netdoctor.sources.live.nodes import NodeCollector, NodeResult, question_nodes

    snap = snapshot_of(read, release=False)
    if opts.mode == "all":
        names = sorted(snap.node_by_name)
    else:
        names = question_nodes(snap, opts.ends)
        if not names:
            raise UsageError(
                key="live.error.no_question_nodes",
            )
    cat, lang, done = load_catalog(), lang_of(None), [0]
    tty = sys.stderr.isatty()

    def progress(r: NodeResult) -> None:
        done[0] += 1
        params = {
            "done": str(done[0]),
            "total": str(len(names)),
            "node": r.node,
            "via": r.via or "-",
            "files": str(len(r.files)),
        }
        line = cat.text("live.nodes.progress", lang, params)
        sys.stderr.write("\r\x1b[K" + line if tty else line + "\n")
        if tty and done[0] == len(names):
            sys.stderr.write("\n")
        sys.stderr.flush()

    collector = NodeCollector(
        client,
        namespace=opts.namespace,
        image=opts.image,
        timeout=opts.timeout,
        request_timeout=request_timeout,
        progress=progress,
    )
    results = collector.collect(snap, names)
    for node, r in results.items():
        read.node_files[node] = r.files
        read.node_notes.extend(r.notes)
