"""Encapsulation and decapsulation: VXLAN (next hop, neighbour, FDB entry, VNI, port) and
IP-in-IP (``tunl0``: outer destination = the onlink gateway, protocol 4, 20 bytes).

Part of the trace (``netdoctor.trace.stages``). Each function returns the packet that goes on
(the outer packet, or the inner one with its receiving device); the node stage walks it."""

from __future__ import annotations

from collections.abc import Iterable

from netdoctor.model.nodefacts import FdbEntry, Interface, Neighbour, NetFacts, Route
from netdoctor.trace.routing import route_gw, select_src
from netdoctor.trace.walk import Pkt, Walk

__all__ = ["decap", "ipip", "vxlan"]

_VXLAN_OVERHEAD = 50
_IPIP_OVERHEAD = 20


def vxlan(w: Walk, node: str, nfacts: NetFacts, route: Route, dev: Interface, pkt: Pkt) -> Pkt:
    """Into the VXLAN device: next hop, its neighbour entry, the FDB entry; the outer packet."""
    data = (dev.linkinfo.info_data if dev.linkinfo else None) or {}
    nh = route_gw(route) or pkt.dst
    if nfacts.neighbours is None:
        w.missing("encap", w.snap.node_source(node, "ip_neigh"), node)
    neigh = _find_neigh(nfacts.neighbours or (), nh, dev.ifname)
    if neigh is None or not neigh.lladdr:
        raise w.drop(
            "encap",
            "no_neigh",
            {"node": node, "dev": dev.ifname, "nexthop": nh},
            [w.quote.fact(node, "ip_neigh", f"neighbour {nh} dev {dev.ifname}", "none")],
            node=node,
            cause="overlay-fdb-missing",
        )
    assert neigh is not None
    assert neigh.lladdr is not None
    if nfacts.fdb is None:
        w.missing("encap", w.snap.node_source(node, "bridge_fdb"), node)
    fdb = _find_fdb(nfacts.fdb or (), neigh.lladdr, dev.ifname)
    nev = w.quote.fact(node, "ip_neigh", f"neighbour {nh} dev {dev.ifname}", neigh.lladdr)
    if fdb is None or not fdb.dst:
        raise w.drop(
            "encap",
            "no_fdb",
            {"node": node, "dev": dev.ifname, "mac": neigh.lladdr},
            [
                nev,
                w.quote.fact(node, "bridge_fdb", f"fdb {neigh.lladdr} dev {dev.ifname}", "none"),
            ],
            node=node,
            cause="overlay-fdb-missing",
        )
    assert fdb is not None
    assert fdb.dst is not None
    fev = w.quote.fact(node, "bridge_fdb", f"fdb {fdb.mac} dev {dev.ifname}", f"dst {fdb.dst}")
    local = str(data.get("local") or "")
    port = data.get("port")
    vni = data.get("id")
    if not local:
        local = select_src(nfacts, fdb.dst)
    outer_size = pkt.size + _VXLAN_OVERHEAD
    df = data.get("df") == "set" or (data.get("df") == "inherit" and pkt.df)
    w.hop(
        "encap",
        "pass",
        "vxlan",
        {
            "node": node,
            "dev": dev.ifname,
            "vni": str(vni),
            "src": local,
            "dst": fdb.dst,
            "port": str(port),
            "size": str(outer_size),
        },
        [
            w.quote.route(node, route, pkt.dst),
            nev,
            fev,
            w.quote.iface(node, dev, "linkinfo.info_data", f"id {vni} local {local} port {port}"),
        ],
        node=node,
    )
    return Pkt(
        src=local,
        dst=fdb.dst,
        proto="udp",
        size=outer_size,
        df=df,
        ctstate="NEW",
        dport=int(port) if isinstance(port, int) else None,
        inner=pkt,
        encap="vxlan",
        origin=(w.quote.route(node, route, pkt.dst),),
        vni=int(vni) if isinstance(vni, int) else None,
    )


def ipip(w: Walk, node: str, nfacts: NetFacts, route: Route, dev: Interface, pkt: Pkt) -> Pkt:
    """Into the IP-in-IP device: the outer packet goes to the route's (onlink) gateway."""
    gw = route_gw(route)
    if not gw:
        w.unknown_stop("encap", "ipip_no_gateway", {"node": node, "dev": dev.ifname}, node=node)
    assert gw is not None
    data = (dev.linkinfo.info_data if dev.linkinfo else None) or {}
    local = str(data.get("local") or "")
    if local in ("", "any"):
        local = select_src(nfacts, gw)
    outer_size = pkt.size + _IPIP_OVERHEAD
    w.hop(
        "encap",
        "pass",
        "ipip",
        {"node": node, "dev": dev.ifname, "src": local, "dst": gw, "size": str(outer_size)},
        [w.quote.route(node, route, pkt.dst)],
        node=node,
    )
    return Pkt(
        src=local,
        dst=gw,
        proto="4",
        size=outer_size,
        df=bool(data.get("pmtudisc", True)),
        ctstate="NEW",
        inner=pkt,
        encap="ipip",
        origin=(w.quote.route(node, route, pkt.dst),),
    )


def decap(w: Walk, node: str, nfacts: NetFacts, pkt: Pkt) -> tuple[str, Pkt]:
    """The receiving device of an outer packet: (that device, the inner packet)."""
    inner = pkt.inner
    assert inner is not None
    for i in nfacts.interfaces or ():
        data = i.linkinfo.info_data if i.linkinfo else None
        if (
            pkt.encap == "vxlan"
            and i.kind == "vxlan"
            and data
            and data.get("port") == pkt.dport
            and data.get("id") == pkt.vni
        ):
            w.hop(
                "decap",
                "pass",
                "vxlan",
                {
                    "node": node,
                    "dev": i.ifname,
                    "vni": str(data.get("id")),
                    "port": str(pkt.dport),
                },
                [
                    w.quote.iface(
                        node,
                        i,
                        "linkinfo.info_data",
                        f"id {data.get('id')} port {data.get('port')}",
                    )
                ],
                node=node,
            )
            return i.ifname, inner
        if pkt.encap == "ipip" and i.kind == "ipip":
            w.hop(
                "decap",
                "pass",
                "ipip",
                {"node": node, "dev": i.ifname},
                [w.quote.iface(node, i, "linkinfo.info_kind", "ipip")],
                node=node,
            )
            return i.ifname, inner
    raise w.drop(
        "decap",
        "no_device",
        {"node": node, "encap": pkt.encap or "", "port": str(pkt.dport or "")},
        node=node,
        cause="overlay-port-blocked" if pkt.encap == "vxlan" else None,
    )


def _find_neigh(neighbours: Iterable[Neighbour], ip: str, dev: str) -> Neighbour | None:
    for n in neighbours:
        if n.dst == ip and n.dev == dev and "FAILED" not in n.state and "INCOMPLETE" not in n.state:
            return n
    return None


def _find_fdb(fdb: Iterable[FdbEntry], mac: str, dev: str) -> FdbEntry | None:
    for e in fdb:
        if e.mac.lower() == mac.lower() and e.ifname == dev and e.dst:
            return e
    return None
