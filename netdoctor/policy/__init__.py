"""NetworkPolicy (``networking.k8s.io/v1``) semantics, pure and over model types.

Policy layer: below the checks, the trace and the engine, which call it; it reads no file and
calls no API. ``evaluate_flow`` answers one flow with its evidence (which policies select each
side, which rule allowed it, the smallest policy that would); ``Universe`` answers the whole
matrix by label-equivalence classes (``netdoctor reach``).
"""

from netdoctor.policy.flow import (
    FlowVerdict,
    RuleRef,
    SideResult,
    evaluate_flow,
    namespace_labels,
    policies_selecting,
)
from netdoctor.policy.matrix import ClassMatrix, Klass, NamespacesUnknown, Universe
from netdoctor.policy.reach import Reach, parse_selector, reach

__all__ = [
    "ClassMatrix",
    "FlowVerdict",
    "Klass",
    "NamespacesUnknown",
    "Reach",
    "RuleRef",
    "SideResult",
    "Universe",
    "evaluate_flow",
    "namespace_labels",
    "parse_selector",
    "policies_selecting",
    "reach",
]
