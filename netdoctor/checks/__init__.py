"""Checks: one module per root-cause family; importing this package registers them all."""

from netdoctor.checks import calico, cni, flannel, node, policy
from netdoctor.checks.registry import REGISTRY

__all__ = ["REGISTRY", "calico", "cni", "flannel", "node", "policy"]
