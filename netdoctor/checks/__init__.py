"""Checks: the root-cause families, one module each (``node.py``) or one package of topic
modules (``calico/address.py``); ``_support/`` holds what they share and registers nothing.

Importing this package stays light: the trace and the engine import helpers from it, and a
``netdoctor trace`` call must start fast. ``load_checks()`` imports every check module (found
by walking the package, so a new module needs no list edited), which registers its checks;
``netdoctor.checks.REGISTRY`` does the same on first use.
"""

from typing import Any

from netdoctor.checks._support.registry import load_checks

__all__ = ["REGISTRY", "load_checks"]


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":
        return load_checks()
    raise AttributeError(f"module 'netdoctor.checks' has no attribute {name!r}")
