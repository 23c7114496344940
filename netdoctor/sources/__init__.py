"""Sources: turn raw input (a bundle folder or archive, a cluster-info dump, ...) into a Snapshot.

The first layer of the flow; see ``shared/docs/architecture.md``. Sources never judge.
"""

from __future__ import annotations

from netdoctor.sources.base import Source
from netdoctor.sources.bundle import BundleSource

__all__ = ["BundleSource", "Source"]
