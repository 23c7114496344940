"""One whole diagnosis: the question, the symptom's runbook, the checks, in one call.

Session layer, above the engine and the runbooks, below the report and every front (the CLI
today, the agent and the MCP server next). ``run`` takes a Snapshot from any source and does
what a person does with a ticket:

1. merges the question asked with the one the bundle recorded (``bundle.yaml``);
2. runs the checks and the trace (``netdoctor.engine.diagnose``);
3. when there is a symptom, routes it to the best-fitting runbook and walks that runbook over
   the same data, reusing the diagnosis unless ``only``/``skip`` narrowed it.

The result is a ``Diagnosis`` that carries the runbook's walk and the routing. The report
renders it, so a library caller gets exactly what the CLI prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netdoctor import engine
from netdoctor.model.snapshot import Question, Snapshot, parse_port
from netdoctor.runbooks.execute import RunbookRun, execute
from netdoctor.runbooks.loader import load_runbooks
from netdoctor.runbooks.model import Runbook
from netdoctor.runbooks.router import Routing, route

__all__ = ["Diagnosis", "merge_question", "run", "runbook_library"]


@dataclass(frozen=True)
class Diagnosis(engine.Diagnosis):
    """The engine's diagnosis, plus the runbook the symptom chose and walked.

    ``routing`` is None without a symptom. ``runbook`` is None when no runbook fits; the
    routing then says which came closest and what to ask. ``covered`` holds the checks the
    walked runbook runs: the report marks their findings with the runbook's id."""

    routing: Routing | None = None
    runbook: RunbookRun | None = None
    covered: frozenset[str] = frozenset()


def merge_question(
    recorded: Question | None,
    *,
    from_: str | None = None,
    to: str | None = None,
    port: str | None = None,
    symptom: str | None = None,
) -> Question | None:
    """The question asked on top of the one the bundle recorded, or None when none is asked.

    A new ``--from`` or ``--to`` asks about another flow: the other recorded end and the
    recorded port are dropped. A port or a symptom alone keeps the recorded ends; the symptom
    and the protocol carry over unless given."""
    if not (from_ or to or port or symptom):
        return None
    base = recorded
    p, proto = parse_port(port) if port else (None, "TCP")
    return Question(
        from_=from_ if from_ is not None else (base.from_ if base and not to else None),
        to=to if to is not None else (base.to if base and not from_ else None),
        port=p if port else (base.port if base and not (from_ or to) else None),
        protocol=proto if port else (base.protocol if base else "TCP"),
        symptom=symptom if symptom is not None else (base.symptom if base else None),
    )


def runbook_library(folder: str | Path | None = None) -> list[Runbook]:
    """The shipped runbooks, plus a team's folder when one is given."""
    books = load_runbooks()
    if folder:
        books += load_runbooks(Path(folder))
    return books


def run(
    snap: Snapshot,
    question: Question | None = None,
    *,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    runbooks: Sequence[Runbook] | None = None,
    runbooks_dir: str | Path | None = None,
) -> Diagnosis:
    """Diagnose ``snap`` for ``question`` (None: the bundle's own question, else the whole
    cluster), and walk the runbook its symptom picks from ``runbooks`` (default: the shipped
    ones, plus ``runbooks_dir``'s, read only when a symptom needs them)."""
    only, skip = tuple(only), tuple(skip)
    d = engine.diagnose(snap, question, only=only, skip=skip)
    said = d.question.symptom if d.question else None
    if not said:
        return Diagnosis(**_fields(d))
    books = runbook_library(runbooks_dir) if runbooks is None else list(runbooks)
    routing = route(said, books, cni=d.cni.names)
    best = routing.best
    if best is None:
        return Diagnosis(**_fields(d), routing=routing)
    # The diagnosis already ran every check, unless --only/--skip narrowed it.
    walked = execute(
        best.runbook,
        d.snapshot,
        d.question,
        diagnosis=None if (only or skip) else d,
    )
    return Diagnosis(
        **_fields(d),
        routing=routing,
        runbook=walked,
        covered=frozenset(best.runbook.check_ids),
    )


def _fields(d: engine.Diagnosis) -> dict[str, Any]:
    return {f: getattr(d, f) for f in engine.Diagnosis.__dataclass_fields__}
