"""The question behind ``netdoctor reach``: which pods may open which flows, for a set of
namespaces or label selectors and ports.

Policy layer (pure). Pods are picked, grouped into label-equivalence classes (matrix.py), and
one class matrix is computed per port asked; pod pairs exist only when a renderer expands them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netdoctor.model.k8s import LabelRequirement, LabelSelector, Pod
from netdoctor.model.snapshot import Snapshot
from netdoctor.policy.matrix import ClassMatrix, Universe
from netdoctor.policy.selectors import selector_matches

__all__ = ["Reach", "parse_selector", "reach"]


@dataclass(frozen=True)
class Reach:
    universe: Universe
    pods: tuple[Pod, ...]
    matrices: tuple[ClassMatrix, ...]  # one per (port, protocol) asked, in order


def parse_selector(text: str) -> LabelSelector:
    """``kubectl -l`` syntax: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``k in (a,b)``,
    ``k notin (a,b)``, comma-separated. Raises ValueError naming the bad part."""
    labels: dict[str, str] = {}
    exprs: list[LabelRequirement] = []
    parts: list[str] = []
    depth, cur = 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for raw in parts:
        p = raw.strip()
        if not p:
            raise ValueError(f"empty requirement in {text!r}")
        words = p.split(None, 1)
        if len(words) == 2 and words[1].split("(", 1)[0].strip() in ("in", "notin"):
            op_word, _, rest = words[1].partition("(")
            values = [v.strip() for v in rest.rstrip(") ").split(",") if v.strip()]
            op = "In" if op_word.strip() == "in" else "NotIn"
            exprs.append(LabelRequirement(key=words[0], operator=op, values=values))
        elif "!=" in p:
            k, v = (s.strip() for s in p.split("!=", 1))
            exprs.append(LabelRequirement(key=k, operator="NotIn", values=[v]))
        elif "=" in p:
            k, v = (s.strip() for s in p.replace("==", "=").split("=", 1))
            labels[k] = v
        elif p.startswith("!"):
            exprs.append(LabelRequirement(key=p[1:].strip(), operator="DoesNotExist"))
        elif " " not in p:
            exprs.append(LabelRequirement(key=p, operator="Exists"))
        else:
            raise ValueError(f"cannot read {p!r}")
    return LabelSelector(match_labels=labels, match_expressions=exprs)


def reach(
    snap: Snapshot,
    *,
    namespaces: Sequence[str] = (),
    selectors: Sequence[LabelSelector] = (),
    ports: Sequence[tuple[int | None, str]] = ((None, "ICMP"),),
) -> Reach:
    """The matrix for the pods in ``namespaces`` (all when empty) matching any of
    ``selectors`` (all when empty). Pods without an IP are left out (no traffic to judge).
    Raises NamespacesUnknown when a namespaceSelector needs labels that were not collected."""
    wanted = set(namespaces)
    pods = tuple(
        p
        for p in snap.pods or ()
        if (not wanted or p.metadata.namespace in wanted)
        and (not selectors or any(selector_matches(s, p.metadata.labels) for s in selectors))
        and p.ips
    )
    ns_labels = (
        {n.metadata.name: n.metadata.labels for n in snap.namespaces}
        if snap.namespaces is not None
        else None
    )
    universe = Universe(pods, snap.networkpolicies or (), ns_labels)
    return Reach(universe, pods, tuple(universe.matrix(p, proto) for p, proto in ports))
