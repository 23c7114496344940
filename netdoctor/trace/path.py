"""Follow one packet and its reply over the node facts, hop by hop, as the kernel would.

Where it sits: the analysis layer, beside the checks. It reads only the ``Snapshot`` (pod and
node network facts, Pod and Node objects) and never the probes: the path is computed from
routes, addresses, rules, sysctls and firewall rules, so that measured probes can be set beside
it. Words come from the catalog (``catalog/trace.yaml``, keys ``hop.<stage>.<outcome>``).

A ``Path`` is the request (source pod to target) followed by its reply (target back to the
source, conntrack state ESTABLISHED). Its verdict is for the round trip: ``delivered`` when
every hop passes, ``dropped`` when some hop drops (``drop_at`` = the first), else ``unknown``.
A hop is ``unknown`` when a fact it needs is missing (it names the file or key) or lies outside
the facts (a router that is not a node of the snapshot); the walk then goes on where the
packet can only be going (e.g. to the node holding an outer destination), so a later certain
drop still decides the verdict.

Stages, in order of travel (``Hop.stage``):

- ``pod-route``: the route lookup in the sending namespace (policy rules, tables, longest
  prefix, metric); ``pod-egress``: the egress interface's MTU for a don't-fragment packet.
- ``veth``: the pod's ``eth0`` to its host peer (``link_index`` = the host ifindex, else the
  host ``/32`` route, else the bridge whose subnet holds the pod), the next hop's ARP
  (an address on the host side, or ``proxy_arp``).
- ``bridge``: a frame switched between two ports of a bridge (flannel's ``cni0``); with
  ``net.bridge.bridge-nf-call-iptables = 1`` it also traverses ``filter FORWARD``.
- ``node-route``: the node's lookup (rules + tables; the ``local`` table delivers to the node);
  ``node-forwarding``: ``net.ipv4.conf.<in>.forwarding``; ``rp-filter``: reverse-path
  filtering (effective value max(all, <in>); strict: the route back to the source must leave
  by the arrival interface, loose: any unicast route); ``filter-forward`` / ``filter-input`` /
  ``filter-output``: the iptables chains (``netdoctor.netfilter``); ``egress-mtu``.
- ``encap``: VXLAN (next hop, neighbour entry, FDB entry, VNI, port, outer addresses, inner
  size vs the device MTU) or IP-in-IP (``tunl0``: outer destination = the onlink gateway,
  protocol 4, 20 bytes); ``outer-route``: the outer packet's own lookup (a local destination
  means the node sends the packet to itself); ``underlay``: the next hop must be an address
  of a node on a subnet of the egress interface (the same segment); a router that is no node
  of the snapshot is outside the facts (unknown).
- ``decap``: a VXLAN device with that VNI and UDP port (or an IP-in-IP device) on the receiver.
- ``delivery``: into the pod (host veth or bridge port, the pod's MTU) or to the node itself;
  ``pod-ingress``: the pod's interface holds the destination; ``port``: a container declares
  the TCP/UDP port (else unknown: a listener is never guessed).

Not modelled: NAT (DNAT, Services, MASQUERADE rewriting the source), IPv6, conntrack beyond the
given state (request NEW, reply ESTABLISHED), tc and eBPF programs, IPsec/WireGuard, routers
that are not nodes of the snapshot, NetworkPolicy objects (their iptables rules are evaluated).

The code: this module holds the entry point and the driver of the two directions; the walker
and its hops are in ``walk``, route lookups in ``routing``, evidence in ``evidence``, the root
cause a drop names in ``causes``, the filter chains in ``firewall``, and one module per leg in
``stages`` (``pod``, ``node``, ``encap``, ``underlay``, ``delivery``).
"""

from __future__ import annotations

from netdoctor.model.k8s import Pod
from netdoctor.model.snapshot import Snapshot
from netdoctor.netfilter.felix import ipv4
from netdoctor.trace.stages.node import node_output
from netdoctor.trace.stages.pod import from_pod
from netdoctor.trace.walk import STAGES, Hop, Path, Pkt, Stop, Walk, index

__all__ = ["STAGES", "Hop", "Path", "trace"]


def _resolve(snap: Snapshot, target: str) -> tuple[str, Pod | None]:
    if "/" in target and ipv4(target) is None:
        pod = snap.pod_by_ref.get(target)
        if pod is None:
            raise ValueError(f"no pod {target!r} in the snapshot")
        ips = [ip for ip in pod.ips if ipv4(ip) is not None]
        if not ips:
            raise ValueError(f"pod {target!r} has no IPv4 address")
        return ips[0], pod
    addr = ipv4(target)
    if addr is None:
        raise ValueError(f"{target!r} is neither a pod (ns/name) nor an IPv4 address")
    pods = snap.pods_by_ip.get(str(addr), [])
    return str(addr), pods[0] if len(pods) == 1 else None


def _walk(snap: Snapshot, direction: str, hops: list[Hop], start: Pod | str, pkt: Pkt) -> None:
    w = Walk(snap, direction, hops)
    try:
        if isinstance(start, str):
            node_output(w, start, pkt)
        else:
            from_pod(w, start, pkt)
    except Stop:
        pass


def trace(
    snap: Snapshot,
    source: str,
    target: str,
    *,
    port: int | None = None,
    protocol: str = "ICMP",
    size: int = 84,
) -> Path:
    """The round trip of one packet from the pod ``source`` (``ns/pod``) to ``target`` (a pod
    ref or an IPv4 address) and back. ``protocol``: ICMP (echo request and reply), TCP (SYN,
    then SYN-ACK) or UDP; ``size``: the IP packet size, sent with don't-fragment."""
    proto = protocol.lower()
    if proto not in ("icmp", "tcp", "udp"):
        raise ValueError(f"protocol {protocol!r}: expected ICMP, TCP or UDP")
    src_pod = snap.pod_by_ref.get(source)
    if src_pod is None:
        raise ValueError(f"no pod {source!r} in the snapshot")
    src_ips = [ip for ip in src_pod.ips if ipv4(ip) is not None]
    if not src_ips:
        raise ValueError(f"pod {source!r} has no IPv4 address")
    dst_ip, dst_pod = _resolve(snap, target)
    dport = port if proto != "icmp" else None
    sport = 40000 if proto != "icmp" else None
    request = Pkt(
        src=src_ips[0],
        dst=dst_ip,
        proto=proto,
        size=size,
        df=True,
        ctstate="NEW",
        sport=sport,
        dport=dport,
    )
    hops: list[Hop] = []
    _walk(snap, "request", hops, src_pod, request)
    if not any(h.verdict == "drop" for h in hops):
        reply = Pkt(
            src=dst_ip,
            dst=src_ips[0],
            proto=proto,
            size=size,
            df=proto != "icmp",
            ctstate="ESTABLISHED",
            sport=dport,
            dport=sport,
        )
        start: Pod | str | None = dst_pod
        if start is None:
            holders = index(snap).holders.get(dst_ip, [])
            start = holders[0][0] if len(holders) == 1 else None
        if start is not None:
            _walk(snap, "reply", hops, start, reply)
    drop = next((h.index for h in hops if h.verdict == "drop"), None)
    reached = _reply_delivered(hops)
    if drop is not None:
        verdict = "dropped"
    elif reached and all(h.verdict == "pass" for h in hops):
        verdict = "delivered"
    else:
        verdict = "unknown"
    return Path(verdict=verdict, drop_at=drop, hops=tuple(hops))


def _reply_delivered(hops: list[Hop]) -> bool:
    return any(
        h.direction == "reply" and h.stage == "pod-ingress" and h.verdict == "pass" for h in hops
    )
