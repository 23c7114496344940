"""The command line: ``netdoctor`` (and ``kubectl netdoctor``, the same program as a plugin).

CLI layer: parses flags, picks the source, calls the engine, renders the report, and maps the
verdict to the exit status (0 healthy, 1 broken, 2 usage or input error, 3 inconclusive).
Every error reaches the user as one line; no traceback, ever (NETDOCTOR_DEBUG=1 shows one).
Imports are lazy so that a single call starts fast.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from netdoctor import __version__
from netdoctor.errors import NetdoctorError, UsageError
from netdoctor.lab.cli import app as lab_app

if TYPE_CHECKING:
    from netdoctor.catalog import Lang

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
    bundle: BundleFlag,
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
) -> None:
    """Diagnose from a bundle: root cause, evidence, fix and how to verify it."""
    from netdoctor.checks.endpoints import parse_port
    from netdoctor.engine import diagnose as run_diagnosis
    from netdoctor.model.snapshot import Question
    from netdoctor.report import render
    from netdoctor.report.build import build_report
    from netdoctor.sources.bundle import BundleSource

    snap = BundleSource(bundle, max_total_bytes=_size(max_bundle_size, "--max-bundle-size")).load()
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
    text = render(report, output.value, width=width, color=color)
    sys.stdout.write(text)
    sys.stdout.flush()
    raise typer.Exit(diagnosis.verdict.exit_status)


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
    from netdoctor.checks.endpoints import parse_port
    from netdoctor.engine import diagnose as run_diagnosis
    from netdoctor.model.snapshot import Question
    from netdoctor.report import render
    from netdoctor.report.build import build_report
    from netdoctor.sources.bundle import BundleSource

    if not 0 < size <= 65535:
        raise UsageError(
            f"--size {size}: expected an IP packet size 1-65535",
            key="error.size_bytes",
            params={"value": str(size)},
        )
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
    from netdoctor.checks.endpoints import parse_port
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
