"""Node-level root causes (NET-1xx): forwarding, addresses, and other host settings.

Checks layer: pure functions over the Snapshot.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from netdoctor.checks._support.common import (
    internal_ip_evidence,
    node_file_note,
    parse_ip,
    route_text,
    shared_subnet_address,
)
from netdoctor.checks._support.noderoutes import RouteIndex, arrival_iface, pod_sample
from netdoctor.checks._support.oddone import odd_one_out
from netdoctor.checks._support.registry import Context, Note, Skip, Yielded, check
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.nodefacts import NetFacts, Route
from netdoctor.model.snapshot import Snapshot

IP_FORWARD = "net.ipv4.ip_forward"


@check("node-ip-forward-disabled", code="NET-101", needs=("k8s.nodes", "node.sysctl"))
def ip_forward_disabled(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    off: list[tuple[str, Evidence]] = []
    on: list[str] = []
    for node in snap.node_by_name:
        facts = snap.node_facts.get(node)
        if facts is None or facts.sysctl is None:
            yield node_file_note(snap, node, "sysctl")
            continue
        value = facts.sysctl.get(IP_FORWARD)
        if value is None:
            yield Note(
                Message(
                    "note.sysctl_key_missing",
                    {"node": node, "key": IP_FORWARD, "path": snap.node_source(node, "sysctl")},
                )
            )
            continue
        if value.strip() == "0":
            off.append(
                (
                    node,
                    Evidence(
                        source=snap.node_source(node, "sysctl"),
                        object=f"Node/{node}",
                        field=IP_FORWARD,
                        value=value.strip(),
                        node=node,
                    ),
                )
            )
        else:
            on.append(node)
    for node, ev in off:
        params = {"node": node, "others": ", ".join(on), "count_on": str(len(on))}
        yield Finding(
            id="node-ip-forward-disabled",
            subject=Subject(kind="Node", name=node),
            params=params,
            variant="odd_one_out" if on else "default",
            evidence=(ev,),
            fix=(
                Action(
                    message=Message("fix.ip_forward_now", {"node": node}),
                    command="sysctl -w net.ipv4.ip_forward=1",
                ),
                Action(
                    message=Message("fix.ip_forward_persist", {"node": node}),
                    command=(
                        "echo 'net.ipv4.ip_forward = 1'"
                        " > /etc/sysctl.d/99-kubernetes-ip-forward.conf"
                        " && sysctl --system"
                    ),
                ),
            ),
            verify=(
                Action(
                    message=Message("verify.ip_forward", {"node": node}),
                    command="sysctl net.ipv4.ip_forward",
                ),
            ),
            nodes=(node,),
        )


@check("node-internal-ip-duplicate", code="NET-105", needs=("k8s.nodes",))
def internal_ip_duplicate(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    by_ip: dict[str, list[str]] = defaultdict(list)
    for node in snap.nodes or ():
        for ip in node.internal_ips:
            by_ip[ip].append(node.metadata.name)
    for ip, names in sorted(by_ip.items()):
        if len(names) < 2:
            continue
        fixes = []
        for name in names:
            candidate = shared_subnet_address(snap, name, ip, names)
            node_ip = candidate or f"<address of {name}>"
            fixes.append(
                Action(
                    message=Message(
                        "fix.kubelet_node_ip" if candidate else "fix.kubelet_node_ip_unknown",
                        {"node": name, "address": candidate or ""},
                    ),
                    command=(
                        f"echo 'KUBELET_EXTRA_ARGS=--node-ip={node_ip}'"
                        " >> /etc/default/kubelet && systemctl restart kubelet"
                    ),
                )
            )
        yield Finding(
            id="node-internal-ip-duplicate",
            subject=Subject(kind="Node", name=names[0]),
            params={"address": ip, "nodes": ", ".join(names)},
            evidence=tuple(internal_ip_evidence(snap, snap.node_by_name[n]) for n in names),
            fix=tuple(fixes),
            verify=(
                Action(
                    message=Message("verify.internal_ips", {}),
                    command="kubectl get nodes -o wide",
                ),
            ),
            nodes=tuple(names),
        )


# --- NET-103 bridge-nf ------------------------------------------------------------------------

BRIDGE_NF = "net.bridge.bridge-nf-call-iptables"
# A `sysctl -a` of a real node holds several hundred networking keys; a file with fewer is a
# hand-made subset, where a missing key says nothing about br_netfilter.
_FULL_SYSCTL_KEYS = 200


def _bridge_cni(ctx: Context, node: str) -> str | None:
    """The CNI config file on ``node`` whose plugin puts pods on a Linux bridge (the bridge
    plugin, or flannel which delegates to it), else None; without config files, the cluster's
    detected CNI decides (flannel)."""
    facts = ctx.snapshot.node_facts.get(node)
    files = facts.cni_files if facts else None
    if files is None:
        return "flannel" if ctx.cni.primary == "flannel" else None
    for name in sorted(files):
        try:
            conf = json.loads(files[name])
        except ValueError:
            continue
        plugins = conf.get("plugins", [conf]) if isinstance(conf, dict) else []
        for p in plugins if isinstance(plugins, list) else []:
            if isinstance(p, dict) and p.get("type") in ("bridge", "flannel"):
                return name
        break  # the runtime uses the first file by name only
    return None


@check("node-bridge-nf-disabled", code="NET-103", needs=("k8s.nodes", "node.sysctl"))
def bridge_nf_disabled(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    values: dict[str, str] = {}
    bad: list[tuple[str, str, str]] = []  # node, value or "", what says it is a bridge CNI
    for node in sorted(snap.node_by_name):
        facts = snap.node_facts.get(node)
        if facts is None or facts.sysctl is None:
            yield node_file_note(snap, node, "sysctl")
            continue
        bridge = _bridge_cni(ctx, node)
        if bridge is None:
            continue
        value = facts.sysctl.get(BRIDGE_NF)
        if value is None:
            if len(facts.sysctl) < _FULL_SYSCTL_KEYS:
                yield Note(
                    Message(
                        "note.sysctl_key_missing",
                        {"node": node, "key": BRIDGE_NF, "path": snap.node_source(node, "sysctl")},
                    )
                )
                continue
            values[node] = "absent"
            bad.append((node, "", bridge))
            continue
        values[node] = value.strip()
        if value.strip() == "0":
            bad.append((node, "0", bridge))
    odd = odd_one_out(values)
    for node, value, bridge in bad:
        source = snap.node_source(node, "sysctl")
        via = (
            snap.node_source(node, "cni") + bridge
            if bridge != "flannel" or snap.node_facts[node].cni_files is not None
            else "flannel"
        )
        evidence = (
            Evidence(
                source=source,
                object=f"Node/{node}",
                field=BRIDGE_NF,
                value=value or "(absent: br_netfilter not loaded)",
                node=node,
            ),
        )
        fixes = []
        if not value:
            fixes.append(
                Action(
                    message=Message("fix.br_netfilter_load", {"node": node}),
                    command=(
                        "modprobe br_netfilter && echo br_netfilter"
                        " > /etc/modules-load.d/k8s-br_netfilter.conf"
                    ),
                )
            )
        fixes.append(
            Action(
                message=Message("fix.bridge_nf_on", {"node": node}),
                command=(
                    f"sysctl -w {BRIDGE_NF}=1 && echo '{BRIDGE_NF} = 1'"
                    " > /etc/sysctl.d/99-kubernetes-bridge-nf.conf"
                ),
            )
        )
        yield Finding(
            id="node-bridge-nf-disabled",
            subject=Subject(kind="Node", name=node),
            params={"node": node, "cni": via},
            variant="default" if value else "module_missing",
            evidence=evidence,
            fix=tuple(fixes),
            verify=(
                Action(
                    message=Message("verify.bridge_nf", {"node": node}),
                    command=f"lsmod | grep br_netfilter; sysctl {BRIDGE_NF}",
                ),
            ),
            notes=(odd.note("sysctl", key=BRIDGE_NF),) if odd and node in odd.nodes else (),
            nodes=(node,),
        )


# --- NET-104 strict rp_filter on multi-homed nodes --------------------------------------------

RP_ALL = "net.ipv4.conf.all.rp_filter"
_TUNNEL_KINDS = frozenset({"vxlan", "ipip", "geneve", "wireguard", "gre", "ip6tnl", "sit"})
# Devices that hold addresses but are not a way in from the other nodes: the CNI's pod bridge,
# Docker's, kube-proxy's IPVS dummy (it holds every Service IP), the CNIs' own devices.
_NOT_UNDERLAY = (
    "cni",
    "cbr0",
    "docker",
    "kube-bridge",
    "kube-ipvs",
    "virbr",
    "cali",
    "cilium",
    "flannel",
    "vxlan",
    "tunl",
    "weave",
    "ovn",
    "genev",
    "nodelocaldns",
)


def _sysctl_iface(iface: str) -> str:
    return iface.replace(".", "/")  # sysctl prints flannel.1 as flannel/1


def _rp_key(iface: str) -> str:
    return f"net.ipv4.conf.{_sysctl_iface(iface)}.rp_filter"


def _underlay(facts: NetFacts) -> list[str]:
    """Interfaces holding a global IPv4 address that are not tunnels or the CNI's devices."""
    out = []
    for i in facts.interfaces or ():
        if i.ifname == "lo" or i.kind in _TUNNEL_KINDS or i.ifname.startswith(_NOT_UNDERLAY):
            continue
        if any(a.scope in ("", "global") for a in i.addresses("inet")):
            out.append(i.ifname)
    return out


def _effective_rp(sysctl: dict[str, str], iface: str) -> int | None:
    """The kernel's mode for ``iface``: the max of ``all`` and the interface's own value."""
    a, d = sysctl.get(RP_ALL, "").strip(), sysctl.get(_rp_key(iface), "").strip()
    if not (a.isdigit() and d.isdigit()):
        return None
    return max(int(a), int(d))


@dataclass(frozen=True)
class _Asym:
    node: str
    iface: str  # where the peer's packets arrive
    src: str  # the peer's source address
    peer: str
    back: Route  # this node's route back to src, through another interface


class _Routes(dict[str, RouteIndex]):
    """Each node's route index, built on first use (most nodes are never looked at)."""

    def __init__(self, snap: Snapshot) -> None:
        super().__init__()
        self.snap = snap

    def __missing__(self, node: str) -> RouteIndex:
        facts = self.snap.node_facts.get(node)
        self[node] = index = RouteIndex((facts.routes if facts else None) or ())
        return index


def _flows_in(
    snap: Snapshot, node: str, peer: str, samples: dict[str, str | None]
) -> list[tuple[str, str]]:
    """(source on peer, destination on node) pairs a peer sends to this node: node to node,
    and pod to pod (real pod addresses)."""
    pairs = []
    mine = snap.node_by_name[node].internal_ips
    theirs = snap.node_by_name[peer].internal_ips
    if mine and theirs:
        pairs.append((theirs[0], mine[0]))
    pod_src, pod_dst = samples.get(peer), samples.get(node)
    if pod_src and pod_dst:
        pairs.append((pod_src, pod_dst))
    return pairs


def _arrives_on(
    snap: Snapshot, node: str, peer: str, src: str, dst: str, routes: _Routes
) -> str | None:
    """The interface of ``node`` a packet from ``peer`` (src -> dst) comes in on: the peer's
    route to dst leaves by one of its interfaces, from an address on a subnet this node shares.
    Without the peer's facts: the node's interface on the source's own subnet."""
    pf = snap.node_facts.get(peer)
    nf = snap.node_facts[node]
    if pf is None or pf.interfaces is None or pf.routes is None:
        return arrival_iface(nf, src) if parse_ip(src) in _connected(nf) else None
    r = routes[peer].lookup(dst)
    if r is None or r.dev is None:
        return None
    dev = pf.interface(r.dev)
    if dev is None or dev.kind in _TUNNEL_KINDS:
        return None  # a tunnel: the inner packet arrives on this node's tunnel, symmetric
    for a in dev.addresses("inet"):
        if a.scope in ("", "global"):
            return arrival_iface(nf, a.local)
    return None


def _connected(facts: NetFacts) -> _NetSet:
    return _NetSet(
        [
            a.interface.network
            for i in facts.interfaces or ()
            for a in i.addresses("inet")
            if a.scope in ("", "global") and a.prefixlen < 32
        ]
    )


class _NetSet:
    def __init__(self, nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        self.nets = nets

    def __contains__(self, addr: object) -> bool:
        return any(
            isinstance(addr, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and addr.version == n.version
            and addr in n
            for n in self.nets
        )


@check(
    "node-rp-filter-strict",
    code="NET-104",
    needs=("k8s.nodes", "node.sysctl", "node.ip_addr", "node.ip_route"),
)
def rp_filter_strict(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    names = sorted(snap.node_by_name)
    all_values: dict[str, str] = {}
    found: dict[tuple[str, str], list[_Asym]] = defaultdict(list)
    routes = _Routes(snap)
    samples: dict[str, str | None] = {}
    for node in names:
        facts = snap.node_facts.get(node)
        if facts is None or facts.sysctl is None or facts.interfaces is None or not facts.routes:
            continue
        if RP_ALL in facts.sysctl:
            all_values[node] = facts.sysctl[RP_ALL].strip()
        underlay = _underlay(facts)
        if len(underlay) < 2:
            continue  # single-homed: replies can only leave the way requests came
        strict = [i for i in underlay if _effective_rp(facts.sysctl, i) == 1]
        if not strict:
            continue
        if not samples:
            samples.update({n: pod_sample(snap, n) for n in names})
        for peer in names:
            if peer == node:
                continue
            for src, dst in _flows_in(snap, node, peer, samples):
                iface = _arrives_on(snap, node, peer, src, dst, routes)
                if iface not in strict:
                    continue
                back = routes[node].lookup(src)
                if back is None:
                    continue
                devs = {back.dev} | {nh.dev for nh in back.nexthops}
                if iface not in devs:
                    found[(node, iface)].append(_Asym(node, iface, src, peer, back))
    odd = odd_one_out(all_values)
    for (node, iface), asyms in found.items():
        facts = snap.node_facts[node]
        assert facts.sysctl is not None
        source = snap.node_source(node, "sysctl")
        first = asyms[0]
        evidence = [
            Evidence(
                source=source,
                object=f"Node/{node}",
                field=RP_ALL,
                value=facts.sysctl.get(RP_ALL, ""),
                node=node,
            ),
            Evidence(
                source=source,
                object=f"Node/{node}",
                field=_rp_key(iface),
                value=facts.sysctl.get(_rp_key(iface), ""),
                node=node,
            ),
        ]
        seen: set[str] = set()
        for a in asyms:
            if a.src in seen:
                continue
            seen.add(a.src)
            evidence.append(
                Evidence(
                    source=snap.node_source(node, "ip_route"),
                    object=f"Node/{node}",
                    field=f"route to {a.src}",
                    value=route_text(a.back),
                    node=node,
                )
            )
        key = _rp_key(iface)
        yield Finding(
            id="node-rp-filter-strict",
            subject=Subject(kind="Node", name=node),
            params={
                "node": node,
                "iface": iface,
                "src": first.src,
                "peer": first.peer,
                "back": first.back.dev or "",
                "sources": ", ".join(sorted(seen)),
            },
            evidence=tuple(evidence),
            fix=(
                Action(
                    message=Message("fix.rp_filter_loose", {"node": node, "iface": iface}),
                    command=(
                        f"sysctl -w {key}=2 && echo '{key} = 2'"
                        " > /etc/sysctl.d/99-kubernetes-rp-filter.conf"
                    ),
                ),
            ),
            verify=(
                Action(
                    message=Message("verify.rp_filter", {"node": node, "iface": iface}),
                    command=f"sysctl {RP_ALL} {key}",
                ),
            ),
            notes=(odd.note("sysctl", key=RP_ALL),) if odd and node in odd.nodes else (),
            nodes=tuple(dict.fromkeys([node, *(a.peer for a in asyms)])),
        )


# --- NET-106 conntrack table ------------------------------------------------------------------

CT_COUNT = "net.netfilter.nf_conntrack_count"
CT_MAX = "net.netfilter.nf_conntrack_max"
# Thresholds (documented in the catalog): a table at 90% of nf_conntrack_max is about to drop
# new flows; any `drop` or `early_drop` in `conntrack -S` means it already has.
CT_NEAR_FULL = 0.90
_CT_FIELD = re.compile(r"\b(drop|early_drop|insert_failed)=(\d+)")


def conntrack_counters(text: str) -> dict[str, int]:
    """Sum of ``drop``, ``early_drop`` and ``insert_failed`` over the per-CPU lines of
    ``conntrack -S`` (``cpu=0 found=0 invalid=0 insert=0 insert_failed=0 drop=0 ...``)."""
    out = {"drop": 0, "early_drop": 0, "insert_failed": 0}
    for m in _CT_FIELD.finditer(text):
        out[m.group(1)] += int(m.group(2))
    return out


@check("conntrack-table-full", code="NET-106", needs=("k8s.nodes",))
def conntrack_table_full(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    looked = False
    for node in sorted(snap.node_by_name):
        facts = snap.node_facts.get(node)
        if facts is None:
            continue
        sysctl = facts.sysctl or {}
        count, cmax = sysctl.get(CT_COUNT, "").strip(), sysctl.get(CT_MAX, "").strip()
        ratio = int(count) / int(cmax) if count.isdigit() and cmax.isdigit() and int(cmax) else None
        counters = conntrack_counters(facts.conntrack) if facts.conntrack is not None else None
        if ratio is None and counters is None:
            continue
        looked = True
        dropping = counters is not None and (counters["drop"] or counters["early_drop"])
        if not dropping and (ratio is None or ratio < CT_NEAR_FULL):
            continue
        evidence = []
        if ratio is not None:
            src = snap.node_source(node, "sysctl")
            evidence += [
                Evidence(source=src, object=f"Node/{node}", field=CT_COUNT, value=count, node=node),
                Evidence(source=src, object=f"Node/{node}", field=CT_MAX, value=cmax, node=node),
            ]
        if counters is not None:
            evidence.append(
                Evidence(
                    source=snap.node_source(node, "conntrack"),
                    object=f"Node/{node}",
                    field="sum over CPUs",
                    value=" ".join(f"{k}={v}" for k, v in counters.items()),
                    node=node,
                )
            )
        want = max(int(cmax) * 2, 262144) if cmax.isdigit() else 262144
        yield Finding(
            id="conntrack-table-full",
            subject=Subject(kind="Node", name=node),
            params={
                "node": node,
                "count": count or "?",
                "max": cmax or "?",
                "percent": f"{ratio * 100:.0f}" if ratio is not None else "?",
                "drop": str(counters["drop"]) if counters else "?",
                "early_drop": str(counters["early_drop"]) if counters else "?",
            },
            variant="dropping" if dropping else "default",
            severity=None if dropping else Severity.WARNING,
            evidence=tuple(evidence),
            fix=(
                Action(
                    message=Message("fix.conntrack_max", {"node": node, "max": str(want)}),
                    command=(
                        f"sysctl -w {CT_MAX}={want} && echo '{CT_MAX} = {want}'"
                        " > /etc/sysctl.d/99-kubernetes-conntrack.conf"
                    ),
                ),
            ),
            verify=(
                Action(
                    message=Message("verify.conntrack", {"node": node}),
                    command=f"sysctl {CT_COUNT} {CT_MAX}; conntrack -S",
                ),
            ),
            nodes=(node,),
        )
    if not looked:
        yield Skip(Message("skip.missing", {"path": snap.source("node.conntrack")}))
