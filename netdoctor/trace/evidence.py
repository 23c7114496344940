"""Evidence for the trace's hops: each fact quoted from the bundle file it was read from.

Part of the trace (``netdoctor.trace``). A hop's evidence is addressed data (source file, object,
field, value) so a person can open the bundle and find the line; ``Quote`` builds it for one
snapshot (its provenance names the files), for node facts and for a pod's own namespace.
"""

from __future__ import annotations

from netdoctor.model.findings import Evidence
from netdoctor.model.layout import pod_path
from netdoctor.model.nodefacts import Interface, IptRule, Route, RoutingRule
from netdoctor.model.snapshot import Snapshot

__all__ = ["Quote", "ipt_rule_ev"]


class Quote:
    """Evidence quoting one snapshot's facts (``pod`` given: from that pod's namespace)."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def route(self, where: str, route: Route | None, dst: str, pod: str | None = None) -> Evidence:
        src = self.pod_src(pod, "ip_route") if pod else self.snap.node_source(where, "ip_route")
        return Evidence(
            source=src,
            object=f"Pod/{pod}" if pod else f"Node/{where}",
            field=f"route to {dst}",
            value=route.text() if route else "none",
            node=None if pod else where,
        )

    def rule(self, node: str | None, rule: RoutingRule, pod: str | None = None) -> Evidence:
        return Evidence(
            source=self.pod_src(pod, "ip_rule")
            if pod
            else self.snap.node_source(node or "", "ip_rule"),
            object=f"Pod/{pod}" if pod else f"Node/{node}",
            field=f"rule {rule.priority}",
            value=f"{rule.action or 'lookup'} {rule.table or ''}".strip(),
            node=node,
        )

    def fact(self, node: str, part: str, field: str, value: str) -> Evidence:
        """A node fact quoted from its file (``part`` as in the bundle layout: ip_neigh, ...)."""
        return Evidence(
            source=self.snap.node_source(node, part),
            object=f"Node/{node}",
            field=field,
            value=value,
            node=node,
        )

    def sysctl(self, node: str, key: str, value: str) -> Evidence:
        return self.fact(node, "sysctl", key, value)

    def iface(
        self, node: str | None, iface: Interface, fld: str, value: str, pod: str | None = None
    ) -> Evidence:
        return Evidence(
            source=self.pod_src(pod, "ip_addr")
            if pod
            else self.snap.node_source(node or "", "ip_addr"),
            object=f"Interface/{iface.ifname}",
            field=fld,
            value=value,
            node=node,
        )

    def pod_src(self, ref: str | None, part: str) -> str:
        ref = ref or ""
        return self.snap.provenance.get(f"pod:{ref}:{part}") or pod_path(ref, part)


def ipt_rule_ev(source: str, node: str, rule: IptRule) -> Evidence:
    """An iptables rule quoted by its line in ``iptables-save``."""
    return Evidence(
        source=source,
        object=f"Chain/filter/{rule.chain}",
        field=f"line {rule.line}",
        value=rule.text,
        node=node,
    )
