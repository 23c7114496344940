"""Markdown renderer: the report as GitHub-flavoured Markdown, to paste into a ticket.

Report layer. Reads only the :class:`~netdoctor.report.model.Report`, in the same order as the
terminal: summary, question, root cause (evidence table, fix and verify commands), other
findings, path, probes, checks, input notes. Headings come from ``Report.labels`` (the keys are
:data:`netdoctor.report.render_text.LABEL_KEYS`).

Every string from the report goes through :func:`~netdoctor.report.textutil.md_cell`, which
strips control characters and escapes what Markdown or HTML would act on, so a pod name can
neither break a table nor inject markup. Commands go in fenced ``sh`` blocks, cleaned but not
escaped (a fence shows its text literally), with a fence longer than any backtick run in them.
"""

from __future__ import annotations

import re

from netdoctor.report.model import FindingRow, Report, StepRow, SubjectRow
from netdoctor.report.textutil import cell_len, clean_line, label, md_cell, pad, word

__all__ = ["render_markdown"]

_BACKTICKS = re.compile(r"`+")


def render_markdown(report: Report) -> str:
    """Render *report* as GitHub-flavoured Markdown (ends with one newline)."""
    return _MarkdownRenderer(report).render()


def _fence(command: str, indent: str = "") -> list[str]:
    text = clean_line(command)
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{indent}{fence}sh", f"{indent}{text}", f"{indent}{fence}"]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A GFM table whose raw text lines up too (cells padded to the same terminal width)."""
    widths = [max(3, cell_len(h)) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], cell_len(cell))

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(pad(c, w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _subject(subject: SubjectRow) -> str:
    return "/".join(p for p in (subject.kind, subject.namespace, subject.name) if p)


class _MarkdownRenderer:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.out: list[str] = []
        self.colon = "：" if report.lang.startswith("zh") else ": "

    def label(self, key: str) -> str:
        return md_cell(label(self.report.labels, key))

    def word(self, kind: str, value: str) -> str:
        return word(self.report.labels, kind, value)

    def field(self, key: str, value: str) -> str:
        """``**Label**: value`` (the colon outside the emphasis, so CJK punctuation works)."""
        return f"**{self.label(key)}**{self.colon}{value}"

    def heading(self, level: int, text: str) -> None:
        self.blank()
        self.out += ["#" * level + " " + text, ""]

    def blank(self) -> None:
        if self.out and self.out[-1] != "":
            self.out.append("")

    def render(self) -> str:
        r = self.report
        self.out.append(f"# netdoctor: {md_cell(r.summary)}")
        self.out.append("")
        self.header()
        if r.verdict == "inconclusive" and r.reasons:
            self.heading(2, self.label("reasons"))
            self.out += [f"- {md_cell(x)}" for x in r.reasons]
        root = r.root_cause
        others = r.findings[1:] if root is not None else r.findings
        if root is not None:
            self.heading(2, self.label("root_cause"))
            self.root_cause(root)
        if others:
            self.heading(2, self.label("other_findings" if root is not None else "findings"))
            for finding in others:
                self.other_finding(finding)
        if r.walk:
            self.heading(2, self.label("walk"))
            self.walk()
        if r.runbook is not None:
            self.heading(2, self.label("runbook"))
            self.runbook_run()
        if r.path is not None and r.path.hops:
            self.heading(2, self.label("path"))
            self.path()
        if r.probes:
            self.heading(2, self.label("probes"))
            self.probes()
        if r.checks:
            self.heading(2, self.label("checks"))
            self.checks()
        if r.input.notes:
            self.heading(2, self.label("input_notes"))
            for note in r.input.notes:
                item = f"- {md_cell(note.file)}{self.colon}{md_cell(self.word('note', note.note))}"
                self.out.append(f"{item} ({md_cell(note.detail)})" if note.detail else item)
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(self.out) + "\n"

    def runbook_run(self) -> None:
        """The walked runbook as a task list: checked when passed, with why and where it led."""
        run = self.report.runbook
        assert run is not None
        self.out.append(f"**{md_cell(run.id)}**: {md_cell(run.title)}")
        self.out.append("")
        for step in run.steps:
            box = "x" if step.status == "ok" else " "
            word = self.label(f"runbook.status.{step.status}")
            self.out.append(
                f"- [{box}] {md_cell(step.title)} — {md_cell(word)} → {md_cell(step.next)}"
            )
            for line in [*step.findings, *step.reasons]:
                self.out.append(f"  - {md_cell(line)}")
            if step.status in ("manual", "skipped") and step.command:
                for cmd in step.command.splitlines():
                    self.out += _fence(cmd, "  ")
        self.out.append("")
        self.out.append(f"**{md_cell(run.summary)}**")

    def header(self) -> None:
        r = self.report
        lines: list[str] = []
        q = r.question
        if q is not None:
            route = " → ".join(md_cell(x) for x in (q.from_, q.to) if x)
            if q.port is not None or q.protocol:
                port = "/".join(md_cell(str(x)) for x in (q.port, q.protocol) if x is not None)
                route = f"{route} {port}" if route else port
            if q.symptom:
                route += f" · {md_cell(q.symptom)}"
            lines.append(self.field("question", route))
            if q.observed_meaning:
                lines.append(self.field("observed", md_cell(q.observed_meaning)))
        inp = r.input
        where = " ".join(md_cell(x) for x in (inp.kind, inp.path) if x)
        where += "".join(f" · {md_cell(x)}" for x in (inp.cluster, inp.collected_at) if x)
        if r.cni:
            where += " · " + self.field("cni", ", ".join(md_cell(c) for c in r.cni))
        lines.append(self.field("input", where))
        # Two trailing spaces: a hard line break, so the lines stay apart when rendered.
        self.out += [line + "  " for line in lines[:-1]] + lines[-1:]

    def root_cause(self, finding: FindingRow) -> None:
        self.out.append(f"### [{md_cell(finding.code)}] {md_cell(finding.title)}")
        self.out.append("")
        meta = [
            self.field("severity", md_cell(self.word("severity", finding.severity))),
            self.field("subject", md_cell(_subject(finding.subject))),
        ]
        if finding.runbook:
            meta.append(self.field("runbook", md_cell(finding.runbook)))
        self.out.append(" · ".join(meta))
        if finding.evidence:
            self.blank()
            self.out += [f"**{self.label('evidence')}**", ""]
            headers = [
                self.label(k) for k in ("col.value", "col.field", "col.object", "col.source")
            ]
            rows = [
                [md_cell(e.value), md_cell(e.field), md_cell(e.object), md_cell(e.source)]
                for e in finding.evidence
            ]
            self.out += _table(headers, rows)
        for key, steps in (("fix", finding.fix), ("verify", finding.verify)):
            if steps:
                self.blank()
                self.out += [f"**{self.label(key)}**", ""]
                self.steps(steps)
        if finding.notes:
            self.blank()
            self.out += [f"**{self.label('notes')}**", ""]
            self.out += [f"- {md_cell(n)}" for n in finding.notes]

    def steps(self, steps: list[StepRow]) -> None:
        for n, step in enumerate(steps, 1):
            number = f"{n}. "
            indent = " " * len(number)
            self.out.append(number + md_cell(step.description or ""))
            if step.command:
                self.out.append("")
                self.out += _fence(step.command, indent)
            self.out.append("")

    def other_finding(self, finding: FindingRow) -> None:
        self.out.append(
            f"- **[{md_cell(finding.code)}]** {md_cell(finding.title)}"
            f" · {md_cell(self.word('severity', finding.severity))}"
            f" · {md_cell(_subject(finding.subject))}"
        )
        first = next((s.command for s in finding.fix if s.command), None)
        if first:
            self.out.append("")
            self.out += _fence(first, "  ")
        self.out.append("")

    def path(self) -> None:
        path = self.report.path
        assert path is not None
        verdict = self.field("col.verdict", md_cell(path.verdict))
        if path.drop_at is not None:
            verdict += f" · **#{path.drop_at}**"
        self.out += [verdict, ""]
        headers = ["#"] + [
            self.label(k)
            for k in ("col.direction", "col.node", "col.stage", "col.verdict", "col.detail")
        ]
        rows = []
        for hop in path.hops:
            verdict = md_cell(hop.verdict)
            rows.append(
                [
                    str(hop.index),
                    md_cell(hop.direction),
                    md_cell(hop.node or "-"),
                    md_cell(hop.stage),
                    f"**{verdict}**" if hop.drop else verdict,
                    md_cell(hop.detail),
                ]
            )
        self.out += _table(headers, rows)

    def walk(self) -> None:
        headers = ["#"] + [self.label(k) for k in ("col.step", "col.status", "col.detail")]
        rows = []
        for n, step in enumerate(self.report.walk, 1):
            status = self.word("walk", step.status)
            rows.append(
                [
                    str(n),
                    self.word("step", step.step),
                    f"**{status}**" if step.failed else status,
                    md_cell(step.detail),
                ]
            )
        self.out += _table(headers, rows)

    def probes(self) -> None:
        keys = ("col.kind", "col.source", "col.target", "col.result", "col.detail")
        rows = []
        for p in self.report.probes:
            result = md_cell(p.result)
            if p.attempts:
                result += f" ({p.succeeded}/{p.attempts})"
            rows.append(
                [md_cell(p.kind), md_cell(p.source), md_cell(p.target), result, md_cell(p.detail)]
            )
        self.out += _table([self.label(k) for k in keys], rows)

    def checks(self) -> None:
        keys = ("col.code", "col.id", "col.status", "col.reason")
        rows = [
            [
                md_cell(c.code),
                md_cell(c.id),
                md_cell(self.word("status", c.status)),
                md_cell(c.reason or ""),
            ]
            for c in self.report.checks
        ]
        self.out += _table([self.label(k) for k in keys], rows)
