"""The live source: a running cluster through the official ``kubernetes`` client.

``connect()`` (kubeconfig / in-cluster) -> ``LiveSource(api_client).load()`` -> Snapshot, the same
one a bundle gives; ``collect.write_bundle`` writes what was read as a bundle.
"""

from __future__ import annotations

from netdoctor.sources.live.api import ApiReader, ListResult, connect
from netdoctor.sources.live.source import LiveRead, LiveSource, snapshot_of

__all__ = ["ApiReader", "ListResult", "LiveRead", "LiveSource", "connect", "snapshot_of"]
