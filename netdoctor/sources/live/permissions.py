"""The API permissions each live mode uses: what ``deploy/rbac.yaml`` must grant, no more.

sources layer. ``(API group, resource, verb, scope)`` with scope ``cluster`` (a ClusterRole) or
``namespace`` (a Role where the objects live). ``read-only`` is derived from the list paths the
reader calls, so a kind added there without a grant fails ``tests/sources/live/test_rbac.py``.
"""

from __future__ import annotations

from typing import Final

from netdoctor.sources.live.api import API_PATHS

__all__ = ["MODES", "Permission"]

Permission = tuple[str, str, str, str]


def _read_only() -> tuple[Permission, ...]:
    out: list[Permission] = [("", "/version", "get", "nonResource")]
    for path, rbac in API_PATHS.values():
        resource, _, group = rbac.partition(".")
        scope = "namespace" if "{namespace}" in path else "cluster"
        out.append((group, resource, "list", scope))
    return tuple(out)


MODES: Final[dict[str, tuple[Permission, ...]]] = {
    # diagnose / collect without --probe or node facts: get/list only.
    "read-only": _read_only(),
    # node facts: exec the bundle's commands in the CNI agent's pod, else a pinned debug pod in
    # netdoctor's own namespace (created, watched, deleted; leftovers listed and deleted).
    "node-facts": (
        ("", "pods/exec", "create", "namespace"),
        ("", "pods", "create", "namespace"),
        ("", "pods", "get", "namespace"),
        ("", "pods", "list", "namespace"),
        ("", "pods", "delete", "namespace"),
    ),
    # probes: an ephemeral container in the source pod (any namespace), its output read by exec.
    "probes": (
        ("", "pods", "get", "cluster"),
        ("", "pods/ephemeralcontainers", "patch", "cluster"),
        ("", "pods/exec", "create", "cluster"),
    ),
}
