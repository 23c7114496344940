"""What a runbook is once read: front matter as typed, frozen data, and the Markdown body.

Runbooks layer (between the engine and the report). A runbook is a team's troubleshooting
workflow made executable: trigger terms for the router, a category from a closed set, and steps
that each run named checks (root-cause ids) and branch on the result to a next step or a
conclusion. The format is documented in ``docs/runbooks.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "CATEGORIES",
    "Branch",
    "Runbook",
    "Step",
    "Trigger",
]

CATEGORIES: Final[tuple[str, ...]] = (
    "pod_to_pod",
    "pod_to_pod_same_node",
    "pod_to_pod_cross_node",
    "pod_to_service",
    "dns",
    "pod_to_external",
    "nodeport_ingress",
    "general",
)


@dataclass(frozen=True)
class Trigger:
    """A term (with aliases, in either language) whose presence in a symptom votes for a runbook."""

    term: str
    weight: float = 1.0
    aliases: tuple[str, ...] = ()

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)


@dataclass(frozen=True)
class Branch:
    """Where a step leads: the id of the next step, or of a conclusion."""

    next: str | None = None
    conclude: str | None = None


@dataclass(frozen=True)
class Step:
    id: str
    title: dict[str, str]
    checks: tuple[str, ...] = ()
    command: str = ""  # what a person runs for the part no check can automate
    on_pass: Branch = field(default_factory=Branch)
    on_fail: Branch = field(default_factory=Branch)
    means: dict[str, dict[str, str]] = field(default_factory=dict)  # pass|fail -> lang -> text


@dataclass(frozen=True)
class Runbook:
    id: str
    title: dict[str, str]
    category: str
    cni: tuple[str, ...]  # empty: any CNI
    priority: int
    triggers: tuple[Trigger, ...]
    exclude: tuple[Trigger, ...]
    examples: tuple[str, ...]
    counter_examples: tuple[str, ...]
    steps: tuple[Step, ...]
    conclusions: dict[str, dict[str, str]]  # id -> lang -> text
    body: str
    path: str  # where it was read from, for messages

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def check_ids(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for s in self.steps:
            for c in s.checks:
                seen.setdefault(c, None)
        return tuple(seen)
