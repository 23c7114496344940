"""Calico root cause NET-304: a pool without encapsulation across the nodes' subnets.

Checks layer: pure functions over the Snapshot. The pools are the IPPool resources, else the
operator's Installation pools; the subnets come from the interfaces holding the nodes'
InternalIPs; BGP peerings with routers (from the BGP status captures) make a tunnel needless.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from netdoctor.checks._support.common import iface_evidence, node_holding
from netdoctor.checks._support.registry import Context, Note, Skip, Yielded, check
from netdoctor.checks.calico._common import STATUS_FILES, calico_backend, peer_captures
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject

__all__ = ["encapsulation_cross_subnet"]


@dataclass(frozen=True)
class _Pool:
    name: str
    cidr: str
    ipip: str
    vxlan: str
    evidence: Evidence
    operator_index: int | None = None  # position in Installation.spec.calicoNetwork.ipPools


_OPERATOR_ENCAP = {
    "None": ("Never", "Never"),
    "IPIP": ("Always", "Never"),
    "IPIPCrossSubnet": ("CrossSubnet", "Never"),
    "VXLAN": ("Never", "Always"),
    "VXLANCrossSubnet": ("Never", "CrossSubnet"),
}


def _pools(ctx: Context) -> list[_Pool]:
    """The enabled IPv4 pools: IPPool resources, else the operator's Installation pools."""
    snap = ctx.snapshot
    out = []
    for p in snap.ippools or ():
        if p.spec.disabled or ":" in p.spec.cidr:
            continue
        out.append(
            _Pool(
                name=p.metadata.name,
                cidr=p.spec.cidr,
                ipip=p.spec.ipip_mode or "Never",
                vxlan=p.spec.vxlan_mode or "Never",
                evidence=Evidence(
                    source=snap.source("k8s.ippools"),
                    object=f"IPPool/{p.metadata.name}",
                    field="spec.ipipMode/vxlanMode",
                    value=f"{p.spec.ipip_mode or 'Never'}/{p.spec.vxlan_mode or 'Never'}",
                ),
            )
        )
    if out or snap.ippools is not None or not snap.installations:
        return out
    inst = snap.installations[0]
    for i, raw in enumerate((inst.spec.get("calicoNetwork") or {}).get("ipPools") or []):
        cidr = str(raw.get("cidr", ""))
        encap = str(raw.get("encapsulation") or "IPIP")  # the operator's default
        if ":" in cidr or raw.get("disabled") or encap not in _OPERATOR_ENCAP:
            continue
        ipip, vxlan = _OPERATOR_ENCAP[encap]
        out.append(
            _Pool(
                name=str(raw.get("name") or cidr),
                cidr=cidr,
                ipip=ipip,
                vxlan=vxlan,
                evidence=Evidence(
                    source=snap.source("k8s.installations"),
                    object=f"Installation/{inst.metadata.name}",
                    field=f"spec.calicoNetwork.ipPools[{i}].encapsulation",
                    value=encap,
                ),
                operator_index=i,
            )
        )
    return out


def _router_peers(ctx: Context) -> bool | None:
    """Whether BIRD peers with routers (global / node-specific BGPPeers), from the captures.

    True: some node has such a session (routers learn the pod routes); False: captures exist
    and list only the node-to-node mesh; None: no capture, so netdoctor cannot tell.
    """
    seen = False
    for node in sorted(ctx.snapshot.node_by_name):
        peers, path = peer_captures(ctx, node)
        if path is None:
            continue
        seen = True
        if any(not p.mesh for p in peers):
            return True
    return False if seen else None


@check(
    "calico-encapsulation-cross-subnet",
    code="NET-304",
    needs=("k8s.nodes", "node.ip_addr"),
    cni=("calico",),
)
def encapsulation_cross_subnet(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    pools = _pools(ctx)
    bare = [p for p in pools if p.ipip == "Never" and p.vxlan == "Never"]
    if pools and not bare:
        return  # every pool tunnels: subnets do not matter
    subnets: dict[str, list[str]] = defaultdict(list)
    ev: list[Evidence] = []
    unknown: list[Note] = []
    for node in snap.nodes or ():
        name = node.metadata.name
        ip = node.internal_ips[0] if node.internal_ips else None
        held = node_holding(snap, name, ip) if ip else None
        if held is None:
            path = snap.node_source(name, "ip_addr")
            unknown.append(
                Note(Message("note.calico_subnet_unknown", {"node": name, "path": path}))
            )
            continue
        subnets[str(held[1].interface.network)].append(name)
        ev.append(iface_evidence(snap, name, *held))
    if not pools:
        if len(subnets) > 1:  # the pools' encapsulation decides: name the file to collect
            yield Skip(Message("skip.missing", {"path": snap.source("k8s.ippools")}))
        return
    yield from unknown
    if len(subnets) < 2:
        return  # one L2 subnet (as far as the facts go): no router between the nodes
    backend, backend_ev = calico_backend(ctx)
    routers = _router_peers(ctx) if backend != "vxlan" else False
    if routers:
        return  # the routers learn every node's pod routes over BGP: no tunnel needed
    confidence, variant = (1.0, "default") if routers is False else (0.7, "peering_unknown")
    groups = sorted(subnets.items())
    mode = "vxlanMode" if backend == "vxlan" else "ipipMode"
    for pool in bare:
        yield Finding(
            id="calico-encapsulation-cross-subnet",
            subject=Subject(kind="IPPool", name=pool.name),
            variant=variant,
            params={
                "pool": pool.name,
                "cidr": pool.cidr,
                "subnets": "; ".join(f"{net}: {', '.join(sorted(ns))}" for net, ns in groups),
                "mode": mode,
                "files": f"nodes/<node>/extra/{STATUS_FILES[0]}.txt",
            },
            evidence=(pool.evidence, *ev, *([backend_ev] if backend_ev else [])),
            fix=_encap_fix(ctx, pool, mode),
            verify=(
                Action(
                    message=Message("verify.calico_pool_mode", {"pool": pool.name}),
                    command=(
                        f"kubectl get ippools.crd.projectcalico.org {pool.name}"
                        " -o jsonpath='{.spec.ipipMode}/{.spec.vxlanMode}'"
                    ),
                ),
            ),
            nodes=tuple(n for _, ns in groups for n in ns),
            confidence=confidence,
        )


def _operator_pool_index(ctx: Context, cidr: str) -> int | None:
    """Where the operator's Installation declares the pool with this CIDR: the operator owns
    such a pool and puts back whatever is edited on the IPPool itself."""
    snap = ctx.snapshot
    if not (ctx.cni.calico_operator and snap.installations):
        return None
    pools = (snap.installations[0].spec.get("calicoNetwork") or {}).get("ipPools") or []
    for i, raw in enumerate(pools):
        if str(raw.get("cidr", "")) == cidr:
            return i
    return None


def _encap_fix(ctx: Context, pool: _Pool, mode: str) -> tuple[Action, ...]:
    params = {"pool": pool.name, "mode": mode}
    if pool.operator_index is None:
        pool = dataclasses.replace(pool, operator_index=_operator_pool_index(ctx, pool.cidr))
    if pool.operator_index is not None:
        snap = ctx.snapshot
        inst = snap.installations[0].metadata.name if snap.installations else "default"
        value = "VXLANCrossSubnet" if mode == "vxlanMode" else "IPIPCrossSubnet"
        op = [
            {
                "op": "replace",
                "path": f"/spec/calicoNetwork/ipPools/{pool.operator_index}/encapsulation",
                "value": value,
            }
        ]
        doc = json.dumps(op, separators=(",", ":"))
        return (
            Action(
                message=Message("fix.calico_encap_operator", {**params, "value": value}),
                command=(
                    f"kubectl patch installation.operator.tigera.io {inst} --type=json -p '{doc}'"
                ),
            ),
        )
    body = json.dumps({"spec": {mode: "CrossSubnet"}}, separators=(",", ":"))
    return (
        Action(
            message=Message("fix.calico_encap_cross_subnet", params),
            command=f"kubectl patch ippool {pool.name} --type merge -p '{body}'",
        ),
    )
