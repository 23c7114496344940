"""``runbooks lint``: prove a folder of runbooks sound before anyone relies on it at 3 a.m.

Runbooks layer. Rules (the id is what ``-o json`` prints; every message is in the catalog):

=========================  ======  ==========================================================
rule                       level   what is wrong
=========================  ======  ==========================================================
unreadable                 error   no front matter, not YAML, a field of the wrong type, a
                                   text without both en and zh
duplicate-id               error   two runbooks share an id
bad-category               error   category outside the closed set
unknown-check              error   a step names a check id the registry does not have
bad-reference              error   a branch names a step or conclusion that does not exist
missing-branch             error   a step lacks its pass or its fail branch
empty-step                 error   a step has neither checks nor a manual command
unreachable-step           error   no path from the first step reaches it
unreachable-conclusion     error   no reachable step concludes there
cycle                      error   the steps can loop
missing-section            error   the body lacks a goal, workflow, reading, remediation,
                                   verification or references heading
example-misrouted          error   an example does not route to its runbook as top-1
counter-example-matches    error   a counter-example routes to the runbook
command-mistake            error   a known tool's command has a known mistake
trigger-collision          warning the same term triggers several runbooks (listed)
=========================  ======  ==========================================================
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from netdoctor.runbooks.loader import Problem
from netdoctor.runbooks.model import CATEGORIES, Runbook
from netdoctor.runbooks.router import Calibration, normalize, route

__all__ = ["SECTIONS", "Issue", "command_mistakes", "lint"]

# Body headings a runbook must have: (section, words that may name it, en or zh).
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("goal", ("goal", "目标")),
    ("workflow", ("workflow", "流程")),
    ("reading", ("reading", "解读")),
    ("remediation", ("remediation", "修复")),
    ("verification", ("verification", "验证")),
    ("references", ("references", "参考")),
)


@dataclass(frozen=True)
class Issue:
    level: str  # "error" | "warning"
    rule: str
    path: str
    runbook: str  # id, or "" when the file could not be read
    params: dict[str, str] = field(default_factory=dict)
    detail_key: str = ""  # a nested message (why a file is unreadable), in its own words
    detail_params: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"runbooks.lint.{self.rule}"


_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_KO_TRACE = re.compile(r"kubectl\s+ko\s+trace\s+([^\n#;|&]*)")
_PROTOS = ("icmp", "tcp", "udp")
_KO_TRACE_FORM = "kubectl ko trace NS/POD TARGET_IP [MAC] icmp|tcp|udp [PORT]"
_MAC = re.compile(r"^(?:[0-9a-f]{2}:){5}[0-9a-f]{2}$|^<[^>]*mac[^>]*>$", re.I)


def command_mistakes(command: str) -> list[tuple[str, str]]:
    """Known mistakes in commands of known tools: (what was written, what is right)."""
    found: list[tuple[str, str]] = []
    for line in command.splitlines():
        if "ovn-trace" in line or "ovn-detrace" in line:
            for m in re.finditer(
                rf"eth\.dst\s*==\s*({_IPV4}|<[^>]*ip[^>]*>|\$\w*ip\w*)", line, re.I
            ):
                found.append((m.group(0), f"ip4.dst == {m.group(1)}"))
            for m in re.finditer(r"(?<![\w.])ip\.(src|dst)\s*==\s*([^\s'\"&|)]+)", line):
                found.append((m.group(0), f"ip4.{m.group(1)} == {m.group(2)}"))
        ko = _KO_TRACE.search(line)
        if ko:
            args = ko.group(1).split()
            rest = args[2:]
            if rest and _MAC.match(rest[0]):
                rest = rest[1:]
            proto = rest[0].lower() if rest else ""
            ok = (
                len(args) >= 3
                and "/" in args[0]
                and proto in _PROTOS
                and (len(rest) == 1 if proto == "icmp" else len(rest) == 2)
            )
            if not ok:
                found.append((ko.group(0).strip(), _KO_TRACE_FORM))
        if re.search(r"\bkubectl\s+exec\b", line) and " -- " not in f"{line} ":
            found.append((line.strip(), "kubectl exec ... -- COMMAND"))
    return found


def _graph_issues(b: Runbook) -> list[Issue]:
    out: list[Issue] = []

    def issue(rule: str, **params: str) -> None:
        out.append(Issue("error", rule, b.path, b.id, params))

    step_ids = [s.id for s in b.steps]
    edges: dict[str, list[str]] = {}
    concluded: set[str] = set()
    for s in b.steps:
        edges[s.id] = []
        if not s.checks and not s.command:
            issue("empty-step", step=s.id)
        for name, br in (("pass", s.on_pass), ("fail", s.on_fail)):
            if br.next is None and br.conclude is None:
                issue("missing-branch", step=s.id, branch=name)
            elif br.next is not None:
                if br.next not in step_ids:
                    issue("bad-reference", step=s.id, branch=name, target=br.next)
                else:
                    edges[s.id].append(br.next)
            elif br.conclude is not None and br.conclude not in b.conclusions:
                issue("bad-reference", step=s.id, branch=name, target=br.conclude)
    # reachability from the first step
    seen: set[str] = set()
    todo = [step_ids[0]]
    while todo:
        cur = todo.pop()
        if cur in seen:
            continue
        seen.add(cur)
        todo.extend(edges.get(cur, []))
    for s in b.steps:
        if s.id not in seen:
            issue("unreachable-step", step=s.id)
        else:
            for br in (s.on_pass, s.on_fail):
                if br.conclude:
                    concluded.add(br.conclude)
    for c in b.conclusions:
        if c not in concluded:
            issue("unreachable-conclusion", conclusion=c)
    # cycles (depth-first, colouring)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return [*trail, node, nxt]
            if nxt not in state:
                found = visit(nxt, [*trail, node])
                if found:
                    return found
        state[node] = 2
        return None

    for sid in step_ids:
        if sid not in state:
            loop = visit(sid, [])
            if loop:
                start = loop.index(loop[-1])
                issue("cycle", steps=" -> ".join(loop[start:]))
                break
    return out


def _body_issues(b: Runbook) -> list[Issue]:
    headings = [normalize(line.lstrip("#")) for line in b.body.splitlines() if line.startswith("#")]
    return [
        Issue("error", "missing-section", b.path, b.id, {"section": name})
        for name, words in SECTIONS
        if not any(w in h for h in headings for w in words)
    ]


def lint(
    books: Sequence[Runbook],
    problems: Iterable[Problem] = (),
    *,
    known_checks: Collection[str],
    routing_pool: Sequence[Runbook] | None = None,
    calibration: Calibration | None = None,
) -> list[Issue]:
    """Every defect of *books*. Examples are routed among *routing_pool* (default: *books*)."""
    issues = [
        Issue(
            "error",
            "unreadable",
            p.path,
            "",
            {"problem": p.problem},
            p.key,
            {**dict(p.params), "path": Path(p.path).name},
        )
        for p in problems
    ]
    pool = list(routing_pool) if routing_pool is not None else list(books)
    owners: dict[str, list[str]] = {}
    for b in pool:
        owners.setdefault(b.id, []).append(b.path)
    for b in books:
        if len(owners.get(b.id, [])) > 1:
            others = ", ".join(p for p in owners[b.id] if p != b.path)
            issues.append(Issue("error", "duplicate-id", b.path, b.id, {"other": others}))
        if b.category not in CATEGORIES:
            issues.append(
                Issue(
                    "error",
                    "bad-category",
                    b.path,
                    b.id,
                    {"category": b.category, "allowed": ", ".join(CATEGORIES)},
                )
            )
        for s in b.steps:
            for c in s.checks:
                if c not in known_checks:
                    issues.append(
                        Issue("error", "unknown-check", b.path, b.id, {"step": s.id, "check": c})
                    )
            for wrote, right in command_mistakes(s.command):
                issues.append(
                    Issue(
                        "error",
                        "command-mistake",
                        b.path,
                        b.id,
                        {"step": s.id, "wrote": wrote, "right": right},
                    )
                )
        issues.extend(_graph_issues(b))
        issues.extend(_body_issues(b))
        for text in b.examples:
            r = route(text, pool, calibration=calibration)
            top = r.matches[0].runbook.id if r.matches else "-"
            if r.abstained or top != b.id:
                got = f"{top} (abstained)" if r.abstained and r.matches else top
                issues.append(
                    Issue("error", "example-misrouted", b.path, b.id, {"example": text, "got": got})
                )
        for text in b.counter_examples:
            r = route(text, pool, calibration=calibration)
            if r.best is not None and r.best.runbook.id == b.id:
                issues.append(
                    Issue("error", "counter-example-matches", b.path, b.id, {"example": text})
                )
    # trigger collisions: the same normalised form in several runbooks (across the pool)
    ids = {b.id for b in books}
    forms: dict[str, set[str]] = {}
    for b in pool:
        for t in b.triggers:
            for f in t.forms:
                forms.setdefault(normalize(f), set()).add(b.id)
    for form, where in sorted(forms.items()):
        if len(where) > 1 and where & ids:
            first = sorted(where & ids)[0]
            path = next(b.path for b in books if b.id == first)
            issues.append(
                Issue(
                    "warning",
                    "trigger-collision",
                    path,
                    first,
                    {"term": form, "runbooks": ", ".join(sorted(where))},
                )
            )
    return issues
