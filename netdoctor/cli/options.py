"""What the commands share: the output and language options, the flags, their validators.

CLI layer. Each validator refuses a bad value with its own one-line message (a catalog key,
said in the user's language), before anything is read.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from netdoctor.errors import UsageError

if TYPE_CHECKING:
    from netdoctor.catalog import Lang

__all__ = [
    "AllNodesFlag",
    "BundleFlag",
    "ContextFlag",
    "DeadlineFlag",
    "DebugImageFlag",
    "DebugNamespaceFlag",
    "DirFlag",
    "KubeconfigFlag",
    "LangFlag",
    "LangOpt",
    "LiveFlag",
    "NoColorFlag",
    "NodeFactsFlag",
    "NodeTimeoutFlag",
    "OptBundleFlag",
    "Output",
    "OutputFlag",
    "PageSizeFlag",
    "ProbeFlag",
    "ProbeSizeFlag",
    "RequestTimeoutFlag",
    "WidthFlag",
    "lang_of",
    "packet_size",
    "parse_size",
    "positive",
    "use_color",
]


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


DirFlag = Annotated[
    str | None,
    typer.Option("--dir", help="A folder of team runbooks (*.md), added to the shipped ones."),
]


def lang_of(value: LangOpt | None) -> Lang:
    """The report's language: ``--lang``, else the locale's."""
    from netdoctor.catalog import default_lang

    if value is None:
        return default_lang()
    return "zh" if value is LangOpt.zh else "en"


def use_color(no_color: bool) -> bool:
    return sys.stdout.isatty() and not no_color and not os.environ.get("NO_COLOR")


def parse_size(text: str, flag: str) -> int:
    """``512M``, ``8G``, ``1.5GiB`` -> bytes; anything else, or zero, is refused."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    num, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "")
    try:
        value = float(num) * units[unit]
    except ValueError:
        value = 0
    if not value > 0:  # also NaN
        raise UsageError(key="error.size", params={"flag": flag, "value": text})
    return int(value)


def positive(flag: str, value: float, shown: str) -> None:
    """Refuse a zero or negative ``flag`` value (seconds, a page size), quoting it as ``shown``."""
    if not value > 0:
        raise UsageError(key="error.positive", params={"flag": flag, "value": shown})


def packet_size(flag: str, value: int, low: int) -> None:
    """Refuse an IP packet size outside ``low``-65535."""
    if not low <= value <= 65535:
        raise UsageError(
            key="error.size_bytes", params={"flag": flag, "value": str(value), "low": str(low)}
        )
