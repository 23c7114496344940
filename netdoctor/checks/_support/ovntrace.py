"""The right way to ask OVN where a pod's packet goes: ``kubectl ko trace`` and raw ``ovn-trace``.

Checks layer, pure functions (no snapshot access): the Kube-OVN checks use them for their fix and
verify commands, and a runbook can print them for any flow. The microflow matches on
``ip4.dst``/``ip6.dst`` with the pod's real ``eth.src`` and the next hop's ``eth.dst`` (the
destination pod's MAC on the same logical switch, the logical router port's MAC across
subnets); writing an IP after ``eth.dst`` is the classic mistake that makes ovn-trace reject
the flow or trace a packet that can never exist.

``kubectl ko trace NS/POD TARGET_IP [TARGET_MAC] icmp|tcp|udp [PORT]`` is the kubectl-ko plugin
that ships with Kube-OVN; it looks the MACs up itself and runs ovn-trace in ovn-central.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["OVN_CENTRAL", "TraceFlow", "ko_trace_command", "ovn_trace_command", "port_name"]

OVN_CENTRAL = "kube-system exec deploy/ovn-central -c ovn-central --"
_SOURCE_PORT = 10000  # any unprivileged source port; ovn-trace needs one for tcp/udp matches


def port_name(pod: str, namespace: str) -> str:
    """Kube-OVN's logical switch port for a pod: ``<pod>.<namespace>``."""
    return f"{pod}.{namespace}"


@dataclass(frozen=True)
class TraceFlow:
    """One flow from a pod, as far as it is known. MACs are optional."""

    namespace: str
    pod: str
    dst_ip: str
    protocol: str = "icmp"  # icmp | tcp | udp (case-insensitive)
    port: int | None = None
    logical_switch: str | None = None  # the source pod's subnet (ovn.kubernetes.io/logical_switch)
    src_ip: str | None = None
    src_mac: str | None = None
    dst_mac: str | None = None  # destination pod's MAC, or the router port's across subnets

    @property
    def proto(self) -> str:
        p = self.protocol.lower()
        return p if p in ("tcp", "udp") else "icmp"


def ko_trace_command(flow: TraceFlow) -> str:
    """``kubectl ko trace default/netdebug04 10.16.0.9 tcp 22``."""
    words = ["kubectl", "ko", "trace", f"{flow.namespace}/{flow.pod}", flow.dst_ip, flow.proto]
    if flow.proto != "icmp" and flow.port is not None:
        words.append(str(flow.port))
    return " ".join(words)


def ovn_trace_command(flow: TraceFlow) -> str | None:
    """The raw ovn-trace, run in ovn-central, or None when a MAC or the switch is unknown
    (then only ``kubectl ko trace``, which looks them up, is right)."""
    if not (flow.logical_switch and flow.src_ip and flow.src_mac and flow.dst_mac):
        return None
    try:
        v6 = ipaddress.ip_address(flow.dst_ip).version == 6
    except ValueError:
        return None
    ip = "ip6" if v6 else "ip4"
    terms = [
        f'inport == "{port_name(flow.pod, flow.namespace)}"',
        f"eth.src == {flow.src_mac.lower()}",
        f"eth.dst == {flow.dst_mac.lower()}",
        f"{ip}.src == {flow.src_ip}",
        f"{ip}.dst == {flow.dst_ip}",
        "ip.ttl == 64",
    ]
    if flow.proto == "icmp":
        terms.append("icmp6.type == 128" if v6 else "icmp4.type == 8")
    else:
        terms.append(f"{flow.proto}.src == {_SOURCE_PORT}")
        if flow.port is not None:
            terms.append(f"{flow.proto}.dst == {flow.port}")
    match = " && ".join(terms)
    return f"kubectl -n {OVN_CENTRAL} ovn-trace --ct=new {flow.logical_switch} '{match}'"
