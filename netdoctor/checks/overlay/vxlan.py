"""NET-205 overlay-fdb-missing: each node's VXLAN device (``flannel.1``, ``vxlan.calico``) knows
every peer's VTEP: the neighbour entry (the peer's tunnel address to its VTEP MAC) and the FDB
entry (that MAC to the peer's underlay address).

Checks layer: a pure function over the Snapshot. The VTEPs come from what the peers announce
(flannel's backend-data and public-ip annotations, Calico's VXLAN tunnel address and MAC); a
node's ``ip neigh`` and ``bridge fdb`` are compared with them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from netdoctor.checks._support.common import (
    annotation_evidence,
    internal_ip_evidence,
    node_file_note,
)
from netdoctor.checks._support.registry import Context, NotApplicable, Yielded, check
from netdoctor.checks.overlay._common import (
    calico_addresses,
    flannel_backend,
    flannel_public_ip,
    main_routes,
    node_pod_cidrs,
    podcidr_evidence,
    restart_agent,
    route_devs,
    route_evidence,
    routing_cni,
)
from netdoctor.model.cni import CALICO_ADDRESS, CALICO_VXLAN_ADDR, FLANNEL_BACKEND_DATA
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.nodefacts import NetFacts, Route

__all__ = ["fdb_missing"]


def _gateways(r: Route) -> set[str]:
    out = {r.gateway} if r.gateway else set()
    out.update(h.gateway for h in r.nexthops if h.gateway)
    return out


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
            if flannel_backend(ctx, peer) != "vxlan":
                continue
            nets = [n for n in node_pod_cidrs(peer) if n.version == 4]
            pub = flannel_public_ip(peer)
            if not nets or pub is None:
                continue
            ip = str(nets[0].network_address)
            ev += [podcidr_evidence(snap, peer), annotation_evidence(snap, peer, pub[0])]
            underlay = pub[1]
            try:
                data = json.loads(peer.metadata.annotations.get(FLANNEL_BACKEND_DATA) or "null")
            except ValueError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("VtepMAC"), str):
                mac = data["VtepMAC"].lower()
                ev.append(annotation_evidence(snap, peer, FLANNEL_BACKEND_DATA))
        else:
            addrs = calico_addresses(snap, peer)
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
    cni = routing_cni(ctx)
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
        for r in main_routes(facts):
            if dev in route_devs(r):
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
    ev = [route_evidence(snap, node, vt.ip, via), neigh_ev]
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
    fix = [restart_agent(ctx, cni, node)]
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
