"""Checks: one module per root-cause family; importing this package registers them all."""

from netdoctor.checks import (
    calico,
    cilium,
    cni,
    firewall,
    flannel,
    kubeovn,
    node,
    overlay,
    policy,
    service,
    workload,
)
from netdoctor.checks.registry import REGISTRY

__all__ = [
    "REGISTRY",
    "calico",
    "cilium",
    "cni",
    "firewall",
    "flannel",
    "kubeovn",
    "node",
    "overlay",
    "policy",
    "service",
    "workload",
]
