"""Calico's published Kubernetes compatibility, as data (``data/calico-k8s-compat.yaml``).

Catalog layer: packaged facts with their sources, loaded once. Checks ask ``calico_release``
for a release's row; an unknown release is ``None`` (the check says so, never guesses).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["CalicoRelease", "calico_release", "minor_of"]


def minor_of(version: str) -> tuple[int, int] | None:
    """(major, minor) of ``v3.26.1``, ``3.26``, ``v1.28.6+k3s1``; None when it is not one."""
    text = version.strip().lstrip("vV")
    parts = text.split(".")
    if len(parts) < 2:
        return None
    minor = ""
    for ch in parts[1]:
        if not ch.isdigit():
            break
        minor += ch
    if not parts[0].isdigit() or not minor:
        return None
    return int(parts[0]), int(minor)


@dataclass(frozen=True)
class CalicoRelease:
    release: str  # "3.26"
    tested: tuple[tuple[int, int], ...]  # Kubernetes minors, oldest first
    broken_at_or_below: tuple[int, int] | None
    url: str
    text: str


@cache
def _table() -> dict[str, CalicoRelease]:
    import yaml

    raw = resources.files(__package__).joinpath("data", "calico-k8s-compat.yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(raw.read_text(encoding="utf-8"), Loader=loader) or {}
    out = {}
    for rel, row in (data.get("releases") or {}).items():
        tested = tuple(sorted(m for m in (minor_of(str(v)) for v in row["tested"]) if m))
        broken = row.get("broken_at_or_below")
        out[str(rel)] = CalicoRelease(
            release=str(rel),
            tested=tested,
            broken_at_or_below=minor_of(str(broken)) if broken else None,
            url=str(row["url"]),
            text=str(row["text"]),
        )
    return out


def calico_release(version: str) -> CalicoRelease | None:
    """The table's row for a Calico version (``v3.26.1`` -> the 3.26 row), or None."""
    m = minor_of(version)
    if m is None:
        return None
    return _table().get(f"{m[0]}.{m[1]}")
