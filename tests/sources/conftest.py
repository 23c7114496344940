"""Fixtures for the source tests: the fixture bundles, archive builders, and a private temp dir.

Every test here runs with ``tempfile.tempdir`` pointed at a fresh folder inside ``tmp_path``,
and afterwards asserts that no ``netdoctor-*`` unpack folder was left behind in it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from source_helpers import BUNDLES


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``tempfile.gettempdir()`` -> ``tmp_path/tmp``; fails the test if an unpack dir is left."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp
    assert tempfile.gettempdir() == str(tmp)
    left = sorted(p.name for p in tmp.glob("netdoctor-*"))
    assert left == [], f"unpack folders left behind: {left}"


@pytest.fixture
def basic(tmp_path: Path) -> Path:
    """A writable copy of ``fixtures/bundles/basic``."""
    dest = tmp_path / "basic"
    shutil.copytree(BUNDLES / "basic", dest)
    return dest
