"""Odd one out: one node that differs from its peers is often the whole diagnosis.

Checks layer. A check that compares one setting across nodes (an MTU, a sysctl, the CNI config,
the FORWARD policy, the agent's image) asks ``odd_one_out`` whether a minority of nodes differs
from a clear majority, and attaches the returned note to its finding, so the report says "node3
is the only node with MTU 9000; the other 4 have 1500".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from netdoctor.model.findings import Message

__all__ = ["TOPICS", "OddOneOut", "odd_one_out"]

# Each topic has a note in the catalog: ``note.odd_one_out.<topic>`` ({nodes}, {value},
# {majority}, {count}, {total}). A check for another setting adds its own key the same way.
TOPICS = ("mtu", "sysctl", "cni_config", "forward_policy", "agent_image")


@dataclass(frozen=True)
class OddOneOut:
    """The nodes that differ (sorted), what they have, and what the majority has."""

    nodes: tuple[str, ...]
    values: Mapping[str, str]  # odd node -> its value
    majority: str
    majority_count: int
    total: int

    def note(self, topic: str, **params: str) -> Message:
        """The catalog note for this topic: ``note.odd_one_out.<topic>``."""
        shown = sorted({self.values[n] for n in self.nodes})
        return Message(
            f"note.odd_one_out.{topic}",
            {
                "nodes": ", ".join(self.nodes),
                "value": ", ".join(shown),
                "majority": self.majority,
                "count": str(self.majority_count),
                "total": str(self.total),
                **params,
            },
        )


def odd_one_out(values: Mapping[str, str], *, min_nodes: int = 3) -> OddOneOut | None:
    """The minority that differs from a strict majority, or None.

    ``values`` maps node name -> the setting as text (absent nodes are simply not compared).
    Needs ``min_nodes`` nodes at least; the majority must hold more than half of them and the odd
    ones must be at most a third, so a 50/50 split (two camps, no "normal") says nothing.
    """
    total = len(values)
    if total < min_nodes:
        return None
    counts = Counter(values.values())
    majority, count = counts.most_common(1)[0]
    odd = tuple(sorted(n for n, v in values.items() if v != majority))
    if not odd or count * 2 <= total or len(odd) * 3 > total:
        return None
    return OddOneOut(
        nodes=odd,
        values={n: values[n] for n in odd},
        majority=majority,
        majority_count=count,
        total=total,
    )
