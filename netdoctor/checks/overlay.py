"""Overlay and CNI-generic root causes (NET-201, NET-204..NET-209): what the CNI agents program
on every node (configs, routes, VXLAN forwarding entries, MTUs) and the address plan behind it.

Checks layer: pure functions over the Snapshot. Each check compares what a node holds with what
its peers announce (node annotations, ``spec.podCIDR``, Calico's blocks as the owner's
blackhole route) and reports only what the data proves: a missing fact is a Skip or a Note.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from netdoctor.checks._support.common import (
    IPNet,
    annotation_evidence,
    iface_evidence,
    internal_ip_evidence,
    ip_only,
    ippool_evidence,
    last_log_match,
    node_file_note,
    parse_ip,
    pod_evidence,
    route_text,
    route_to,
)
from netdoctor.checks._support.oddone import odd_one_out
from netdoctor.checks._support.registry import Context, NotApplicable, Note, Skip, Yielded, check
from netdoctor.model.cni import (
    CALICO_ADDRESS,
    CALICO_IPIP_ADDR,
    CALICO_VXLAN_ADDR,
    FLANNEL_BACKEND_DATA,
    FLANNEL_BACKEND_TYPE,
    FLANNEL_KSM,
    FLANNEL_PUBLIC_IP,
    FLANNEL_PUBLIC_IP_OVERWRITE,
)
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import Node, Pod
from netdoctor.model.layout import pod_path
from netdoctor.model.nodefacts import Interface, NetFacts, Route
from netdoctor.model.snapshot import Snapshot

# CNI config files the runtime loads (libcni's ConfFiles: .conf, .conflist, .json), in name order.
_CNI_CONF_EXT = (".conf", ".conflist", ".json")
# The plugin type in a CNI config, as each CNI names it.
_PLUGIN_CNI = {
    "calico": "calico",
    "flannel": "flannel",
    "kube-ovn": "kube-ovn",
    "cilium-cni": "cilium",
    "multus": "multus",
}
# Interfaces a CNI (or kube-proxy) owns: their addresses are the pod network, not "another" one.
_CNI_IFACE = re.compile(
    r"^(cni\d*|cbr\d*|flannel[.\-].*|vxlan[.\-]v?6?\.?calico|vxlan\.calico|tunl\d+|cali.*|"
    r"wireguard\.cali|cilium_.*|lxc.*|ovn0|mirror0|genev_sys_.*|kube-ipvs0|nodelocaldns|"
    r"kube-bridge|weave|vxlan-v6\.calico)$"
)

# Encapsulation on the wire (bytes added to each packet): what decides whether a packet fits.
# Geneve counts Kube-OVN's options (58); its own budget, used for the printed fix, is 100.
WIRE_OVERHEAD = {"vxlan": 50, "ipip": 20, "geneve": 58, "wireguard": 60}
WIRE_OVERHEAD6 = {"vxlan": 70, "ipip": 40, "geneve": 78, "wireguard": 80}
KUBE_OVN_BUDGET = 100


# --- shared helpers ---------------------------------------------------------------------------


def _agent_pod(ctx: Context, cni: str, node: str) -> tuple[str, str, str | None]:
    """(namespace, DaemonSet, pod on ``node`` or None) of the CNI's agent."""
    agent = ctx.cni.agent(cni)
    defaults = {
        "flannel": ("kube-flannel", "kube-flannel-ds"),
        "calico": ("kube-system", "calico-node"),
        "kube-ovn": ("kube-system", "kube-ovn-cni"),
        "cilium": ("kube-system", "cilium"),
    }
    ns, ds = (agent.namespace, agent.name) if agent else defaults.get(cni, ("kube-system", cni))
    pod = agent.pod_on(node) if agent is not None else None
    return ns, ds, pod.metadata.name if pod is not None else None


def _restart_agent(ctx: Context, cni: str, node: str) -> Action:
    ns, ds, pod = _agent_pod(ctx, cni, node)
    if pod:
        command = f"kubectl -n {ns} delete pod {pod}"
    else:
        command = f"kubectl -n {ns} rollout restart daemonset/{ds}"
    return Action(
        message=Message("fix.overlay.restart_agent", {"agent": ds, "node": node}),
        command=command,
    )


def _cni(ctx: Context) -> str | None:
    """The CNI that programs routes: flannel when Calico only adds policy (Canal)."""
    if (
        ctx.cni.has("flannel")
        and ctx.snapshot.nodes
        and any(FLANNEL_PUBLIC_IP in n.metadata.annotations for n in ctx.snapshot.nodes)
    ):
        return "flannel"
    return ctx.cni.primary


def _route_evidence(snap: Snapshot, node: str, what: str, route: Route | None) -> Evidence:
    return Evidence(
        source=snap.node_source(node, "ip_route"),
        object=f"Node/{node}",
        field=f"route to {what}",
        value=_route_line(route) if route else "none",
        node=node,
    )


def _route_line(r: Route) -> str:
    """A route as ``ip route`` prints it, its type first when not unicast (``blackhole ...``)."""
    text = route_text(r)
    return f"{r.type} {text}" if r.type not in (None, "unicast") else text


def _main_routes(facts: NetFacts) -> list[Route]:
    return [r for r in facts.routes or () if r.table_name == "main"]


def _gateways(r: Route) -> set[str]:
    out = {r.gateway} if r.gateway else set()
    out.update(h.gateway for h in r.nexthops if h.gateway)
    return out


def _devs(r: Route) -> set[str]:
    out = {r.dev} if r.dev else set()
    out.update(h.dev for h in r.nexthops if h.dev)
    return out


def _net(text: str | None) -> IPNet | None:
    if not text:
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _iface_on_subnet(facts: NetFacts | None, ip: str) -> str | None:
    """The interface of a node whose subnet holds ``ip`` (where a host-gw route must go)."""
    addr = parse_ip(ip)
    if facts is None or addr is None:
        return None
    for i in facts.interfaces or ():
        for a in i.addr_info:
            if a.local and a.scope in ("", "global"):
                try:
                    if addr.version == a.interface.version and addr in a.interface.network:
                        return i.ifname
                except ValueError:
                    continue
    return None


def _pod_in(snap: Snapshot, node: str, net: IPNet) -> Pod | None:
    for p in snap.pods_by_node.get(node, ()):
        if p.spec.host_network:
            continue
        for ip in p.ips:
            a = parse_ip(ip)
            if a is not None and a.version == net.version and a in net:
                return p
    return None


def _flannel_public_ip(node: Node) -> tuple[str, str] | None:
    """(annotation key, address) flannel announces for the node."""
    ann = node.metadata.annotations
    for key in (FLANNEL_PUBLIC_IP_OVERWRITE, FLANNEL_PUBLIC_IP):
        if ann.get(key):
            return key, ip_only(ann[key])
    return None


def _flannel_backend(ctx: Context, node: Node) -> str | None:
    t = node.metadata.annotations.get(FLANNEL_BACKEND_TYPE)
    if t:
        return t
    conf = _flannel_net_conf(ctx)
    backend = conf.get("Backend") if conf else None
    if isinstance(backend, dict) and isinstance(backend.get("Type"), str):
        return str(backend["Type"])
    return None


def _flannel_net_conf(ctx: Context) -> dict[str, Any] | None:
    for cm in ctx.snapshot.configmaps or ():
        raw = cm.data.get("net-conf.json")
        if raw is None:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
    return None


def _node_pod_cidrs(node: Node) -> list[IPNet]:
    out: list[IPNet] = []
    for text in node.spec.pod_cidrs or ([node.spec.pod_cidr] if node.spec.pod_cidr else []):
        net = _net(text)
        if net is not None and net not in out:
            out.append(net)
    return out


def _podcidr_evidence(snap: Snapshot, node: Node) -> Evidence:
    return Evidence(
        source=snap.source("k8s.nodes"),
        object=f"Node/{node.metadata.name}",
        field="spec.podCIDR",
        value=node.spec.pod_cidr or "",
        node=node.metadata.name,
    )


def _calico_addresses(snap: Snapshot, node: Node) -> dict[str, str]:
    """Calico's addresses for a node: ``address``, ``vxlan``, ``ipip``, ``vxlan_mac`` (any may be
    absent): node annotations first, then the Calico Node resource."""
    ann = node.metadata.annotations
    out: dict[str, str] = {}
    cn = snap.calico_node_by_node.get(node.metadata.name)
    addr = ann.get(CALICO_ADDRESS) or (cn.spec.bgp.ipv4_address if cn and cn.spec.bgp else None)
    if addr:
        out["address"] = ip_only(addr)
    vx = ann.get(CALICO_VXLAN_ADDR) or (cn.spec.ipv4_vxlan_tunnel_addr if cn else None)
    if vx:
        out["vxlan"] = ip_only(vx)
    ipip = ann.get(CALICO_IPIP_ADDR) or (
        cn.spec.bgp.ipv4_ipip_tunnel_addr if cn and cn.spec.bgp else None
    )
    if ipip:
        out["ipip"] = ip_only(ipip)
    if cn and cn.spec.vxlan_tunnel_mac_addr:
        out["vxlan_mac"] = cn.spec.vxlan_tunnel_mac_addr.lower()
    return out


def _calico_blocks(facts: NetFacts | None) -> list[Route]:
    """The Calico blocks a node owns: Calico installs a blackhole route for each."""
    if facts is None or facts.routes is None:
        return []
    return [
        r
        for r in _main_routes(facts)
        if r.type == "blackhole" and r.protocol in ("bird", "80") and _net(r.dst) is not None
    ]


# --- NET-204: routes to the peers' pod networks ---------------------------------------------


@dataclass(frozen=True)
class _Expected:
    """A route every other node must have to one peer's pod network."""

    prefix: IPNet
    gateways: frozenset[str]  # any of these is the peer
    preferred: str  # the gateway the agent installs
    tunnel: str | None  # the device of an onlink tunnel route; None: the underlay
    evidence: tuple[Evidence, ...]  # where the prefix and the gateway come from

    @cached_property
    def key(self) -> str:
        """The prefix as ``ip -j route`` writes ``dst``: a host route without /32 or /128."""
        net = self.prefix
        return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)

    def add(self, facts: NetFacts | None) -> str:
        """The ``ip route replace`` that restores the route on a node with these facts."""
        head = f"ip route replace {self.prefix} via {self.preferred}"
        if self.tunnel:
            return f"{head} dev {self.tunnel} onlink"
        dev = _iface_on_subnet(facts, self.preferred)
        return f"{head} dev {dev}" if dev else head


def _held(facts: NetFacts | None) -> set[str]:
    """Every global address a node holds: a route via any of them reaches that node (BGP or a
    second NIC may carry it; whether replies come back is rp_filter's question, NET-104)."""
    ifaces = (facts.interfaces or ()) if facts is not None else ()
    return {
        a.local
        for i in ifaces
        for a in i.addr_info
        if a.local and a.scope in ("", "global") and not _CNI_IFACE.match(i.ifname)
    }


def _flannel_expected(ctx: Context, peer: Node) -> list[_Expected]:
    snap = ctx.snapshot
    pub = _flannel_public_ip(peer)
    backend = _flannel_backend(ctx, peer)
    out: list[_Expected] = []
    if pub is None:
        return out  # the peer never registered with flannel: nobody routes to it yet
    for net in _node_pod_cidrs(peer):
        if net.version != 4:
            continue
        ev = (_podcidr_evidence(snap, peer), annotation_evidence(snap, peer, pub[0]))
        if backend == "vxlan":
            vtep = str(net.network_address)  # flannel.1 holds the subnet's first address
            gws = {vtep, pub[1]}  # DirectRouting: via the public IP when on one subnet
            out.append(_Expected(net, frozenset(gws), vtep, "flannel.1", ev))
        elif backend == "host-gw":
            gws = {pub[1], *_held(snap.node_facts.get(peer.metadata.name))}
            out.append(_Expected(net, frozenset(gws), pub[1], None, ev))
    return out


def _calico_expected(ctx: Context, peer: Node) -> list[_Expected] | None:
    """None when the peer's blocks are unknown (its ip-route.json is missing)."""
    snap = ctx.snapshot
    pname = peer.metadata.name
    pfacts = snap.node_facts.get(pname)
    if pfacts is None or pfacts.routes is None:
        return None
    addrs = _calico_addresses(snap, peer)
    gws = {*peer.internal_ips, *(v for k, v in addrs.items() if k != "vxlan_mac")}
    gws.update(_held(pfacts))
    peer_ip = addrs.get("address") or (peer.internal_ips[0] if peer.internal_ips else None)
    tunnel: str | None
    if "vxlan" in addrs:
        gw, tunnel = addrs["vxlan"], "vxlan.calico"
    elif peer_ip and "ipip" in addrs:
        gw, tunnel = peer_ip, "tunl0"
    elif peer_ip:
        gw, tunnel = peer_ip, None
    else:
        return []
    out = []
    for r in _calico_blocks(pfacts):
        net = _net(r.dst)
        if net is None or net.version != 4:
            continue
        ev = Evidence(
            source=snap.node_source(pname, "ip_route"),
            object=f"Node/{pname}",
            field="Calico block (blackhole route)",
            value=_route_line(r),
            node=pname,
        )
        block_gw, block_tunnel = gw, tunnel
        if peer_ip and _pool_unencapsulated(snap, net):
            # The pool says Never/Never: routes go straight to the peer, whatever tunnel
            # address an earlier encapsulated setup left in the node's annotations.
            block_gw, block_tunnel = peer_ip, None
        out.append(_Expected(net, frozenset(gws), block_gw, block_tunnel, (ev,)))
    return out


def _pool_unencapsulated(snap: Snapshot, block: IPNet) -> bool:
    """Whether the IPPool holding ``block`` uses neither IPIP nor VXLAN (False if unknown)."""
    for pool in snap.ippools or ():
        net = _net(pool.spec.cidr)
        if net is not None and net.version == block.version and block.subnet_of(net):  # type: ignore[arg-type]  # same version
            return (pool.spec.ipip_mode or "Never") == "Never" and (
                pool.spec.vxlan_mode or "Never"
            ) == "Never"
    return False


def _off_link(facts: NetFacts, want: _Expected) -> bool:
    """An underlay route (no tunnel) whose gateway is on none of the node's subnets."""
    return (
        want.tunnel is None
        and facts.interfaces is not None
        and _iface_on_subnet(facts, want.preferred) is None
    )


def _route_problem(
    main: list[Route], exact: dict[str, list[Route]], want: _Expected
) -> tuple[str, Route | None] | None:
    """("missing" | "wrong", the route found) when the node cannot reach the prefix rightly."""
    for r in exact.get(want.key, ()):
        if r.type not in (None, "unicast"):
            return "wrong", r
        if r.gateway in want.gateways or any(h.gateway in want.gateways for h in r.nexthops):
            return None
        return "wrong", r
    cover = route_to(main, str(want.prefix.network_address))
    net = cover.network if cover is not None else None
    if net is not None and 0 < net.prefixlen < want.prefix.prefixlen:
        return None  # an aggregate (e.g. learnt from a router): cannot prove it wrong
    return "missing", cover


@check(
    "node-missing-pod-route",
    code="NET-204",
    needs=("k8s.nodes", "node.ip_route"),
    cni=("flannel", "calico"),
)
def missing_pod_route(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    cni = _cni(ctx)
    if cni not in ("flannel", "calico"):
        yield NotApplicable()
        return
    nodes = sorted(snap.node_by_name.values(), key=lambda n: n.metadata.name)
    # What each peer needs from the others, worked out once (a 5,000-node cluster has 25
    # million node pairs: each pair must cost a dictionary lookup, not a scan).
    needed: dict[str, list[_Expected] | None] = {
        n.metadata.name: (_flannel_expected if cni == "flannel" else _calico_expected)(ctx, n)
        for n in nodes
    }
    # None: the peer's own facts are missing (its note says so); it is not compared.
    flat = [(n, w) for n, wants in needed.items() for w in wants or ()]
    ready = _agent_ready_nodes(ctx, cni)
    for node in nodes:
        name = node.metadata.name
        facts = snap.node_facts.get(name)
        if facts is None or facts.routes is None:
            yield node_file_note(snap, name, "ip_route")
            continue
        if ready is not None and name not in ready:
            continue  # the agent writes these routes: its absence is NET-202's finding
        main = _main_routes(facts)
        exact: dict[str, list[Route]] = defaultdict(list)
        for r in main:
            exact[r.dst].append(r)  # ip prints prefixes canonically: compare the text
        by_peer: dict[str, list[tuple[_Expected, tuple[str, Route | None]]]] = {}
        for pname, w in flat:
            if pname == name or (p := _route_problem(main, exact, w)) is None:
                continue
            # Unencapsulated and the peer is not on this node's subnets: flannel host-gw
            # cannot install such a route at all (NET-403 says why), and Calico's BIRD
            # resolves it via a router (whether the router knows pod routes is NET-304's
            # question). Only a route that could have been installed is judged here.
            if _off_link(facts, w) and (cni == "flannel" or p[0] == "wrong"):
                continue
            by_peer.setdefault(pname, []).append((w, p))
        for pname, problems in sorted(by_peer.items()):
            peer = snap.node_by_name[pname]
            kind = "wrong" if any(p[0] == "wrong" for _, p in problems) else "missing"
            prefixes = ", ".join(str(w.prefix) for w, _ in problems)
            ev: list[Evidence] = []
            for w, (_, found_route) in problems:
                ev.append(_route_evidence(snap, name, str(w.prefix), found_route))
                ev.extend(w.evidence)
            first = problems[0][0]
            pod = _pod_in(snap, pname, first.prefix)
            probe_ip = pod.ips[0] if pod else str(first.prefix.network_address + 1)
            expected = first.preferred
            # A peer announcing an address other than its InternalIP (NET-301/NET-402) is the
            # likelier cause: the agent cannot route via an address it cannot reach.
            suspect = next(
                ((n, a) for n in (peer, node) if (a := _announced_elsewhere(n)) is not None), None
            )
            notes = (
                (
                    Message(
                        "note.overlay.route_peer_address",
                        {"peer": suspect[0].metadata.name, "address": suspect[1]},
                    ),
                )
                if suspect
                else ()
            )
            fix = [_restart_agent(ctx, cni, name)]
            fix.append(
                Action(
                    message=Message("fix.overlay.route_add", {"node": name}),
                    command="; ".join(w.add(facts) for w, _ in problems),
                )
            )
            yield Finding(
                id="node-missing-pod-route",
                subject=Subject(kind="Node", name=name),
                variant=kind,
                params={
                    "node": name,
                    "peer": pname,
                    "prefix": prefixes,
                    "gateway": expected,
                    "route": ", ".join(_route_line(r) for _, (_, r) in problems if r) or "none",
                },
                evidence=tuple(ev),
                fix=tuple(fix),
                verify=(
                    Action(
                        message=Message(
                            "verify.overlay.route", {"node": name, "gateway": expected}
                        ),
                        command=f"ip route get {probe_ip}",
                    ),
                ),
                notes=notes,
                nodes=(name, pname),
                pods=(pod.ref,) if pod else (),
                confidence=0.5 if suspect else 1.0,
            )


def _agent_ready_nodes(ctx: Context, cni: str) -> set[str] | None:
    """The nodes with a Ready pod of the CNI's agent; None when the agent is not known."""
    agent = ctx.cni.agent(cni)
    if agent is None or ctx.snapshot.pods is None:
        return None
    return {p.spec.node_name for p in agent.pods if p.ready}


def _announced_elsewhere(peer: Node) -> str | None:
    """The address a CNI agent announces for the peer when it is not one of its InternalIPs."""
    internal = set(peer.internal_ips)
    for key in (CALICO_ADDRESS, FLANNEL_PUBLIC_IP_OVERWRITE, FLANNEL_PUBLIC_IP):
        value = peer.metadata.annotations.get(key)
        if value:
            return None if ip_only(value) in internal else ip_only(value)
    return None


# --- NET-205: VXLAN neighbour and FDB entries for each peer ----------------------------------


@dataclass(frozen=True)
class _Vtep:
    peer: str
    ip: str  # the peer's VTEP (tunnel device) address
    mac: str | None  # its MAC, when announced or visible
    underlay: str  # where the encapsulated packets must go
    evidence: tuple[Evidence, ...]


def _vteps(ctx: Context, cni: str) -> list[_Vtep]:
    """Every node's VTEP as its agent announces it (read once, compared by every peer)."""
    snap = ctx.snapshot
    out = []
    dev = "flannel.1" if cni == "flannel" else "vxlan.calico"
    for peer in sorted(snap.node_by_name.values(), key=lambda n: n.metadata.name):
        pname = peer.metadata.name
        pfacts = snap.node_facts.get(pname)
        pdev = pfacts.interface(dev) if pfacts else None
        ev: list[Evidence] = []
        mac: str | None = None
        if cni == "flannel":
            if _flannel_backend(ctx, peer) != "vxlan":
                continue
            nets = [n for n in _node_pod_cidrs(peer) if n.version == 4]
            pub = _flannel_public_ip(peer)
            if not nets or pub is None:
                continue
            ip = str(nets[0].network_address)
            ev += [_podcidr_evidence(snap, peer), annotation_evidence(snap, peer, pub[0])]
            underlay = pub[1]
            try:
                data = json.loads(peer.metadata.annotations.get(FLANNEL_BACKEND_DATA) or "null")
            except ValueError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("VtepMAC"), str):
                mac = data["VtepMAC"].lower()
                ev.append(annotation_evidence(snap, peer, FLANNEL_BACKEND_DATA))
        else:
            addrs = _calico_addresses(snap, peer)
            if "vxlan" not in addrs:
                continue
            ip = addrs["vxlan"]
            underlay = addrs.get("address") or (peer.internal_ips or [""])[0]
            if not underlay:
                continue
            if CALICO_VXLAN_ADDR in peer.metadata.annotations:
                ev.append(annotation_evidence(snap, peer, CALICO_VXLAN_ADDR))
            if CALICO_ADDRESS in peer.metadata.annotations:
                ev.append(annotation_evidence(snap, peer, CALICO_ADDRESS))
            if "vxlan_mac" in addrs:
                mac = addrs["vxlan_mac"]
                ev.append(
                    Evidence(
                        source=snap.source("k8s.calico_nodes"),
                        object=f"CalicoNode/{pname}",
                        field="spec.vxlanTunnelMACAddr",
                        value=mac,
                        node=pname,
                    )
                )
        if mac is None and pdev is not None and pdev.address:
            mac = pdev.address.lower()
            ev.append(
                Evidence(
                    source=snap.node_source(pname, "ip_addr"),
                    object=f"Interface/{dev}",
                    field="address",
                    value=pdev.address,
                    node=pname,
                )
            )
        out.append(_Vtep(pname, ip, mac, underlay, tuple(ev)))
    return out


@check(
    "overlay-fdb-missing",
    code="NET-205",
    needs=("k8s.nodes", "node.ip_addr", "node.ip_route"),
    cni=("flannel", "calico"),
)
def fdb_missing(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    cni = _cni(ctx)
    if cni not in ("flannel", "calico"):
        yield NotApplicable()
        return
    dev = "flannel.1" if cni == "flannel" else "vxlan.calico"
    vteps = _vteps(ctx, cni)
    for name in sorted(snap.node_by_name):
        facts = snap.node_facts.get(name)
        if facts is None or facts.interfaces is None or facts.interface(dev) is None:
            continue  # no VXLAN device here: not a VXLAN node (or no facts: NET-204 notes it)
        missing = [
            p
            for p, v in (
                ("ip_route", facts.routes),
                ("ip_neigh", facts.neighbours),
                ("bridge_fdb", facts.fdb),
            )
            if v is None
        ]
        if missing:
            yield node_file_note(snap, name, missing[0])
            continue
        through: dict[str, Route] = {}
        for r in _main_routes(facts):
            if dev in _devs(r):
                for gw in _gateways(r):
                    through.setdefault(gw, r)
        for vt in vteps:
            via = through.get(vt.ip)
            if vt.peer == name or via is None:
                continue  # no route through the tunnel to this peer: NET-204's finding
            yield from _vtep_problem(ctx, cni, name, dev, facts, vt, via)


def _vtep_problem(
    ctx: Context, cni: str, node: str, dev: str, facts: NetFacts, vt: _Vtep, via: Route
) -> Iterator[Finding]:
    snap = ctx.snapshot
    neigh = next(
        (n for n in facts.neighbours or () if n.dst == vt.ip and n.dev == dev and n.lladdr), None
    )
    mac = vt.mac or (neigh.lladdr.lower() if neigh and neigh.lladdr else None)
    fdb = (
        next(
            (e for e in facts.fdb or () if e.ifname == dev and e.mac.lower() == mac and e.dst),
            None,
        )
        if mac
        else None
    )
    neigh_ev = Evidence(
        source=snap.node_source(node, "ip_neigh"),
        object=f"Node/{node}",
        field=f"neighbour {vt.ip} dev {dev}",
        value=(neigh.lladdr or "") if neigh else "none",
        node=node,
    )
    fdb_ev = Evidence(
        source=snap.node_source(node, "bridge_fdb"),
        object=f"Node/{node}",
        field=f"fdb {mac or '?'} dev {dev}",
        value=f"dst {fdb.dst}" if fdb and fdb.dst else "none",
        node=node,
    )
    variant = None
    if neigh is None:
        variant = "no_neigh"
    elif vt.mac and neigh.lladdr and neigh.lladdr.lower() != vt.mac:
        variant = "neigh_wrong"
    elif mac and fdb is None:
        variant = "no_fdb"
    elif fdb is not None and fdb.dst != vt.underlay:
        variant = "fdb_wrong"
    if variant is None:
        return
    ev = [_route_evidence(snap, node, vt.ip, via), neigh_ev]
    if variant != "no_neigh":
        ev.append(fdb_ev)
    if fdb is not None and fdb.dst and variant == "fdb_wrong":
        holders = [
            n.metadata.name for n in snap.node_by_address.get(fdb.dst, []) if n.metadata.name
        ]
        if holders:
            ev.append(internal_ip_evidence(snap, snap.node_by_name[holders[0]]))
    ev.extend(vt.evidence)
    commands = []
    if mac:
        commands.append(f"ip neigh replace {vt.ip} lladdr {mac} dev {dev} nud permanent")
        commands.append(f"bridge fdb replace {mac} dev {dev} dst {vt.underlay} self permanent")
    fix = [_restart_agent(ctx, cni, node)]
    if commands:
        fix.append(
            Action(
                message=Message("fix.overlay.fdb_add", {"node": node, "peer": vt.peer}),
                command="; ".join(commands),
            )
        )
    yield Finding(
        id="overlay-fdb-missing",
        subject=Subject(kind="Node", name=node),
        variant=variant,
        params={
            "node": node,
            "peer": vt.peer,
            "dev": dev,
            "vtep": vt.ip,
            "mac": mac or "",
            "underlay": vt.underlay,
            "found": (fdb.dst or "") if fdb else ((neigh.lladdr or "") if neigh else ""),
        },
        evidence=tuple(ev),
        fix=tuple(fix),
        verify=(
            Action(
                message=Message("verify.overlay.fdb", {"mac": mac or "", "underlay": vt.underlay}),
                command=f"ip neigh show {vt.ip} dev {dev}; bridge fdb show dev {dev}",
            ),
        ),
        nodes=(node, vt.peer),
    )


# --- NET-206: MTU --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mtu:
    """One node's MTU picture: the underlay, the tunnel and the largest pod-side MTU."""

    node: str
    underlay: Interface
    underlay_ev: Evidence
    encap: str | None  # vxlan | ipip | geneve | wireguard | None (routed)
    tunnel: Interface | None
    overhead: int
    pod_mtu: int
    pod_ev: Evidence
    big_pods: tuple[Pod, ...]  # pods whose own interface MTU is known to be the largest


def _encap_kind(i: Interface) -> str | None:
    kind = i.kind or ("ipip" if i.link_type == "ipip" else None)
    return kind if kind in WIRE_OVERHEAD else None


def _tunnel(facts: NetFacts) -> Interface | None:
    """The encapsulating device pod traffic uses: up, and the device of at least one route
    (Geneve is driven by OVS flows, not routes: up is enough)."""
    used = {d for r in facts.routes or () for d in _devs(r)}
    best: tuple[int, Interface] | None = None
    for i in facts.interfaces or ():
        kind = _encap_kind(i)
        if kind is None or not i.up or (kind != "geneve" and i.ifname not in used):
            continue
        if best is None or WIRE_OVERHEAD[kind] > best[0]:
            best = (WIRE_OVERHEAD[kind], i)
    return best[1] if best else None


def _cni_conf_files(facts: NetFacts) -> list[str]:
    return sorted(n for n in facts.cni_files or {} if n.endswith(_CNI_CONF_EXT))


def _cni_file_source(snap: Snapshot, node: str, file: str) -> str:
    return f"{snap.node_source(node, 'cni').rstrip('/')}/{file}"


def _conf_json(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _conf_mtu(conf: dict[str, Any]) -> tuple[str, int] | None:
    """(field, value) of an MTU set in a CNI config: top level, a plugin, or flannel's delegate."""
    places: list[tuple[str, Any]] = [("", conf)]
    for i, p in enumerate(conf.get("plugins") or []):
        places.append((f"plugins[{i}].", p))
    for prefix, obj in list(places):
        if isinstance(obj, dict) and isinstance(obj.get("delegate"), dict):
            places.append((f"{prefix}delegate.", obj["delegate"]))
    for prefix, obj in places:
        if isinstance(obj, dict) and isinstance(obj.get("mtu"), int) and obj["mtu"] > 0:
            return f"{prefix}mtu", int(obj["mtu"])
    return None


def _node_mtu(snap: Snapshot, node: Node) -> _Mtu | None:
    name = node.metadata.name
    facts = snap.node_facts.get(name)
    if facts is None or facts.interfaces is None:
        return None
    tunnel = _tunnel(facts)
    data = (tunnel.linkinfo.info_data if tunnel and tunnel.linkinfo else None) or {}
    # The tunnel's own source address, else the InternalIP (an agent announcing another
    # address is NET-301/NET-402's finding), else that announced address.
    claims = [str(data.get("local") or ""), *node.internal_ips]
    claims += [v for k, v in _calico_addresses(snap, node).items() if k == "address"]
    pub = _flannel_public_ip(node)
    claims += [pub[1]] if pub else []
    held = next((h for c in claims if c and (h := facts.interface_with_address(ip_only(c)))), None)
    if held is None:
        return None
    under, addr = held
    encap = _encap_kind(tunnel) if tunnel else None
    v6 = parse_ip(addr.local) is not None and ":" in addr.local
    overhead = (WIRE_OVERHEAD6 if v6 else WIRE_OVERHEAD)[encap] if encap else 0
    under_ev = Evidence(
        source=snap.node_source(name, "ip_addr"),
        object=f"Interface/{under.ifname}",
        field="mtu",
        value=str(under.mtu),
        node=name,
    )
    # The largest MTU a pod here can send with: its own interface, the host side of its veth,
    # or the MTU the CNI config hands to new pods.
    best: tuple[int, Evidence] | None = None
    big: list[tuple[int, Pod]] = []
    for p in snap.pods_by_node.get(name, ()):
        pf = snap.pod_facts.get(p.ref)
        if p.spec.host_network or pf is None:
            continue
        for i in pf.interfaces or ():
            if i.ifname != "lo" and i.addresses("inet") and i.mtu:
                big.append((i.mtu, p))
                if best is None or i.mtu > best[0]:
                    best = (
                        i.mtu,
                        Evidence(
                            source=snap.provenance.get(f"pod:{p.ref}:ip_addr")
                            or pod_path(p.ref, "ip_addr"),
                            object=f"Pod/{p.ref}",
                            field=f"Interface/{i.ifname}.mtu",
                            value=str(i.mtu),
                            node=name,
                        ),
                    )
    for i in facts.interfaces:
        pod_side = i.kind == "veth" and i is not under and not i.addresses("inet")
        if pod_side and i.mtu and (best is None or i.mtu > best[0]):
            best = (
                i.mtu,
                Evidence(
                    source=snap.node_source(name, "ip_addr"),
                    object=f"Interface/{i.ifname}",
                    field="mtu",
                    value=str(i.mtu),
                    node=name,
                ),
            )
    files = _cni_conf_files(facts)
    conf = _conf_json((facts.cni_files or {})[files[0]]) if files else None
    found = _conf_mtu(conf) if conf else None
    if found is not None and (best is None or found[1] > best[0]):
        best = (
            found[1],
            Evidence(
                source=_cni_file_source(snap, name, files[0]),
                object=f"CNIConfig/{files[0]}",
                field=found[0],
                value=str(found[1]),
                node=name,
            ),
        )
    if best is None:
        return None
    pod_mtu, pod_ev = best
    return _Mtu(
        node=name,
        underlay=under,
        underlay_ev=under_ev,
        encap=encap,
        tunnel=tunnel,
        overhead=overhead,
        pod_mtu=pod_mtu,
        pod_ev=pod_ev,
        big_pods=tuple(p for m, p in big if m == pod_mtu),
    )


def _mtu_fix(ctx: Context, m: _Mtu, limit: int, required: int) -> list[Action]:
    snap = ctx.snapshot
    cni = _cni(ctx)
    fix: list[Action] = []
    if cni == "calico":
        budget = limit - (WIRE_OVERHEAD[m.encap] if m.encap else 0)
        if ctx.cni.calico_operator:
            patch = json.dumps({"spec": {"calicoNetwork": {"mtu": budget}}}, separators=(",", ":"))
            fix.append(
                Action(
                    message=Message("fix.overlay.mtu_calico_operator", {"mtu": str(budget)}),
                    command=f"kubectl patch installation.operator.tigera.io default"
                    f" --type merge -p '{patch}'",
                )
            )
        else:
            ns, ds, _ = _agent_pod(ctx, "calico", m.node)
            cm = next(
                (c for c in snap.configmaps or () if c.metadata.name == "calico-config"), None
            )
            if cm is not None:
                ns = cm.metadata.namespace
            patch = json.dumps({"data": {"veth_mtu": str(budget)}}, separators=(",", ":"))
            fix.append(
                Action(
                    message=Message("fix.overlay.mtu_calico_manifest", {"mtu": str(budget)}),
                    command=f"kubectl -n {ns} patch configmap calico-config --type merge"
                    f" -p '{patch}' && kubectl -n {ns} rollout restart daemonset/{ds}",
                )
            )
        if m.tunnel is not None and m.encap and m.tunnel.mtu > budget:
            key = {"vxlan": "vxlanMTU", "ipip": "ipipMTU", "wireguard": "wireguardMTU"}.get(m.encap)
            if key:
                patch = json.dumps({"spec": {key: budget}}, separators=(",", ":"))
                fix.append(
                    Action(
                        message=Message(
                            "fix.overlay.mtu_calico_felix", {"key": key, "mtu": str(budget)}
                        ),
                        command=f"calicoctl patch felixconfiguration default -p '{patch}'",
                    )
                )
    elif cni == "flannel":
        ns, ds, pod = _agent_pod(ctx, "flannel", m.node)
        if m.pod_ev.object.startswith("CNIConfig/"):  # an "mtu" in the config overrides flannel
            fix.append(
                Action(
                    message=Message(
                        "fix.overlay.mtu_flannel_delegate",
                        {"field": m.pod_ev.field, "mtu": str(required)},
                    ),
                    command=f"kubectl -n {ns} edit configmap kube-flannel-cfg",
                )
            )
        fix.append(
            Action(
                message=Message("fix.overlay.mtu_flannel", {"mtu": str(required)}),
                command=(
                    f"kubectl -n {ns} exec {pod} -- cat /run/flannel/subnet.env"
                    if pod
                    else f"kubectl -n {ns} get configmap kube-flannel-cfg -o yaml"
                ),
            )
        )
    elif cni == "kube-ovn":
        budget = limit - KUBE_OVN_BUDGET
        ns, ds, _ = _agent_pod(ctx, "kube-ovn", m.node)
        op = [{"op": "add", "path": "/spec/template/spec/containers/0/args/-"}]
        op[0]["value"] = f"--mtu={budget}"
        fix.append(
            Action(
                message=Message("fix.overlay.mtu_kube_ovn", {"mtu": str(budget)}),
                command=f"kubectl -n {ns} patch daemonset {ds} --type json"
                f" -p '{json.dumps(op, separators=(',', ':'))}'",
            )
        )
    else:
        fix.append(
            Action(
                message=Message("fix.overlay.mtu_generic", {"mtu": str(required)}),
                command=f"ip -d link show dev {m.underlay.ifname}",
            )
        )
    by_ns: dict[str, list[str]] = defaultdict(list)
    for p in m.big_pods:
        by_ns[p.metadata.namespace].append(p.metadata.name)
    recreate = "; ".join(
        f"kubectl -n {ns} delete pod {' '.join(sorted(names))}"
        for ns, names in sorted(by_ns.items())
    ) or (f"kubectl get pods -A -o wide --field-selector spec.nodeName={m.node}")
    fix.append(
        Action(
            message=Message("fix.overlay.mtu_recreate", {"node": m.node}),
            command=recreate,
        )
    )
    return fix


@check("mtu-mismatch", code="NET-206", needs=("k8s.nodes", "node.ip_addr"))
def mtu_mismatch(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    seen: dict[str, _Mtu] = {}
    for name in sorted(snap.node_by_name):
        m = _node_mtu(snap, snap.node_by_name[name])
        if m is not None:
            seen[name] = m
        elif name in snap.node_facts and snap.node_facts[name].interfaces is not None:
            continue  # no pod-side interface to judge (a node without pods)
        else:
            yield node_file_note(snap, name, "ip_addr")
    if not seen:
        return
    under_odd = odd_one_out({n: str(m.underlay.mtu) for n, m in seen.items()})
    pod_odd = odd_one_out({n: str(m.pod_mtu) for n, m in seen.items()})
    smallest = min(seen.values(), key=lambda x: (x.underlay.mtu, x.node))
    for name, m in seen.items():
        limit_node = m if m.underlay.mtu <= smallest.underlay.mtu else smallest
        limit = limit_node.underlay.mtu
        tunnel_mtu = m.tunnel.mtu if m.tunnel is not None else None
        required = limit - m.overhead
        if tunnel_mtu is not None:
            required = min(required, tunnel_mtu)
        if m.pod_mtu <= required:
            continue
        if m.pod_mtu + m.overhead > m.underlay.mtu:
            variant = "encap" if m.overhead else "routed"
        elif m.pod_mtu + m.overhead > limit:
            variant = "peer"
        else:
            variant = "tunnel"
        ev = [m.pod_ev]
        if m.tunnel is not None:
            ev.append(
                Evidence(
                    source=snap.node_source(name, "ip_addr"),
                    object=f"Interface/{m.tunnel.ifname}",
                    field="mtu",
                    value=str(m.tunnel.mtu),
                    node=name,
                )
            )
        ev.append(m.underlay_ev)
        if limit_node.node != name and variant == "peer":
            ev.append(limit_node.underlay_ev)
        notes: list[Message] = []
        if under_odd is not None:
            ifaces = ", ".join(sorted({seen[n].underlay.ifname for n in under_odd.nodes}))
            notes.append(under_odd.note("mtu", iface=ifaces))
        elif pod_odd is not None:
            notes.append(pod_odd.note("mtu", iface="pod"))
        pods = tuple(p.ref for p in m.big_pods)
        verify: list[Action] = []
        probe = m.big_pods[0] if m.big_pods else None
        if probe is not None:
            verify.append(
                Action(
                    message=Message("verify.overlay.mtu_pod", {"mtu": str(required)}),
                    command=f"kubectl -n {probe.metadata.namespace} exec {probe.metadata.name}"
                    " -- cat /sys/class/net/eth0/mtu",
                )
            )
            peer_pod = _peer_pod(snap, name, limit_node.node)
            if peer_pod is not None:
                verify.append(
                    Action(
                        message=Message("verify.overlay.mtu_ping", {"size": str(required)}),
                        command=f"kubectl -n {probe.metadata.namespace} exec"
                        f" {probe.metadata.name} -- ping -c 2 -M do -s {required - 28}"
                        f" {peer_pod.ips[0]}",
                    )
                )
        else:
            verify.append(
                Action(
                    message=Message("verify.overlay.mtu_link", {"mtu": str(required)}),
                    command="ip -o link show | grep -E 'cali|veth|cni0'",
                )
            )
        yield Finding(
            id="mtu-mismatch",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={
                "node": name,
                "pod_mtu": str(m.pod_mtu),
                "encap": m.encap or "",
                "overhead": str(m.overhead),
                "underlay": m.underlay.ifname,
                "underlay_mtu": str(m.underlay.mtu),
                "limit_node": limit_node.node,
                "limit_mtu": str(limit),
                "tunnel": m.tunnel.ifname if m.tunnel else "",
                "tunnel_mtu": str(tunnel_mtu or ""),
                "required": str(required),
            },
            evidence=tuple(ev),
            fix=tuple(_mtu_fix(ctx, m, limit, required)),
            verify=tuple(verify),
            notes=tuple(notes),
            nodes=tuple(dict.fromkeys((name, limit_node.node))),
            pods=pods,
        )


def _peer_pod(snap: Snapshot, node: str, limit_node: str) -> Pod | None:
    """A pod on another node to ping across the overlay (on the limiting node if it has one)."""
    order = [limit_node, *sorted(n for n in snap.pods_by_node if n not in (node, limit_node))]
    for n in order:
        if n == node:
            continue
        for p in snap.pods_by_node.get(n, ()):
            if not p.spec.host_network and p.ips and p.status.phase == "Running":
                return p
    return None


# --- NET-201: several CNI configs ------------------------------------------------------------


def _conf_cni(file: str, text: str) -> str:
    """Which CNI a config file belongs to: its (first) plugin type, else its name."""
    conf = _conf_json(text)
    if conf is not None:
        t = conf.get("type")
        plugins = conf.get("plugins")
        if not isinstance(t, str) and isinstance(plugins, list) and plugins:
            first = plugins[0]
            t = first.get("type") if isinstance(first, dict) else None
        if isinstance(t, str) and t:
            return _PLUGIN_CNI.get(t, t)
    for cni in ("calico", "flannel", "kube-ovn", "cilium", "multus", "weave"):
        if cni in file:
            return cni
    return file


@check("cni-config-conflict", code="NET-201", needs=("node.cni",))
def cni_config_conflict(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    intended = _cni(ctx)
    in_use: dict[str, str] = {}
    conflicts: list[tuple[str, list[str]]] = []
    for name in sorted(snap.node_by_name or snap.node_facts):
        facts = snap.node_facts.get(name)
        if facts is None or facts.cni_files is None:
            yield Note(
                Message(
                    "note.node_file_missing",
                    {"node": name, "path": _cni_file_source(snap, name, "")},
                )
            )
            continue
        files = _cni_conf_files(facts)
        if not files:
            continue
        in_use[name] = files[0]
        if len(files) > 1 and _conf_cni(files[0], facts.cni_files[files[0]]) != "multus":
            conflicts.append((name, files))
    odd = odd_one_out(in_use)
    for name, files in conflicts:
        texts = snap.node_facts[name].cni_files or {}
        owners = {f: _conf_cni(f, texts[f]) for f in files}
        first = files[0]
        if intended is None:
            variant, severity = "unknown", Severity.WARNING
            stale = files[1:]
        elif owners[first] == intended:
            variant, severity = "leftover", Severity.INFO
            stale = [f for f in files[1:] if owners[f] != intended] or files[1:]
        else:
            variant, severity = "wrong_first", Severity.CRITICAL
            stale = [f for f in files if owners[f] != intended]
        keep = [f for f in files if f not in stale]
        ev = [
            Evidence(
                source=_cni_file_source(snap, name, f),
                object=f"CNIConfig/{f}",
                field="plugin type" if i else "plugin type (first by name: in use)",
                value=owners[f],
                node=name,
            )
            for i, f in enumerate(files)
        ]
        moves = " ".join(f"/etc/cni/net.d/{f}" for f in stale)
        notes = (odd.note("cni_config"),) if odd is not None and name in odd.nodes else ()
        yield Finding(
            id="cni-config-conflict",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={
                "node": name,
                "first": first,
                "first_cni": owners[first],
                "stale": ", ".join(stale),
                "keep": ", ".join(keep),
                "cni": intended or "",
            },
            evidence=tuple(ev),
            fix=(
                Action(
                    message=Message(
                        "fix.overlay.cni_move", {"node": name, "stale": ", ".join(stale)}
                    ),
                    command=(
                        f"mkdir -p /etc/cni/net.d.disabled && mv {moves} /etc/cni/net.d.disabled/"
                    ),
                ),
                Action(
                    message=Message("fix.overlay.cni_recreate", {"node": name}),
                    command=f"kubectl get pods -A -o wide --field-selector spec.nodeName={name}",
                ),
            ),
            verify=(
                Action(
                    message=Message("verify.overlay.cni_ls", {"file": keep[0] if keep else ""}),
                    command="ls -1 /etc/cni/net.d/",
                ),
            ),
            notes=notes,
            nodes=(name,),
            severity=severity,
        )


# --- NET-209: nodes without spec.podCIDR -----------------------------------------------------

_NO_CIDR_LOG = re.compile(
    r"(pod cidr not assign|podCIDR.{0,40}(empty|not set|missing)|failed to get pod CIDR"
    r"|node \S+ pod cidr not assigned)",
    re.IGNORECASE,
)


def _flag(pod: Pod | None, flag: str) -> tuple[str, int] | None:
    """(value, container index) of ``--flag=value`` in a pod's command or args."""
    for i, c in enumerate(pod.spec.containers if pod else ()):
        for arg in (*c.command, *c.args):
            if arg.startswith(f"{flag}="):
                return arg.split("=", 1)[1], i
    return None


def _static_pod(snap: Snapshot, prefix: str) -> Pod | None:
    for p in snap.pods_by_namespace.get("kube-system", ()):
        if p.metadata.name.startswith(prefix) or p.metadata.labels.get("component") == prefix:
            return p
    return None


def _kubeadm_networking(snap: Snapshot) -> dict[str, str]:
    """``podSubnet`` / ``serviceSubnet`` from the kubeadm-config ConfigMap, when present."""
    import yaml  # the ConfigMap value is YAML text

    for cm in snap.configmaps or ():
        if cm.metadata.name != "kubeadm-config" or "ClusterConfiguration" not in cm.data:
            continue
        try:
            data = yaml.safe_load(cm.data["ClusterConfiguration"])
        except yaml.YAMLError:
            return {}
        net = data.get("networking") if isinstance(data, dict) else None
        if isinstance(net, dict):
            return {k: str(v) for k, v in net.items() if isinstance(v, str)}
    return {}


@dataclass(frozen=True)
class _Known:
    """A network the cluster is configured with, and where that is written."""

    net: IPNet
    evidence: Evidence


def _flag_cidr(snap: Snapshot, component: str, flag: str) -> _Known | None:
    """The first CIDR of a control-plane static pod's ``flag`` (``--cluster-cidr``...)."""
    pod = _static_pod(snap, component)
    found = _flag(pod, flag)
    if pod is None or found is None or (net := _net(found[0].split(",")[0])) is None:
        return None
    return _Known(net, pod_evidence(snap, pod, "spec.containers[].command", f"{flag}={found[0]}"))


def _kubeadm_cidr(snap: Snapshot, key: str) -> _Known | None:
    """The first CIDR of kubeadm-config's ClusterConfiguration ``networking.<key>``."""
    sub = _kubeadm_networking(snap).get(key)
    if not sub or (net := _net(sub.split(",")[0])) is None:
        return None
    cm = next(c for c in snap.configmaps or () if c.metadata.name == "kubeadm-config")
    return _Known(
        net,
        Evidence(
            source=snap.source("k8s.configmaps"),
            object=f"ConfigMap/{cm.metadata.namespace}/kubeadm-config",
            field=f"data.ClusterConfiguration.networking.{key}",
            value=sub,
        ),
    )


def _cluster_cidr(snap: Snapshot, ctx: Context) -> _Known | None:
    known = _flag_cidr(snap, "kube-controller-manager", "--cluster-cidr") or _kubeadm_cidr(
        snap, "podSubnet"
    )
    if known is not None:
        return known
    conf = _flannel_net_conf(ctx)
    if conf and isinstance(conf.get("Network"), str) and (net := _net(conf["Network"])):
        cm = next(c for c in snap.configmaps or () if "net-conf.json" in c.data)
        return _Known(
            net,
            Evidence(
                source=snap.source("k8s.configmaps"),
                object=f"ConfigMap/{cm.metadata.namespace}/{cm.metadata.name}",
                field="data[net-conf.json].Network",
                value=conf["Network"],
            ),
        )
    return None


def _needs_pod_cidr(ctx: Context) -> bool:
    cni = _cni(ctx)
    if cni == "flannel":
        # Only the Kubernetes subnet manager takes subnets from spec.podCIDR (not etcd).
        agent = ctx.cni.agent("flannel")
        c = agent.container if agent else None
        args = [*c.command, *c.args] if c else []
        nodes = ctx.snapshot.nodes or ()
        return "--kube-subnet-mgr" in args or any(
            n.metadata.annotations.get(FLANNEL_KSM) == "true" for n in nodes
        )
    if cni == "calico":
        for facts in ctx.snapshot.node_facts.values():
            for f in _cni_conf_files(facts):
                if "usePodCidr" in (facts.cni_files or {}).get(f, ""):
                    return True
    return False


@check("node-pod-cidr-missing", code="NET-209", needs=("k8s.nodes",), cni=("flannel", "calico"))
def pod_cidr_missing(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if not _needs_pod_cidr(ctx):
        yield NotApplicable()
        return
    cni = _cni(ctx) or ""
    agent = ctx.cni.agent(cni)
    container = agent.agent.container if agent else ""
    cluster = _cluster_cidr(snap, ctx)
    used = [n for node in snap.nodes or () for n in _node_pod_cidrs(node)]
    size = used[0].prefixlen if used else (24 if cluster and cluster.net.version == 4 else 64)
    cm_pod = _static_pod(snap, "kube-controller-manager")
    allocate = _flag(cm_pod, "--allocate-node-cidrs")
    taken: list[IPNet] = list(used)
    for node in sorted(snap.nodes or (), key=lambda n: n.metadata.name):
        name = node.metadata.name
        if _node_pod_cidrs(node):
            continue
        ev = [_podcidr_evidence(snap, node)]
        ns, ds, pod_name = _agent_pod(ctx, cni, name)
        pod = snap.pod_by_ref.get(f"{ns}/{pod_name}") if pod_name else None
        found = last_log_match(snap, pod, container, _NO_CIDR_LOG) if container else None
        if found is not None:
            ev.append(found[1])
        if pod is not None and pod.restarts:
            ev.append(
                pod_evidence(
                    snap, pod, "status.containerStatuses[].restartCount", str(pod.restarts)
                )
            )
        if cm_pod is not None:
            ev.append(
                pod_evidence(
                    snap,
                    cm_pod,
                    "spec.containers[].command --allocate-node-cidrs",
                    allocate[0] if allocate else "(not set: false)",
                )
            )
        if cluster is not None:
            ev.append(cluster.evidence)
        fix: list[Action] = []
        free = _free_subnet(cluster.net, size, taken) if cluster else None
        if free is not None:
            taken.append(free)
            patch = json.dumps(
                {"spec": {"podCIDR": str(free), "podCIDRs": [str(free)]}}, separators=(",", ":")
            )
            fix.append(
                Action(
                    message=Message("fix.overlay.podcidr_patch", {"node": name, "cidr": str(free)}),
                    command=f"kubectl patch node {name} -p '{patch}'",
                )
            )
        cidr_text = str(cluster.net) if cluster else "<pod network CIDR>"
        fix.append(
            Action(
                message=Message("fix.overlay.podcidr_allocate", {"cidr": cidr_text}),
                command=(
                    "kubeadm init phase control-plane controller-manager"
                    f" --pod-network-cidr={cidr_text}"
                ),
            )
        )
        fix.append(_restart_agent(ctx, cni, name))
        yield Finding(
            id="node-pod-cidr-missing",
            subject=Subject(kind="Node", name=name),
            variant="from_log" if found is not None else "default",
            params={"node": name, "agent": ds, "cidr": cidr_text},
            evidence=tuple(ev),
            fix=tuple(fix),
            verify=(
                Action(
                    message=Message("verify.overlay.podcidr", {"node": name}),
                    command=f"kubectl get node {name} -o jsonpath='{{.spec.podCIDR}}'",
                ),
            ),
            nodes=(name,),
        )


def _subnets(net: IPNet, prefixlen: int, limit: int) -> Iterator[IPNet]:
    """The first ``limit`` subnets of ``net`` of length ``prefixlen``, in order."""
    if prefixlen < net.prefixlen:
        return
    cls: type[IPNet] = type(net)
    step = 1 << (net.max_prefixlen - prefixlen)
    base = int(net.network_address)
    for k in range(min(1 << (prefixlen - net.prefixlen), limit)):
        yield cls((base + k * step, prefixlen))


def _free_subnet(cluster: IPNet, size: int, taken: Iterable[IPNet]) -> IPNet | None:
    """The first /size inside the cluster network that no node holds."""
    held = list(taken)
    for sub in _subnets(cluster, size, 65536):
        if not any(sub.version == h.version and sub.overlaps(h) for h in held):
            return sub
    return None


# --- NET-208: one IP held twice ---------------------------------------------------------------

_DONE = ("Succeeded", "Failed")


def _kubeovn_ip_objects(snap: Snapshot) -> dict[str, list[tuple[str, str]]]:
    """IP -> [(ips.kubeovn.io name, the pod it names as ns/pod)]."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for obj in snap.custom.get("k8s.kubeovn_ips", ()):
        spec = obj.spec
        pod = f"{spec.get('namespace', '')}/{spec.get('podName', '')}"
        for key in ("v4IpAddress", "v6IpAddress", "ipAddress"):
            for ip in str(spec.get(key) or "").split(","):
                if ip and (obj.metadata.name, pod) not in out[ip]:
                    out[ip].append((obj.metadata.name, pod))
    return out


@check("pod-ip-conflict", code="NET-208", needs=("k8s.pods",))
def pod_ip_conflict(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    ovn = _kubeovn_ip_objects(snap)
    for ip, holders in sorted(snap.pods_by_ip.items()):
        live = [
            p for p in holders if p.status.phase not in _DONE and not p.metadata.deletion_timestamp
        ]
        nodes = list(snap.node_by_address.get(ip, []))
        if len(live) + (1 if nodes and live else 0) < 2:
            continue
        ordered = sorted(live, key=lambda p: (p.metadata.creation_timestamp or "", p.ref))
        ev = [pod_evidence(snap, p, "status.podIPs", ip) for p in ordered]
        ev += [internal_ip_evidence(snap, n) for n in nodes]
        for name, pod_ref in ovn.get(ip, []):
            ev.append(
                Evidence(
                    source=snap.source("k8s.kubeovn_ips"),
                    object=f"IP/{name}",
                    field="spec.namespace/spec.podName",
                    value=pod_ref,
                )
            )
        stale_ovn = [name for name, ref in ovn.get(ip, []) if ref not in {p.ref for p in ordered}]
        newest = ordered[-1]
        fix = [
            Action(
                message=Message("fix.overlay.ip_conflict_delete", {"pod": newest.ref}),
                command=f"kubectl -n {newest.metadata.namespace} delete pod {newest.metadata.name}",
            )
        ]
        if stale_ovn:
            fix.insert(
                0,
                Action(
                    message=Message("fix.overlay.ip_conflict_kubeovn", {"ip": ip}),
                    command=f"kubectl delete ip {' '.join(stale_ovn)}",
                ),
            )
        if _cni(ctx) == "calico":
            fix.append(
                Action(
                    message=Message("fix.overlay.ip_conflict_calico", {}),
                    command="calicoctl ipam check --show-problem-ips",
                )
            )
        variant = "node" if nodes else "pods"
        yield Finding(
            id="pod-ip-conflict",
            subject=Subject(
                kind="Pod", name=newest.metadata.name, namespace=newest.metadata.namespace
            ),
            variant=variant,
            params={
                "ip": ip,
                "pods": ", ".join(p.ref for p in ordered),
                "node": ", ".join(n.metadata.name for n in nodes),
            },
            evidence=tuple(ev),
            fix=tuple(fix),
            verify=(
                Action(
                    message=Message("verify.overlay.ip_conflict", {"ip": ip}),
                    command=f"kubectl get pods -A -o wide | grep -w {ip}",
                ),
            ),
            nodes=tuple(dict.fromkeys(p.spec.node_name for p in ordered if p.spec.node_name)),
            pods=tuple(p.ref for p in ordered),
        )


# --- NET-207: the pod network overlaps another network ----------------------------------------


def _pod_networks(ctx: Context) -> list[_Known]:
    """The pod address ranges, from what configures them (pools, net-conf, cluster CIDR)."""
    snap = ctx.snapshot
    out: list[_Known] = []
    if _cni(ctx) == "calico":
        for pool in snap.ippools or ():
            net = _net(pool.spec.cidr)
            if net is not None and not pool.spec.disabled:
                out.append(_Known(net, ippool_evidence(snap, pool)))
        if out:
            return out
    cluster = _cluster_cidr(snap, ctx)
    return [cluster] if cluster is not None else []


def _service_cidr(snap: Snapshot) -> _Known | None:
    known = _flag_cidr(snap, "kube-apiserver", "--service-cluster-ip-range")
    return known or _kubeadm_cidr(snap, "serviceSubnet")


def _others(ctx: Context, pools: list[_Known]) -> list[tuple[str, _Known]]:
    """Other networks the pod ranges must not overlap: (kind, network)."""
    snap = ctx.snapshot
    out: list[tuple[str, _Known]] = []
    svc = _service_cidr(snap)
    if svc is not None:
        out.append(("service", svc))
    for node in sorted(snap.nodes or (), key=lambda n: n.metadata.name):
        name = node.metadata.name
        for ip in node.internal_ips:
            net = _net(ip)
            if net is not None:
                out.append(("node_ip", _Known(net, internal_ip_evidence(snap, node))))
        facts = snap.node_facts.get(name)
        for i in (facts.interfaces or ()) if facts else ():
            if _CNI_IFACE.match(i.ifname) or i.ifname == "lo":
                continue
            for a in i.addr_info:
                if a.scope not in ("", "global") or not a.local:
                    continue
                try:
                    net = a.interface.network
                except ValueError:
                    continue
                if net.prefixlen == net.max_prefixlen:
                    continue  # a lone /32: the node-address case above covers addresses
                out.append(("iface", _Known(net, iface_evidence(snap, name, i, a))))
    return out


@check("pod-cidr-overlap", code="NET-207", needs=("k8s.nodes",))
def pod_cidr_overlap(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    pools = _pod_networks(ctx)
    if not pools:
        yield Skip(
            Message(
                "skip.missing",
                {
                    "path": snap.source("k8s.ippools")
                    if _cni(ctx) == "calico"
                    else snap.source("k8s.configmaps")
                },
            )
        )
        return
    others = _others(ctx, pools)
    reported: set[tuple[str, str, str]] = set()
    for pool in pools:
        hits: dict[tuple[str, str], list[_Known]] = defaultdict(list)
        for kind, other in others:
            if other.net.version != pool.net.version or not other.net.overlaps(pool.net):
                continue
            hits[(kind, str(other.net))].append(other)
        for (kind, net_text), group in sorted(hits.items()):
            key = (str(pool.net), kind, net_text)
            if key in reported:
                continue
            reported.add(key)
            nodes = tuple(dict.fromkeys(e.evidence.node for e in group if e.evidence.node))
            iface = group[0].evidence.object.removeprefix("Interface/") if kind == "iface" else ""
            taken = [o.net for _, o in others] + [p.net for p in pools]
            free = _free_range(pool.net.prefixlen, taken) if pool.net.version == 4 else None
            bip = _free_range(24, [*taken, *([free] if free else [])])
            yield Finding(
                id="pod-cidr-overlap",
                subject=Subject(kind="Node", name=nodes[0])
                if nodes
                else Subject(kind="Network", name=str(pool.net)),
                variant=kind,
                params={
                    "pool": str(pool.net),
                    "other": net_text,
                    "iface": iface,
                    "nodes": ", ".join(nodes),
                    "free": str(free) if free else "",
                },
                evidence=(pool.evidence, *(e.evidence for e in group)),
                fix=tuple(_overlap_fix(ctx, pool, kind, iface, nodes, free, bip)),
                verify=(
                    Action(
                        message=Message("verify.overlay.overlap", {"pool": str(free or pool.net)}),
                        command="ip -4 route show; ip -4 -o addr show",
                    ),
                ),
                nodes=nodes,
            )


def _free_range(prefixlen: int, taken: list[IPNet]) -> IPNet | None:
    """A private IPv4 range of that length overlapping nothing known (RFC 1918 order)."""
    for space in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"):
        for sub in _subnets(ipaddress.IPv4Network(space), prefixlen, 4096):
            if not any(sub.version == t.version and sub.overlaps(t) for t in taken):
                return sub
    return None


def _overlap_fix(
    ctx: Context,
    pool: _Known,
    kind: str,
    iface: str,
    nodes: tuple[str, ...],
    free: IPNet | None,
    bip: IPNet | None,
) -> list[Action]:
    out: list[Action] = []
    if kind == "iface" and iface == "docker0" and bip is not None:
        gw = f"{bip.network_address + 1}/{bip.prefixlen}"
        conf = json.dumps({"bip": gw})
        out.append(
            Action(
                message=Message(
                    "fix.overlay.overlap_docker",
                    {"iface": iface, "nodes": ", ".join(nodes), "bip": gw},
                ),
                command=f"echo '{conf}' > /etc/docker/daemon.json && systemctl restart docker",
            )
        )
    elif kind == "iface" and iface.startswith("br-"):
        out.append(
            Action(
                message=Message(
                    "fix.overlay.overlap_docker_network",
                    {"iface": iface, "nodes": ", ".join(nodes)},
                ),
                command=f"docker network ls --filter id={iface.removeprefix('br-')}",
            )
        )
    target = str(free) if free else "<a free range>"
    old = pool.evidence.object.removeprefix("IPPool/")
    ippool = next((p for p in ctx.snapshot.ippools or () if p.metadata.name == old), None)
    if ippool is not None:
        spec: dict[str, Any] = {
            "cidr": target,
            "ipipMode": ippool.spec.ipip_mode,
            "vxlanMode": ippool.spec.vxlan_mode,
            "natOutgoing": ippool.spec.nat_outgoing,
            "nodeSelector": ippool.spec.node_selector or "all()",
        }
        if ippool.spec.block_size:
            spec["blockSize"] = ippool.spec.block_size
        new = {
            "apiVersion": "projectcalico.org/v3",
            "kind": "IPPool",
            "metadata": {"name": f"{old}-moved"},
            "spec": spec,
        }
        disable = json.dumps({"spec": {"disabled": True}}, separators=(",", ":"))
        out.append(
            Action(
                message=Message("fix.overlay.overlap_calico_pool", {"free": target, "pool": old}),
                command=(
                    f"echo '{json.dumps(new, separators=(',', ':'))}' | calicoctl create -f -"
                    f" && calicoctl patch ippool {old} -p '{disable}'"
                ),
            )
        )
    else:
        out.append(
            Action(
                message=Message("fix.overlay.overlap_cluster_cidr", {"free": target}),
                command=f"kubeadm init --pod-network-cidr={target}",
            )
        )
    return out
