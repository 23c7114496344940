"""The one interface every source implements: ``load() -> Snapshot``.

Sits at the start of the flow. A source (bundle folder or archive, cluster-info dump, live
cluster, lab, in-memory builder for tests) turns raw input into one ``Snapshot`` and never
judges it; everything after it (checks, trace, diagnose, report) only reads the Snapshot.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from netdoctor.model.snapshot import Snapshot

__all__ = ["Source"]


@runtime_checkable
class Source(Protocol):
    """Anything that can produce a Snapshot. Raises ``InputError`` for unusable input."""

    def load(self) -> Snapshot: ...
