"""Every module's public surface is explicit: a sorted __all__ naming things that exist."""

from __future__ import annotations

import importlib
import pkgutil

import netdoctor


def _modules():
    for info in pkgutil.walk_packages(netdoctor.__path__, "netdoctor."):
        yield importlib.import_module(info.name)


def test_every_all_is_sorted_and_names_existing_attributes():
    checked = 0
    for module in _modules():
        names = getattr(module, "__all__", None)
        if names is None:
            continue
        checked += 1

        # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
        def kind(name: str) -> tuple[int, str]:
            return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)

        assert list(names) == sorted(names, key=kind), module.__name__
        missing = [n for n in names if not hasattr(module, n)]
        assert missing == [], module.__name__
    assert checked >= 20


def test_the_package_imports_no_heavy_rendering_or_client_library_at_start():
    import subprocess
    import sys

    code = (
        "import sys, netdoctor.cli, netdoctor.engine, netdoctor.sources.bundle; "
        "print(','.join(m for m in ('rich', 'kubernetes', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
