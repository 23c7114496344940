"""Flannel root causes (NET-4xx): the public IP flannel registered for each node, backends.

Checks layer: pure functions over the Snapshot. Flannel records the address its VXLAN (or
host-gw) peers must use in the node annotation ``flannel.alpha.coreos.com/public-ip``
(``public-ip-overwrite`` wins when set); its log says ``Using interface with name X and address A``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from netdoctor.checks import predicates
from netdoctor.checks._support.common import (
    AddressClaim,
    annotation_evidence,
    iface_evidence,
    internal_ip_evidence,
    ip_only,
    node_holding,
    parse_ip,
    peer_path_evidence,
    peers_reach,
    shared_subnet_address,
)
from netdoctor.checks._support.registry import Context, Note, Skip, Yielded, check
from netdoctor.model.cni import FLANNEL_BACKEND_TYPE
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject

_IFACE_ARGS = ("--iface", "--iface-regex", "--iface-can-reach", "--public-ip")


def flannel_claims(ctx: Context) -> dict[str, AddressClaim]:
    """The public IP flanneld uses for each node: the shared detector
    (``checks.predicates.flannel_claims``), which the trace calls too."""
    return predicates.flannel_claims(ctx.snapshot, ctx.cni)


def _fdb_evidence(ctx: Context, address: str) -> list[Evidence]:
    """VXLAN forwarding entries that send to ``address``: where the duplicate IP bites."""
    out = []
    snap = ctx.snapshot
    for node, facts in sorted(snap.node_facts.items()):
        for e in facts.fdb or ():
            if e.dst == address and (e.ifname or "").startswith("flannel"):
                out.append(
                    Evidence(
                        source=snap.node_source(node, "bridge_fdb"),
                        object=f"FDB/{e.ifname}/{e.mac}",
                        field="dst",
                        value=e.dst,
                        node=node,
                    )
                )
                break
    return out


def _iface_fix(ctx: Context) -> tuple[tuple[Action, ...], list[Evidence]]:
    """``--iface`` naming the interface that holds each node's InternalIP (from node facts).

    When kubelet itself picked the shared NAT address (every node's InternalIP is 10.0.2.15),
    that interface is the broken one: take the node's address on a subnet all nodes share.
    """
    snap = ctx.snapshot
    names: Counter[str] = Counter()
    ev: list[Evidence] = []
    missing = []
    holders: dict[str, list[str]] = defaultdict(list)
    for node in snap.nodes or ():
        for ip in node.internal_ips[:1]:
            holders[ip].append(node.metadata.name)
    for node in snap.nodes or ():
        ips = node.internal_ips
        target = ips[0] if ips else None
        if target is not None and len(holders[target]) > 1:
            target = shared_subnet_address(snap, node.metadata.name, target, holders[target])
        held = node_holding(snap, node.metadata.name, target) if target else None
        if held is None:
            missing.append(node.metadata.name)
            continue
        if held[0].ifname not in names:
            ev.append(iface_evidence(snap, node.metadata.name, *held))
        names[held[0].ifname] += 1
    agent = ctx.cni.agent("flannel")
    ns = agent.namespace if agent else "kube-flannel"
    ds = agent.name if agent else "kube-flannel-ds"
    container = agent.container if agent else None
    if not names:
        return (
            (
                Action(
                    message=Message("fix.flannel_iface_unknown", {"daemonset": ds}),
                    command="ip -o -4 addr show to <InternalIP of the node>",
                ),
            ),
            ev,
        )
    ifaces = [n for n, _ in names.most_common()]
    new_args = [f"--iface={n}" for n in ifaces]
    ops: list[dict[str, object]] = []
    index = 0
    if agent is not None and agent.daemonset is not None and container is not None:
        cs = agent.daemonset.spec.template.spec.containers
        index = next((i for i, c in enumerate(cs) if c.name == container.name), 0)
    base = f"/spec/template/spec/containers/{index}/args"
    old_args = list(container.args) if container else []
    # Replace an existing --iface* choice rather than adding a second, conflicting one.
    stale = [i for i, a in enumerate(old_args) if a.split("=", 1)[0] in _IFACE_ARGS]
    for i in reversed(stale):
        ops.append({"op": "remove", "path": f"{base}/{i}"})
    if container is not None and not container.args:
        ops.append({"op": "add", "path": base, "value": new_args})
    else:
        ops.extend({"op": "add", "path": f"{base}/-", "value": a} for a in new_args)
    patch = json.dumps(ops, separators=(",", ":"))
    params = {
        "iface": ", ".join(ifaces),
        "args": " ".join(new_args),
        "daemonset": ds,
        "namespace": ns,
    }
    if missing:
        params["nodes"] = ", ".join(missing)
    key = "fix.flannel_iface" if len(ifaces) == 1 else "fix.flannel_iface_several"
    return (
        (
            Action(
                message=Message(key, params),
                command=f"kubectl -n {ns} patch daemonset {ds} --type=json -p '{patch}'",
            ),
        ),
        ev,
    )


def _verify(ctx: Context) -> tuple[Action, ...]:
    agent = ctx.cni.agent("flannel")
    ns = agent.namespace if agent else "kube-flannel"
    ds = agent.name if agent else "kube-flannel-ds"
    return (
        Action(
            message=Message("verify.flannel_rollout", {"daemonset": ds}),
            command=f"kubectl -n {ns} rollout status daemonset/{ds}",
        ),
        Action(
            message=Message("verify.flannel_public_ips", {}),
            command=(
                "kubectl get nodes -o custom-columns=NAME:.metadata.name,"
                "INTERNAL-IP:.status.addresses[0].address,"
                "PUBLIC-IP:.metadata.annotations.flannel\\.alpha\\.coreos\\.com/public-ip"
            ),
        ),
        Action(message=Message("verify.flannel_fdb", {}), command="bridge fdb show dev flannel.1"),
    )


@check("flannel-public-ip-duplicate", code="NET-401", needs=("k8s.nodes",), cni=("flannel",))
def public_ip_duplicate(ctx: Context) -> Iterator[Yielded]:
    claims = flannel_claims(ctx)
    by_ip: dict[str, list[AddressClaim]] = defaultdict(list)
    for c in claims.values():
        by_ip[ip_only(c.address)].append(c)
    for ip, group in sorted(by_ip.items()):
        if len(group) < 2:
            continue
        names = [c.node for c in group]
        fix, fix_ev = _iface_fix(ctx)
        ifaces = sorted({c.iface for c in group if c.iface})
        ev = [e for c in group for e in c.evidence]
        ev += [internal_ip_evidence(ctx.snapshot, ctx.snapshot.node_by_name[n]) for n in names]
        ev += _fdb_evidence(ctx, ip) + fix_ev
        yield Finding(
            id="flannel-public-ip-duplicate",
            subject=Subject(kind="Node", name=names[0]),
            variant="default" if ifaces else "no_iface",
            params={"address": ip, "nodes": ", ".join(names), "ifaces": ", ".join(ifaces)},
            evidence=tuple(ev),
            fix=fix,
            verify=_verify(ctx),
            nodes=tuple(names),
        )


@check("flannel-public-ip-mismatch", code="NET-402", needs=("k8s.nodes",), cni=("flannel",))
def public_ip_mismatch(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    claims = flannel_claims(ctx)
    counts = Counter(ip_only(c.address) for c in claims.values())
    for name, claim in sorted(claims.items()):
        addr = ip_only(claim.address)
        node = snap.node_by_name[name]
        if counts[addr] > 1 or not predicates.off_internal(snap, claim):
            continue  # duplicates are NET-401's; the InternalIP is always right
        view = peers_reach(snap, addr, [n for n in snap.node_by_name if n != name])
        unreachable = [p for p in view.known if p not in view.reaching]
        if not view.known or not unreachable:
            continue  # reachable (a dedicated NIC shared by all), or no facts to tell
        fix, fix_ev = _iface_fix(ctx)
        yield Finding(
            id="flannel-public-ip-mismatch",
            subject=Subject(kind="Node", name=name),
            variant="default" if claim.iface else "no_iface",
            params={
                "node": name,
                "address": addr,
                "iface": claim.iface or "",
                "internal_ip": node.internal_ips[0],
                "peers": ", ".join(unreachable),
            },
            evidence=(
                *claim.evidence,
                internal_ip_evidence(snap, node),
                *(peer_path_evidence(snap, p, addr) for p in unreachable),
                *fix_ev,
            ),
            fix=fix,
            verify=_verify(ctx),
            nodes=(name, *unreachable),
            severity=Severity.CRITICAL,
        )


# --- NET-403: host-gw between nodes that are not on one L2 segment ---------------------------

NET_CONF = "net-conf.json"


def _net_conf(ctx: Context) -> tuple[str, str, dict[str, Any] | None] | None:
    """(namespace, ConfigMap name, parsed net-conf.json) of kube-flannel-cfg; the dict is None
    when the JSON is not valid; None when the ConfigMap is not in the snapshot."""
    snap = ctx.snapshot
    agent = ctx.cni.agent("flannel")
    for ns in dict.fromkeys((agent.namespace if agent else "kube-flannel", "kube-system")):
        for name in ("kube-flannel-cfg", "kube-flannel-config"):
            cm = snap.configmap_by_ref.get(f"{ns}/{name}")
            if cm is None or NET_CONF not in cm.data:
                continue
            try:
                doc = json.loads(cm.data[NET_CONF])
            except ValueError:
                return ns, name, None
            return ns, name, doc if isinstance(doc, dict) else None
    return None


def _on_link(ctx: Context, node: str, address: str) -> tuple[bool, Evidence] | None:
    """Whether ``address`` is on a subnet of the interface holding ``node``'s flannel address
    (host-gw's next hop must be), and that interface's address as evidence; None without facts."""
    snap = ctx.snapshot
    claim = flannel_claims(ctx).get(node)
    n = snap.node_by_name[node]
    own = ip_only(claim.address) if claim else (n.internal_ips[0] if n.internal_ips else None)
    held = node_holding(snap, node, own) if own else None
    if held is None:
        return None
    ip = parse_ip(address)
    net = held[1].interface.network
    return (ip is not None and ip in net), iface_evidence(snap, node, *held)


def _internal_on_link(ctx: Context, node: str, peer_ips: list[str]) -> bool:
    """Whether the peer's InternalIP is on the subnet of the node's own InternalIP interface."""
    n = ctx.snapshot.node_by_name[node]
    held = node_holding(ctx.snapshot, node, n.internal_ips[0]) if n.internal_ips else None
    if held is None or not peer_ips:
        return False
    ip = parse_ip(peer_ips[0])
    return ip is not None and ip in held[1].interface.network


@check("flannel-host-gw-not-l2", code="NET-403", needs=("k8s.nodes",), cni=("flannel",))
def host_gw_not_l2(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    conf = _net_conf(ctx)
    if conf is None:
        yield Skip(Message("skip.missing", {"path": snap.source("k8s.configmaps")}))
        return
    ns, cm_name, doc = conf
    if doc is None:
        yield Note(Message("note.flannel_net_conf_invalid", {"configmap": f"{ns}/{cm_name}"}))
        return
    raw_backend = doc.get("Backend")
    backend: dict[str, Any] = raw_backend if isinstance(raw_backend, dict) else {}
    kind = str(backend.get("Type", ""))
    if kind != "host-gw":
        return  # vxlan (DirectRouting falls back to VXLAN across subnets), udp, ...: routed
    claims = flannel_claims(ctx)
    # Only nodes with a pod CIDR get a route; a node without one is NET-209's business.
    members = [n for n in snap.nodes or () if n.spec.pod_cidr or n.spec.pod_cidrs]
    pairs: list[tuple[str, str, str]] = []  # (node, peer, peer address)
    ev: list[Evidence] = []
    seen_iface: set[str] = set()
    for node in members:
        name = node.metadata.name
        for peer in members:
            pname = peer.metadata.name
            if pname == name:
                continue
            claim = claims.get(pname)
            addr = ip_only(claim.address) if claim else (peer.internal_ips or [""])[0]
            link = _on_link(ctx, name, addr) if addr else None
            if link is None:
                yield Note(
                    Message(
                        "note.flannel_peer_unknown",
                        {"node": name, "path": snap.node_source(name, "ip_addr")},
                    )
                )
                break
            if name not in seen_iface:
                seen_iface.add(name)
                ev.append(link[1])
            if not link[0] and not _internal_on_link(ctx, name, peer.internal_ips):
                # A peer whose InternalIP is on-link but whose flannel address is not: the
                # wrong address is NET-401/402's finding, not the backend's.
                pairs.append((name, pname, addr))
    if not pairs:
        return
    cm_ev = Evidence(
        source=snap.source("k8s.configmaps"),
        object=f"ConfigMap/{ns}/{cm_name}",
        field=f"data[{NET_CONF}].Backend",
        value=json.dumps(backend, separators=(",", ":")),
    )
    ann_ev = [
        annotation_evidence(snap, snap.node_by_name[n], FLANNEL_BACKEND_TYPE)
        for n in sorted({p[0] for p in pairs} | {p[1] for p in pairs})
        if FLANNEL_BACKEND_TYPE in snap.node_by_name[n].metadata.annotations
    ][:2]
    args_ev = _iface_args_evidence(ctx)
    a, b, addr = pairs[0]
    yield Finding(
        id="flannel-host-gw-not-l2",
        subject=Subject(kind="ConfigMap", name=cm_name, namespace=ns),
        params={
            "node": a,
            "peer": b,
            "address": addr,
            "pairs": "; ".join(f"{x} -> {y} ({z})" for x, y, z in pairs),
            "configmap": f"{ns}/{cm_name}",
        },
        evidence=(cm_ev, *ann_ev, *ev, *args_ev),
        fix=_host_gw_fix(ctx, ns, cm_name, doc),
        verify=_host_gw_verify(ctx, ns, a, b),
        nodes=tuple(sorted({p[0] for p in pairs} | {p[1] for p in pairs})),
    )


def _iface_args_evidence(ctx: Context) -> list[Evidence]:
    """The DaemonSet's interface choice (--iface, --iface-regex, --iface-can-reach, --public-ip)."""
    agent = ctx.cni.agent("flannel")
    c = agent.container if agent else None
    if agent is None or c is None:
        return []
    chosen = [a for a in c.args if a.split("=", 1)[0] in _IFACE_ARGS]
    if not chosen:
        return []
    return [
        Evidence(
            source=ctx.snapshot.source("k8s.daemonsets"),
            object=f"DaemonSet/{agent.namespace}/{agent.name}",
            field=f"spec.template.spec.containers[{c.name}].args",
            value=" ".join(chosen),
        )
    ]


def _host_gw_fix(ctx: Context, ns: str, cm: str, doc: dict[str, Any]) -> tuple[Action, ...]:
    agent = ctx.cni.agent("flannel")
    ds = agent.name if agent else "kube-flannel-ds"
    new = dict(doc)
    new["Backend"] = {"Type": "vxlan", "DirectRouting": True}
    text = json.dumps(new, indent=2) + "\n"
    body = json.dumps({"data": {NET_CONF: text}}, separators=(",", ":"))
    return (
        Action(
            message=Message("fix.flannel_vxlan_direct_routing", {"configmap": f"{ns}/{cm}"}),
            command=f"kubectl -n {ns} patch configmap {cm} --type merge -p '{body}'",
        ),
        Action(
            message=Message("fix.flannel_restart", {"daemonset": ds}),
            command=f"kubectl -n {ns} rollout restart daemonset/{ds}",
        ),
    )


def _host_gw_verify(ctx: Context, ns: str, node: str, peer: str) -> tuple[Action, ...]:
    agent = ctx.cni.agent("flannel")
    ds = agent.name if agent else "kube-flannel-ds"
    p = ctx.snapshot.node_by_name.get(peer)
    cidr = (p.spec.pod_cidr or (p.spec.pod_cidrs or [""])[0]) if p else ""
    return (
        Action(
            message=Message("verify.flannel_rollout", {"daemonset": ds}),
            command=f"kubectl -n {ns} rollout status daemonset/{ds}",
        ),
        Action(
            message=Message("verify.flannel_peer_route", {"node": node, "peer": peer}),
            command=f"ip route show {cidr}",
        ),
    )
