"""The test tree mirrors the package: each package of netdoctor has its folder under tests/,
and each folder under tests/ is a package's (or the shared test data), so a newcomer finds
the tests of any module from its path."""

from __future__ import annotations

from pathlib import Path

import netdoctor

PKG = Path(netdoctor.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent
DATA = {"fixtures", "scenarios", "examples"}  # shared inputs, not a package's tests
MODULES = {
    "session": "session",
    "errors": "test_errors.py",
}  # one-file layers: where they're tested


def _packages() -> set[str]:
    return {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}


def test_every_package_has_its_folder_of_tests() -> None:
    missing = sorted(name for name in _packages() if not (TESTS / name).is_dir())
    assert missing == []


def test_every_test_folder_belongs_to_a_package_or_is_shared_data() -> None:
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    stray = sorted(folders - _packages() - DATA - set(MODULES) - {"__pycache__"})
    assert stray == []


def test_the_one_file_layers_have_their_tests() -> None:
    for module, where in MODULES.items():
        assert (PKG / f"{module}.py").exists(), module
        assert (TESTS / where).exists(), where
