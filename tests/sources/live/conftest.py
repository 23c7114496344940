"""Fixtures for the live-source tests: a stand-in API server serving an example bundle."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from standin import StandIn

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def calico(tmp_path: Path) -> Iterator[tuple[StandIn, Path]]:
    """The calico-ib-autodetect example served live, and a kubeconfig pointing at it."""
    with StandIn.from_bundle(EXAMPLES / "calico-ib-autodetect") as api:
        yield api, api.kubeconfig(tmp_path / "kubeconfig")
