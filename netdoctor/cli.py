"""The command line: ``netdoctor`` (and ``kubectl netdoctor``, the same program as a plugin).

CLI layer: parses flags, picks the source, calls the engine, renders the report, and maps the
verdict to the exit status (0 healthy, 1 broken, 2 usage or input error, 3 inconclusive).
Every error reaches the user as one line; no traceback, ever (NETDOCTOR_DEBUG=1 shows one).
Imports are lazy so that a single call starts fast.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from netdoctor import __version__
from netdoctor.errors import NetdoctorError, UsageError
from netdoctor.lab.cli import app as lab_app

if TYPE_CHECKING:
    from netdoctor.catalog import Lang
    from netdoctor.engine import Diagnosis
    from netdoctor.model.snapshot import Question
    from netdoctor.report.model import Report
    from netdoctor.runbooks.model import Runbook
    from netdoctor.sources.live import LiveRead

__all__ = ["app", "main"]

app = typer.Typer(
    name="netdoctor",
    help=(
        "Find out why pods cannot reach each other, a Service or DNS, and how to fix it.\n\n"
        "找出 Pod 之间、Pod 到 Service 或 DNS 不通的原因，并给出修复方法。"
    ),
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# The lab's module imports only typer and two enums; its commands import the rest when run.
app.add_typer(lab_app, name="lab")

runbooks_app = typer.Typer(
    help=(
        "Troubleshooting runbooks: list, show, match a symptom, lint a folder.\n\n"
        "处置手册：列出、查看、按症状匹配、检查手册目录。"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(runbooks_app, name="runbooks")


class Output(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class LangOpt(StrEnum):
    en = "en"
    zh = "zh"


LangFlag = Annotated[
    LangOpt | None,
    typer.Option("--lang", help="Language of the report: en or zh (default: from LANG/LC_ALL)."),
]


BundleFlag = Annotated[
    str,
    typer.Option(
        "--bundle", "-b", help="A bundle folder or .tar.gz (README: building a bundle by hand)."
    ),
]
OptBundleFlag = Annotated[
    str | None,
    typer.Option(
        "--bundle",
        "-b",
        help="A bundle folder or .tar.gz (README: building a bundle by hand). "
        "Without it, the live cluster of your kubeconfig is read.",
    ),
]
LiveFlag = Annotated[
    bool,
    typer.Option(
        "--live", help="Read the running cluster (the default when --bundle is not given)."
    ),
]
KubeconfigFlag = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, "
        "else the in-cluster service account).",
    ),
]
ContextFlag = Annotated[str | None, typer.Option("--context", help="Kubeconfig context to use.")]
RequestTimeoutFlag = Annotated[
    float,
    typer.Option("--request-timeout", help="Seconds to wait for each API call."),
]
DeadlineFlag = Annotated[
    float,
    typer.Option("--deadline", help="Seconds the whole API read may take; then use what was read."),
]
PageSizeFlag = Annotated[
    int, typer.Option("--page-size", help="Objects per list call (limit/continue pagination).")
]
NodeFactsFlag = Annotated[
    bool,
    typer.Option(
        "--node-facts",
        help="Also run the node commands (ip, sysctl, iptables-save) on the question's nodes, "
        "by exec into the CNI agent pod or a short-lived debug pod (creates pods).",
    ),
]
AllNodesFlag = Annotated[
    bool, typer.Option("--all-nodes", help="Like --node-facts, on every node.")
]
DebugImageFlag = Annotated[
    str,
    typer.Option("--debug-image", help="Image of the debug pods (a private mirror works)."),
]
DebugNamespaceFlag = Annotated[
    str, typer.Option("--debug-namespace", help="Namespace the debug pods are created in.")
]
ProbeFlag = Annotated[
    bool,
    typer.Option(
        "--probe",
        help="Measure: ping, TCP connect, DNS lookup and path MTU from the --from pod, through an "
        "ephemeral debug container (else a probe pod on its node).",
    ),
]
ProbeSizeFlag = Annotated[
    int, typer.Option("--probe-size", help="IP packet size of the path MTU probe (ping -M do).")
]
NodeTimeoutFlag = Annotated[
    float, typer.Option("--node-timeout", help="Seconds allowed per node for its commands.")
]
OutputFlag = Annotated[Output, typer.Option("--output", "-o", help="text, json or markdown.")]
WidthFlag = Annotated[int | None, typer.Option("--width", help="Terminal width for text output.")]
NoColorFlag = Annotated[bool, typer.Option("--no-color", help="Plain text without colours.")]


def _lang(value: LangOpt | None) -> Lang:
    from netdoctor.catalog import default_lang

    if value is None:
        return default_lang()
    return "zh" if value is LangOpt.zh else "en"


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
    from netdoctor.engine import diagnose as run_diagnosis
    from netdoctor.model.snapshot import Question, parse_port
    from netdoctor.report import render
    from netdoctor.report.build import build_report
    from netdoctor.sources.bundle import BundleSource

    if bundle is not None and live:
        raise UsageError("give either --bundle or --live, not both", key="live.error.source_twice")
    if bundle is None:
        from netdoctor.sources.live import snapshot_of

        nodes = _NodeOpts(
            "all" if all_nodes else ("question" if node_facts else None),
            (from_, to),
            debug_image,
            debug_namespace,
            node_timeout,
            _probe_question(probe, from_, to, port) if probe else None,
            probe_size,
        )
        read = _live_read(kubeconfig, context, request_timeout, deadline, page_size, nodes)
        snap = snapshot_of(read)
    else:
        max_total = _size(max_bundle_size, "--max-bundle-size")
        snap = BundleSource(bundle, max_total_bytes=max_total).load()
    question = None
    if from_ or to or port or symptom:
        base = snap.manifest.question
        p, proto = parse_port(port) if port else (None, "TCP")
        question = Question(
            from_=from_ if from_ is not None else (base.from_ if base and not to else None),
            to=to if to is not None else (base.to if base and not from_ else None),
            port=p if port else (base.port if base and not (from_ or to) else None),
            protocol=proto if port else (base.protocol if base else "TCP"),
            symptom=symptom if symptom is not None else (base.symptom if base else None),
        )
    diagnosis = run_diagnosis(snap, question, only=only or (), skip=skip or ())
    report = build_report(diagnosis, _lang(lang))
    color = sys.stdout.isatty() and not no_color and not os.environ.get("NO_COLOR")
    said = diagnosis.question.symptom if diagnosis.question else None
    if said:
        note = _walk_runbook(report, diagnosis, said, _lang(lang), runbooks_dir, bool(only or skip))
        if note and output is Output.text:
            sys.stderr.write(note)
    text = render(report, output.value, width=width, color=color)
    sys.stdout.write(text)
    sys.stdout.flush()
    raise typer.Exit(diagnosis.verdict.exit_status)


def _books(folder: str | None) -> list[Runbook]:
    """The shipped runbooks, plus a team's folder when one is given."""
    from pathlib import Path

    from netdoctor.runbooks.loader import load_runbooks

    books = load_runbooks()
    if folder:
        books += load_runbooks(Path(folder))
    return books


def _walk_runbook(
    report: Report,
    diagnosis: Diagnosis,
    symptom: str,
    lang: Lang,
    folder: str | None,
    narrowed: bool,
) -> str:
    """Route the symptom; walk the chosen runbook into the report. Returns a note if none fit."""
    from netdoctor.catalog import load_catalog
    from netdoctor.report.runbooks import run_row
    from netdoctor.runbooks.execute import execute
    from netdoctor.runbooks.router import route

    books = _books(folder)
    routing = route(symptom, books, cni=diagnosis.cni.names)
    best = routing.best
    if best is None:
        closest = ", ".join(f"{m.runbook.id} ({m.confidence:.2f})" for m in routing.matches[:3])
        cat = load_catalog()
        lines = [cat.text("runbooks.ui.no_symptom_match", lang, {"candidates": closest or "-"})]
        lines += ["? " + cat.text(f"runbooks.ask.{key}", lang) for key in routing.ask]
        return "".join(line + "\n" for line in lines)
    # The diagnosis already ran every check, unless --only/--skip narrowed it.
    run = execute(
        best.runbook,
        diagnosis.snapshot,
        diagnosis.question,
        diagnosis=None if narrowed else diagnosis,
    )
    report.runbook = run_row(run, lang, routing=routing)
    covered = set(best.runbook.check_ids)
    for f in report.findings:
        if f.id in covered and f.runbook is None:
            f.runbook = best.runbook.id
    return ""


def _live_read(
    kubeconfig: str | None,
    context: str | None,
    request_timeout: float,
    deadline: float,
    page_size: int,
    nodes: _NodeOpts | None = None,
) -> LiveRead:
    """Read the live cluster's API objects (get/list only), then node facts when asked."""
    from netdoctor.sources.live import LiveSource, connect

    _positive("--request-timeout", request_timeout, f"{request_timeout:g}")
    _positive("--deadline", deadline, f"{deadline:g}")
    _positive("--page-size", page_size, str(page_size))
    client, _namespace, label = connect(kubeconfig, context)
    # A SIGTERM (a closed terminal, `timeout`, a CI job cancelled) cleans up like Ctrl-C.
    old_term = signal.signal(signal.SIGTERM, _interrupt)
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


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass
class _NodeOpts:
    mode: str | None  # "question" | "all" | None
    ends: tuple[str | None, str | None]
    image: str
    namespace: str
    timeout: float
    probe: Question | None = None
    probe_size: int = 1500


def _positive(flag: str, value: float, shown: str) -> None:
    """Refuse a zero or negative ``flag`` value, quoting it as ``shown``."""
    if value <= 0:
        raise UsageError(
            f"{flag} {shown}: must be positive",
            key="error.size",
            params={"flag": flag, "value": shown},
        )


def _packet_size(flag: str, value: int, low: int) -> None:
    """Refuse an IP packet size outside ``low``-65535."""
    if not low <= value <= 65535:
        raise UsageError(
            f"{flag} {value}: expected an IP packet size {low}-65535",
            key="error.size_bytes",
            params={"value": str(value)},
        )


def _probe_question(probe: bool, from_: str | None, to: str | None, port: str | None) -> Question:
    from netdoctor.model.snapshot import Question, parse_port

    if not from_ or not to:
        raise UsageError(
            "--probe needs --from NS/POD and --to", key="live.error.probe_needs_question"
        )
    p, proto = parse_port(port) if port else (None, "TCP")
    return Question(from_=from_, to=to, port=p, protocol=proto)


def _probes(client: object, read: LiveRead, opts: _NodeOpts, request_timeout: float) -> None:
    """Run the probes of ``opts.probe``; records and notes land in ``read``."""
    from netdoctor.sources.live import snapshot_of
    from netdoctor.sources.live.probes import ProbeRunner

    assert opts.probe is not None
    _packet_size("--probe-size", opts.probe_size, 68)
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


def _node_facts(client: object, read: LiveRead, opts: _NodeOpts, request_timeout: float) -> None:
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
                "--node-facts: the question names no node or pod to collect from; "
                "give --from/--to, or use --all-nodes",
                key="live.error.no_question_nodes",
            )
    cat, lang, done = load_catalog(), _lang(None), [0]
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
            f"{output}: already exists (collect never overwrites; choose another -o)",
            key="live.error.out_exists",
            params={"path": output},
        )
    p, proto = parse_port(port) if port else (None, "TCP")
    question = Question(from_=from_, to=to, port=p, protocol=proto, symptom=symptom)
    nodes = _NodeOpts(
        "all" if all_nodes else ("question" if node_facts else None),
        (from_, to),
        debug_image,
        debug_namespace,
        node_timeout,
        _probe_question(probe, from_, to, port) if probe else None,
        probe_size,
    )
    read = _live_read(kubeconfig, context, request_timeout, deadline, page_size, nodes)
    summary = write_bundle(read, output, question)
    cat, lg = load_catalog(), _lang(lang)
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

    _packet_size("--size", size, 1)
    snap = BundleSource(bundle).load()
    p, proto = parse_port(port) if port else (None, "TCP")
    question = Question(from_=from_, to=to, port=p, protocol=proto)
    # The trace alone: no check runs, so the verdict is the path's.
    diagnosis = run_diagnosis(snap, question, size=size, with_checks=False)
    report = build_report(diagnosis, _lang(lang))
    color = sys.stdout.isatty() and not no_color and not os.environ.get("NO_COLOR")
    sys.stdout.write(render(report, output.value, width=width, color=color))
    sys.stdout.flush()
    raise typer.Exit(diagnosis.verdict.exit_status)


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
            "reach -o markdown: reach writes text or json",
            key="error.reach_output",
            params={},
        )
    selectors = []
    for text in selector or ():
        try:
            selectors.append(parse_selector(text))
        except ValueError as e:
            raise UsageError(
                f"--selector {text!r}: {e}",
                key="error.reach_selector",
                params={"value": text, "problem": str(e)},
            ) from None
    ports = [parse_port(p) for p in port or ()] or [(None, "ICMP")]
    snap = BundleSource(bundle).load()
    for key in ("k8s.pods", "k8s.networkpolicies"):
        if not snap.has(key):  # without either, every answer would be a guess
            file = snap.source(key)
            raise ReachUnknownError(
                f"reach needs {file}: collect it", key="error.reach_missing", params={"path": file}
            )
    try:
        result = reach(snap, namespaces=namespace or (), selectors=selectors, ports=ports)
    except NamespacesUnknown as e:
        file = snap.source("k8s.namespaces")
        raise ReachUnknownError(
            f"NetworkPolicy {e.policy} has a namespaceSelector that needs namespace labels: "
            f"collect {file}",
            key="error.reach_namespaces",
            params={"policy": e.policy, "path": file},
        ) from None
    if output is Output.json:
        write = sys.stdout.write
        for chunk in iter_reach_json(result):
            write(chunk)
    else:
        color = sys.stdout.isatty() and not no_color and not os.environ.get("NO_COLOR")
        sys.stdout.write(render_reach_text(result, _lang(lang), width=width, color=color))
    sys.stdout.flush()


class ReachUnknownError(NetdoctorError):
    """The matrix cannot be decided from the bundle (inconclusive, exit 3)."""

    exit_status = 3


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
            f"explain {id_or_code!r}: no such root cause (see 'netdoctor checks')",
            key="error.no_root_cause",
            params={"name": id_or_code},
        )
    sys.stdout.write(render_explain(entry, _lang(lang)))


@app.command(name="checks")
def list_checks(
    lang: LangFlag = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="text or json.")] = Output.text,
) -> None:
    """List every check: code, id, severity, what it looks for, the data it needs."""
    from netdoctor.report.explain import render_checks

    sys.stdout.write(render_checks(_lang(lang), output.value))


DirFlag = Annotated[
    str | None,
    typer.Option("--dir", help="A folder of team runbooks (*.md), added to the shipped ones."),
]


def _color(no_color: bool) -> bool:
    return sys.stdout.isatty() and not no_color and not os.environ.get("NO_COLOR")


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

    books = sorted(_books(folder), key=lambda b: (b.category, b.id))
    sys.stdout.write(
        render_list(books, _lang(lang), output.value, width=width, color=_color(no_color))
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

    book = next((b for b in _books(folder) if b.id == runbook_id), None)
    if book is None:
        raise UsageError(
            f"no runbook {runbook_id!r} (see 'netdoctor runbooks list')",
            key="runbooks.error.no_runbook",
            params={"id": runbook_id},
        )
    sys.stdout.write(render_show(book, _lang(lang), width=width, color=_color(no_color)))


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
    routing = route(text, _books(folder), cni=cni or (), calibration=cal)
    if output is Output.json:
        doc = match_json(routing, cal)
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(
            render_match(routing, _lang(lang), cal, width=width, color=_color(no_color))
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

    import netdoctor.checks  # noqa: F401  (registers every check)
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
        doc = lint_json(issues, _lang(lang), count)
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(
            render_lint(issues, _lang(lang), count, width=width, color=_color(no_color))
        )
    raise typer.Exit(1 if any(i.level == "error" for i in issues) else 0)


@app.command()
def version() -> None:
    """Print netdoctor's version."""
    sys.stdout.write(f"netdoctor {__version__}\n")


def _size(text: str, flag: str) -> int:
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    num, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "")
    try:
        value = float(num) * units[unit]
    except ValueError:
        raise UsageError(
            f"{flag} {text!r}: expected a size such as 512M or 8G",
            key="error.size",
            params={"flag": flag, "value": text},
        ) from None
    if value <= 0:
        raise UsageError(
            f"{flag} {text!r}: must be positive",
            key="error.size",
            params={"flag": flag, "value": text},
        )
    return int(value)


def _say(e: NetdoctorError, argv: list[str] | None) -> str:
    """The error in the language asked for (``--lang``, else the locale), when it has words."""
    if e.key is None:
        return str(e)
    from netdoctor.catalog import load_catalog

    args = sys.argv[1:] if argv is None else argv
    lang: Lang = _lang(None)
    for i, a in enumerate(args):
        value = a.split("=", 1)[1] if a.startswith("--lang=") else None
        if a == "--lang" and i + 1 < len(args):
            value = args[i + 1]
        if value in ("en", "zh"):
            lang = "zh" if value == "zh" else "en"
    return load_catalog().text(e.key, lang, e.params)


def _fail(message: str, status: int = 2) -> NoReturn:
    sys.stderr.write(f"netdoctor: error: {message}\n")
    sys.exit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point of both console scripts."""
    import click

    try:
        # standalone_mode=False: the parser returns an Exit's status instead of calling sys.exit.
        status = app(args=argv, prog_name="netdoctor", standalone_mode=False)
        sys.exit(status if isinstance(status, int) else 0)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        _fail("interrupted", 130)
    except click.ClickException as e:  # the parser's usage errors (unknown option, bad value)
        _fail(" ".join(e.format_message().split()))
    except NetdoctorError as e:
        if os.environ.get("NETDOCTOR_DEBUG"):
            raise
        _fail(" ".join(_say(e, argv).split()), e.exit_status)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # the promise: never a traceback for the user
        if os.environ.get("NETDOCTOR_DEBUG"):
            raise
        _fail(f"internal error: {type(e).__name__}: {e} (NETDOCTOR_DEBUG=1 shows the traceback)")


if __name__ == "__main__":
    main()
