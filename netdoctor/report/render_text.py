"""Terminal renderer: the report for a person at a terminal, root cause first.

Report layer. Reads only the :class:`~netdoctor.report.model.Report`; what is the root cause
and in which order findings come was decided before. Order on screen: the verdict and the
question, why the report is inconclusive (if it is), the root cause with its evidence, fix and
verify commands, other findings, the computed path, probes, the check table, input notes.

Every string from the report is cleaned (:func:`~netdoctor.report.textutil.clean_line`) before
it is printed, so a pod name cannot move the cursor or clear the screen. Commands are printed
on lines of their own that are never wrapped or cropped, so that they can be copied whole.
rich is imported inside :func:`render_text` only: ``netdoctor trace -o json`` must start fast.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

from netdoctor.report.model import FindingRow, Report, StepRow, SubjectRow
from netdoctor.report.textutil import cell_len, clean_line, label, word

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

__all__ = ["LABEL_KEYS", "render_text"]

# The keys of ``Report.labels`` that the text and Markdown renderers read. A missing key is
# shown as the key itself, so a gap in the catalog is visible but never an error.
LABEL_KEYS: tuple[str, ...] = (
    "question",
    "input",
    "cni",
    "reasons",
    "root_cause",
    "severity",
    "subject",
    "runbook",
    "runbook.status.ok",
    "runbook.status.finding",
    "runbook.status.skipped",
    "runbook.status.manual",
    "evidence",
    "fix",
    "verify",
    "notes",
    "findings",
    "other_findings",
    "path",
    "probes",
    "checks",
    "input_notes",
    "col.value",
    "col.field",
    "col.object",
    "col.source",
    "col.target",
    "col.kind",
    "col.result",
    "col.detail",
    "col.code",
    "col.id",
    "col.status",
    "col.reason",
    "col.direction",
    "col.node",
    "col.stage",
    "col.verdict",
    "walk",
    "col.step",
    "observed",
)

_VERDICT_STYLE = {"broken": "bold red", "healthy": "bold green", "inconclusive": "bold yellow"}
_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "blue"}
_STATUS_STYLE = {"ok": "green", "finding": "bold red", "skipped": "yellow", "error": "bold magenta"}
_HOP_STYLE = {"pass": "green", "drop": "bold red", "unknown": "yellow"}
_WALK_STYLE = {"ok": "green", "failed": "bold red", "skipped": "yellow", "not-checked": "dim"}
_PATH_STYLE = {"delivered": "bold green", "dropped": "bold red", "unknown": "bold yellow"}
_PROBE_OK = frozenset({"ok", "pass", "passed", "success", "succeeded", "reachable", "delivered"})
_PROBE_FAIL = frozenset(
    {"fail", "failed", "failure", "timeout", "drop", "dropped", "unreachable", "refused", "error"}
)
_COMMAND_STYLE = "bold cyan"
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_TRAILING_BLANKS = re.compile(r"(?:[ \t]|\x1b\[[0-9;]*m)+$")
_MUTED = "dim"


def render_text(report: Report, *, width: int | None = None, color: bool | None = None) -> str:
    """Render *report* for a terminal.

    *width* is in terminal cells (``None``: the terminal's, else 80). *color* ``None`` or
    ``False`` gives plain text; the caller decides from the terminal and ``NO_COLOR``.
    """
    from rich.console import Console

    use_color = bool(color)
    console = Console(
        file=io.StringIO(),
        width=width,
        force_terminal=use_color,
        force_jupyter=False,
        force_interactive=False,
        color_system="standard" if use_color else None,
        no_color=not use_color,
        legacy_windows=False,
        highlight=False,
        soft_wrap=False,
        emoji=False,
        markup=False,
    )
    _TextRenderer(report, console).render()
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    # Tables pad their last column and wrapping leaves a space at the end of a line; trailing
    # blanks (also those just before a closing colour code) only get in the way of copy and diff.
    lines = (_TRAILING_BLANKS.sub(_keep_codes, line) for line in out.split("\n"))
    return "\n".join(lines).rstrip("\n") + "\n"


def _keep_codes(match: re.Match[str]) -> str:
    return "".join(_SGR.findall(match.group(0)))


def _subject(subject: SubjectRow) -> str:
    parts = [subject.kind, subject.namespace, subject.name]
    return "/".join(clean_line(p) for p in parts if p)


class _TextRenderer:
    def __init__(self, report: Report, console: Console) -> None:
        self.report = report
        self.console = console

    def label(self, key: str) -> str:
        return label(self.report.labels, key)

    def colon(self) -> str:
        return "：" if self.report.lang.startswith("zh") else ": "

    def name(self, key: str) -> tuple[str, str]:
        """A muted "label: " before a value; Chinese takes the full-width colon."""
        return (self.label(key) + self.colon(), _MUTED)

    def render(self) -> None:
        r = self.report
        self.header()
        if r.verdict == "inconclusive" and r.reasons:
            self.section("reasons")
            self.bullets(r.reasons, indent=2)
        root = r.root_cause
        others = r.findings[1:] if root is not None else r.findings
        if root is not None:
            self.section("root_cause")
            self.root_cause(root)
        if others:
            self.section("other_findings" if root is not None else "findings")
            for finding in others:
                self.other_finding(finding)
        if r.walk:
            self.section("walk")
            self.walk()
        if r.runbook is not None:
            self.section("runbook")
            self.runbook_run()
        if r.path is not None and r.path.hops:
            self.section("path")
            self.path()
        if r.probes:
            self.section("probes")
            self.probes()
        if r.checks:
            self.section("checks")
            self.checks()
        if r.input.notes:
            self.section("input_notes")
            self.input_notes()

    # -- building blocks ------------------------------------------------------------------

    def line(self, *parts: tuple[str, str] | str, indent: int = 0) -> None:
        from rich.padding import Padding
        from rich.text import Text

        text = Text.assemble(*parts)
        self.console.print(Padding(text, (0, 0, 0, indent)) if indent else text)

    def command(self, cmd: str, indent: int) -> None:
        """A command on a line of its own: soft wrap, so it is never folded or cropped."""
        from rich.text import Text

        self.console.print(
            Text(" " * indent + clean_line(cmd), style=_COMMAND_STYLE), soft_wrap=True
        )

    def section(self, key: str) -> None:
        from rich.rule import Rule
        from rich.text import Text

        self.console.print()
        self.console.print(Rule(Text(self.label(key), style="bold"), align="left", style=_MUTED))

    def subheading(self, key: str) -> None:
        self.console.print()
        self.line((self.label(key), "bold underline"))

    def bullets(self, items: list[str], indent: int = 0) -> None:
        from rich.table import Table

        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for item in items:
            grid.add_row("-", clean_line(item))
        self.print_indented(grid, indent)

    def table(self, *keys: str) -> Table:
        from rich.table import Table

        table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
        for key in keys:
            table.add_column(self.label(key), overflow="fold")
        return table

    def print_indented(self, renderable: Table, indent: int) -> None:
        from rich.padding import Padding

        self.console.print(Padding(renderable, (0, 0, 0, indent)) if indent else renderable)

    def styled(self, value: str, styles: dict[str, str], kind: str = "") -> Text:
        """An enum value in its style, shown in the report's language (``word.<kind>.<value>``)."""
        from rich.text import Text

        return Text(self.word(kind, value), style=styles.get(value, ""))

    def word(self, kind: str, value: str) -> str:
        return word(self.report.labels, kind, value) if kind else clean_line(value)

    def sep(self) -> tuple[str, str]:
        return (" · ", _MUTED)

    # -- sections -------------------------------------------------------------------------

    def header(self) -> None:
        r = self.report
        self.line((clean_line(r.summary), _VERDICT_STYLE.get(r.verdict, "bold")))
        q = r.question
        if q is not None:
            route = " → ".join(clean_line(x) for x in (q.from_, q.to) if x)
            if q.port is not None or q.protocol:
                port = "/".join(clean_line(str(x)) for x in (q.port, q.protocol) if x is not None)
                route = f"{route} {port}" if route else port
            parts: list[tuple[str, str] | str] = [self.name("question"), route]
            if q.symptom:
                parts += [self.sep(), clean_line(q.symptom)]
            self.line(*parts)
            if q.observed_meaning:
                self.line(self.name("observed"), clean_line(q.observed_meaning))
        inp = r.input
        where = [clean_line(x) for x in (inp.kind, inp.path) if x]
        extra = [clean_line(x) for x in (inp.cluster, inp.collected_at) if x]
        in_parts: list[tuple[str, str] | str] = [self.name("input")]
        in_parts.append(" ".join(where))
        for x in extra:
            in_parts += [self.sep(), x]
        if r.cni:
            in_parts += [self.sep(), self.name("cni")]
            in_parts.append(", ".join(clean_line(c) for c in r.cni))
        self.line(*in_parts)

    def finding_title(self, finding: FindingRow) -> None:
        style = _SEVERITY_STYLE["critical"] if finding.critical else "bold"
        self.line((f"[{clean_line(finding.code)}] ", style), (clean_line(finding.title), style))

    def finding_meta(self, finding: FindingRow, *, with_labels: bool, indent: int) -> None:
        sev = (self.word("severity", finding.severity), _SEVERITY_STYLE.get(finding.severity, ""))
        parts: list[tuple[str, str] | str] = []
        if with_labels:
            parts += [self.name("severity"), sev, self.sep()]
            parts += [self.name("subject"), _subject(finding.subject)]
            if finding.runbook:
                parts += [self.sep(), self.name("runbook")]
                parts.append(clean_line(finding.runbook))
        else:
            parts += [sev, self.sep(), _subject(finding.subject)]
        self.line(*parts, indent=indent)

    def root_cause(self, finding: FindingRow) -> None:
        self.finding_title(finding)
        self.finding_meta(finding, with_labels=True, indent=0)
        if finding.evidence:
            self.subheading("evidence")
            self.evidence(finding)
        for key, steps in (("fix", finding.fix), ("verify", finding.verify)):
            if steps:
                self.subheading(key)
                self.steps(steps)
        if finding.notes:
            self.subheading("notes")
            self.bullets(finding.notes, indent=2)

    def evidence(self, finding: FindingRow) -> None:
        """Value first, then where to find it: the file and object, then the field in it."""
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
        # A quarter of the width at most, so that a long field name stays on one line.
        value_width = max(12, (self.console.width - 4) // 4)
        table.add_column(
            self.label("col.value"), overflow="fold", style="bold", max_width=value_width
        )
        where = " · ".join(self.label(k) for k in ("col.source", "col.object", "col.field"))
        table.add_column(where, overflow="fold")
        for ev in finding.evidence:
            value = clean_line(ev.value)
            place = Text.assemble(
                clean_line(ev.source), (" · ", _MUTED), clean_line(ev.object), "\n"
            )
            place.append(clean_line(ev.field), style=_MUTED)
            if cell_len(value) > value_width:
                # A log line folded into a narrow column is unreadable: give it the wide one.
                place.append("\n")
                place.append(value, style="bold")
                value = ""
            table.add_row(value, place)
        self.print_indented(table, 2)

    def steps(self, steps: list[StepRow]) -> None:
        from rich.table import Table

        for n, step in enumerate(steps, 1):
            number = f"{n}."
            if step.description:
                grid = Table.grid(padding=(0, 1))
                grid.add_column(no_wrap=True)
                grid.add_column(overflow="fold")
                grid.add_row(number, clean_line(step.description))
                self.print_indented(grid, 2)
                if step.command:
                    self.command(step.command, indent=2 + len(number) + 1)
            elif step.command:
                self.command(step.command, indent=2)

    def other_finding(self, finding: FindingRow) -> None:
        self.finding_title(finding)
        self.finding_meta(finding, with_labels=False, indent=2)
        first = next((s.command for s in finding.fix if s.command), None)
        if first:
            self.command(first, indent=2)

    def path(self) -> None:
        path = self.report.path
        assert path is not None
        parts: list[tuple[str, str] | str] = [
            self.name("col.verdict"),
            (self.word("path", path.verdict), _PATH_STYLE.get(path.verdict, "bold")),
        ]
        if path.drop_at is not None:
            parts += [self.sep(), (f"#{path.drop_at}", _HOP_STYLE["drop"])]
        self.line(*parts)
        table = self.table(
            "#", "col.direction", "col.node", "col.stage", "col.verdict", "col.detail"
        )
        for hop in path.hops:
            row_style = "bold" if hop.drop else ""
            table.add_row(
                str(hop.index),
                clean_line(hop.direction),
                clean_line(hop.node or "-"),
                clean_line(hop.stage),
                self.styled(hop.verdict, _HOP_STYLE, "hop"),
                clean_line(hop.detail),
                style=row_style,
            )
        self.print_indented(table, 2)

    def runbook_run(self) -> None:
        """The runbook as a filled checklist: each step's status, why, and where it led."""
        run = self.report.runbook
        assert run is not None
        head = f"{clean_line(run.id)}: {clean_line(run.title)}"
        if run.confidence is not None:
            terms = ", ".join(run.matched_terms)
            head += f"  ({run.confidence:.2f}; {clean_line(terms)})"
        self.line((head, "bold"))
        marks = {"ok": "[x]", "finding": "[!]", "skipped": "[?]", "manual": "[ ]"}
        for n, step in enumerate(run.steps, 1):
            mark = marks.get(step.status, "[?]")
            word = self.label(f"runbook.status.{step.status}")
            self.line(
                (f"{mark} ", _STATUS_STYLE.get(step.status, "yellow")),
                f"{n}. {clean_line(step.title)} ",
                (f"— {word}", _STATUS_STYLE.get(step.status, "yellow")),
                (f"  → {clean_line(step.next)}", _MUTED),
                indent=2,
            )
            for finding in step.findings:
                self.line(clean_line(finding), indent=6)
            for reason in step.reasons:
                self.line((clean_line(reason), _MUTED), indent=6)
            if step.status in ("manual", "skipped") and step.command:
                for cmd in step.command.splitlines():
                    self.command(cmd, indent=6)
        self.line((clean_line(run.summary), "bold"), indent=2)
        by_id = {f.id: f for f in self.report.findings}
        for rid in run.root_causes:
            named = by_id.get(rid)
            if named is None:
                continue
            self.line((f"{named.code} {clean_line(named.title)}", "bold red"), indent=4)
            if named is self.report.root_cause:
                continue  # its fix is printed whole in the root-cause section above
            for fix in named.fix:
                if fix.command:
                    self.command(fix.command, indent=6)

    def walk(self) -> None:
        table = self.table("#", "col.step", "col.status", "col.detail")
        for n, step in enumerate(self.report.walk, 1):
            table.add_row(
                str(n),
                self.word("step", step.step),
                self.styled(step.status, _WALK_STYLE, "walk"),
                clean_line(step.detail),
                style="bold" if step.failed else "",
            )
        self.print_indented(table, 2)

    def probes(self) -> None:
        from rich.text import Text

        table = self.table("col.kind", "col.source", "col.target", "col.result", "col.detail")
        for probe in self.report.probes:
            result = clean_line(probe.result)
            if probe.attempts:
                result += f" ({probe.succeeded}/{probe.attempts})"
            key = probe.result.lower()
            style = "green" if key in _PROBE_OK else "bold red" if key in _PROBE_FAIL else "yellow"
            table.add_row(
                clean_line(probe.kind),
                clean_line(probe.source),
                clean_line(probe.target),
                Text(result, style=style),
                clean_line(probe.detail),
            )
        self.print_indented(table, 2)

    def checks(self) -> None:
        table = self.table("col.code", "col.id", "col.status", "col.reason")
        table.columns[0].no_wrap = True
        table.columns[1].no_wrap = True
        table.columns[2].no_wrap = True
        for check in self.report.checks:
            table.add_row(
                clean_line(check.code),
                clean_line(check.id),
                self.styled(check.status, _STATUS_STYLE, "status"),
                clean_line(check.reason or ""),
            )
        self.print_indented(table, 2)

    def input_notes(self) -> None:
        items = []
        for note in self.report.input.notes:
            item = f"{note.file}{self.colon()}{self.word('note', note.note)}"
            items.append(f"{item} ({note.detail})" if note.detail else item)
        self.bullets(items, indent=2)
