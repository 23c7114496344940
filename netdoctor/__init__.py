"""netdoctor: find out why pods cannot reach each other, a Service or DNS, and say how to fix it.

Flow: sources -> Snapshot (model) -> checks -> engine (diagnose) -> report -> cli.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
