"""Checks: one module per root-cause family (``FAMILIES``).

Importing this package stays light: the trace and the engine import helpers from it, and a
``netdoctor trace`` call must start fast. ``load_checks()`` imports every family, which
registers its checks; ``netdoctor.checks.REGISTRY`` does the same on first use.
"""

from importlib import import_module
from typing import Any

from netdoctor.checks.registry import FAMILIES, load_checks

__all__ = ["FAMILIES", "REGISTRY", "load_checks"]


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":
        return load_checks()
    if name in FAMILIES:
        return import_module(f"netdoctor.checks.{name}")
    raise AttributeError(f"module 'netdoctor.checks' has no attribute {name!r}")
