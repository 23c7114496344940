"""What other layers may ask the checks: each cause's detector, exported once.

Checks layer. The trace names a root cause at the hop where a packet dies; when that cause is
one a check detects (the address a CNI agent uses is not the node's InternalIP, NET-301 and
NET-402), the trace asks the check's own detector here instead of detecting it again with
weaker logic. An import contract in pyproject.toml keeps the trace to this module and
``checks._support``.

Registers no check (only the check modules do).
"""

from __future__ import annotations

import weakref

from netdoctor.checks._support.common import AddressClaim, ip_only
from netdoctor.checks._support.registry import Context
from netdoctor.checks.calico.address import calico_claims
from netdoctor.checks.flannel import flannel_claims
from netdoctor.model.snapshot import Snapshot

__all__ = ["AgentAddress", "agent_addresses", "wrong_agent_address"]

AgentAddress = tuple[str, AddressClaim]  # (the cause if it is wrong, the claim)

_CAUSE = {"calico": "calico-node-address-mismatch", "flannel": "flannel-public-ip-mismatch"}
_CACHE: weakref.WeakKeyDictionary[Snapshot, dict[str, list[AgentAddress]]] = (
    weakref.WeakKeyDictionary()
)


def agent_addresses(snap: Snapshot) -> dict[str, list[AgentAddress]]:
    """Per node, the address each CNI agent uses for it, as the NET-301 and NET-402 checks read
    it (Calico: the node annotation, the Calico Node resource, calico-node's log line;
    flannel: public-ip, or public-ip-overwrite when set). Computed once per Snapshot."""
    found = _CACHE.get(snap)
    if found is None:
        ctx = Context(snapshot=snap)
        found = {}
        for cni, claims in (("calico", calico_claims(ctx)), ("flannel", flannel_claims(ctx))):
            for node, claim in claims.items():
                found.setdefault(node, []).append((_CAUSE[cni], claim))
        _CACHE[snap] = found
    return found


def wrong_agent_address(snap: Snapshot, node: str) -> str | None:
    """The root-cause id when a CNI agent uses an address for ``node`` that is not one of its
    InternalIPs (NET-301, NET-402), else None."""
    n = snap.node_by_name.get(node)
    if n is None or not n.internal_ips:
        return None
    for cause, claim in agent_addresses(snap).get(node, ()):
        if ip_only(claim.address) not in n.internal_ips:
            return cause
    return None
