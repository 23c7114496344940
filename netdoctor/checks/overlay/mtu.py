"""NET-206 mtu-mismatch: the pod MTU plus the encapsulation overhead fits the underlay MTU of
every node.

Checks layer: a pure function over the Snapshot. For each node: the underlay interface, the
encapsulating device in use, and the largest MTU a pod there sends with (its interfaces, the
host ends of the veths, the MTU in the CNI config); only a packet proven not to fit is a
finding.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from netdoctor.checks._support.common import ip_only, node_file_note, parse_ip
from netdoctor.checks._support.oddone import odd_one_out
from netdoctor.checks._support.podifaces import (
    SendMtu,
    node_route_clamp,
    pod_host_veths,
    pod_send_mtu,
)
from netdoctor.checks._support.registry import Context, Yielded, check
from netdoctor.checks.overlay._common import (
    agent_pod,
    calico_addresses,
    cni_conf_files,
    cni_file_source,
    conf_json,
    flannel_public_ip,
    route_devs,
    routing_cni,
)
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.k8s import Node, Pod
from netdoctor.model.layout import pod_path
from netdoctor.model.nodefacts import Interface, NetFacts
from netdoctor.model.snapshot import Snapshot

__all__ = ["KUBE_OVN_BUDGET", "WIRE_OVERHEAD", "WIRE_OVERHEAD6", "mtu_mismatch"]


# Encapsulation on the wire (bytes added to each packet): what decides whether a packet fits.
# Geneve counts Kube-OVN's options (58); its own budget, used for the printed fix, is 100.
WIRE_OVERHEAD = {"vxlan": 50, "ipip": 20, "geneve": 58, "wireguard": 60}


WIRE_OVERHEAD6 = {"vxlan": 70, "ipip": 40, "geneve": 78, "wireguard": 80}


KUBE_OVN_BUDGET = 100


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
    """The encapsulating device pod traffic uses: up, and the device of at least one route.
    A flow-based device needs no route, up is enough: Geneve driven by OVS flows, and a
    VXLAN/Geneve device in ``external`` (collect-metadata) mode, as Cilium's eBPF uses it."""
    used = {d for r in facts.routes or () for d in route_devs(r)}
    best: tuple[int, Interface] | None = None
    for i in facts.interfaces or ():
        kind = _encap_kind(i)
        data = (i.linkinfo.info_data if i.linkinfo else None) or {}
        flows = kind == "geneve" or data.get("external") is True
        if kind is None or not i.up or (not flows and i.ifname not in used):
            continue
        if best is None or WIRE_OVERHEAD[kind] > best[0]:
            best = (WIRE_OVERHEAD[kind], i)
    return best[1] if best else None


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
    claims += [v for k, v in calico_addresses(snap, node).items() if k == "address"]
    pub = flannel_public_ip(node)
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
                sent = pod_send_mtu(i, pf.routes or ())
                big.append((sent.mtu, p))
                if best is None or sent.mtu > best[0]:
                    best = (sent.mtu, _pod_mtu_evidence(snap, p, i, sent, name))
    # The host ends of the pods' veths stand for pods the bundle has no facts of, clamped by
    # the MTU of the CNI's routes to the other nodes' pods when it sets one (Cilium).
    clamp = node_route_clamp(facts, under.ifname)
    pod_ips = [
        ip for p in snap.pods_by_node.get(name, ()) if not p.spec.host_network for ip in p.ips
    ]
    for i in pod_host_veths(facts, pod_ips):
        mtu = min(i.mtu, clamp.mtu) if clamp is not None and clamp.mtu else i.mtu
        if i is under or not mtu or (best is not None and mtu <= best[0]):
            continue
        clamped = clamp is not None and mtu < i.mtu
        best = (
            mtu,
            Evidence(
                source=snap.node_source(name, "ip_route" if clamped else "ip_addr"),
                object=f"Interface/{i.ifname}" if not clamped else f"Node/{name}",
                field="mtu" if not clamped else f"route {clamp.dst if clamp else ''}",
                value=str(mtu) if not clamped or clamp is None else clamp.text(),
                node=name,
            ),
        )
    files = cni_conf_files(facts)
    conf = conf_json((facts.cni_files or {})[files[0]]) if files else None
    found = _conf_mtu(conf) if conf else None
    if found is not None and (best is None or found[1] > best[0]):
        best = (
            found[1],
            Evidence(
                source=cni_file_source(snap, name, files[0]),
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


def _pod_mtu_evidence(snap: Snapshot, p: Pod, i: Interface, sent: SendMtu, node: str) -> Evidence:
    """The pod's interface MTU, or the default route that clamps it (quoted as printed)."""
    if sent.route is not None:
        return Evidence(
            source=snap.provenance.get(f"pod:{p.ref}:ip_route") or pod_path(p.ref, "ip_route"),
            object=f"Pod/{p.ref}",
            field="route default",
            value=sent.route.text(),
            node=node,
        )
    return Evidence(
        source=snap.provenance.get(f"pod:{p.ref}:ip_addr") or pod_path(p.ref, "ip_addr"),
        object=f"Pod/{p.ref}",
        field=f"Interface/{i.ifname}.mtu",
        value=str(i.mtu),
        node=node,
    )


def _mtu_fix(ctx: Context, m: _Mtu, limit: int, required: int) -> list[Action]:
    snap = ctx.snapshot
    cni = routing_cni(ctx)
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
            ns, ds, _ = agent_pod(ctx, "calico", m.node)
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
        ns, ds, pod = agent_pod(ctx, "flannel", m.node)
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
        ns, ds, _ = agent_pod(ctx, "kube-ovn", m.node)
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
