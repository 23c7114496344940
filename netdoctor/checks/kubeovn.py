"""Kube-OVN root causes (NET-5xx): ovn-controller on each node, ovn-trace verdicts, encap IPs.

Checks layer: pure functions over the Snapshot. The data: each node's ``ovs-vsctl show``
(``NetFacts.ovs_show``: br-int and its Geneve tunnel ports, one per peer chassis, whose
``remote_ip`` is that peer's encap IP), ``ovn-trace`` outputs (``NetFacts.ovn_traces``),
kube-ovn-cni's log line ``set ovn-encap-ip=A, ovn-encap-ip-default=A`` (or the older
``use A on IF as tunnel address``), the pods' ``ovn.kubernetes.io/*`` annotations and the
``ips.kubeovn.io`` objects.

Split with NET-202 (cni-agent-unhealthy): NET-202 owns the pods (kube-ovn-cni and ovs-ovn
missing, not Ready, restarting). NET-501 reports what only the OVS data shows while those pods
look fine, and stays silent on a node whose agent pods NET-202 already reports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from netdoctor.checks._support.common import (
    annotation_evidence,
    iface_evidence,
    internal_ip_evidence,
    ip_only,
    last_log_match,
    node_holding,
    peer_path_evidence,
    peers_reach,
    pod_evidence,
)
from netdoctor.checks._support.detect import AgentInstall
from netdoctor.checks._support.ovntrace import (
    TraceFlow,
    ko_trace_command,
    ovn_trace_command,
    port_name,
)
from netdoctor.checks._support.registry import Context, NotApplicable, Skip, Yielded, check
from netdoctor.model.cni import (
    KUBEOVN,
    KUBEOVN_LOGICAL_SWITCH,
    KUBEOVN_MAC_ADDRESS,
    KUBEOVN_TUNNEL_IFACE,
)
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import Container, LabelSelector, NetworkPolicy, Pod
from netdoctor.model.ovn import OvnTrace, OvsShow, TracePipeline, stage_kind
from netdoctor.model.snapshot import Snapshot

__all__ = ["encap_claims", "matches_selector"]

CLUSTER_ROUTER = "ovn-cluster"
_ENCAP_LOG = re.compile(
    r"(?:set ovn-encap-ip=([0-9a-fA-F.:]+)|use ([0-9a-fA-F.:]+) on (\S+) as tunnel address)"
)


def _ovs_source(snap: Snapshot, node: str) -> str:
    return snap.provenance.get(f"node:{node}:ovs_show", f"nodes/{node}/extra/ovs-vsctl-show.txt")


def _trace_source(snap: Snapshot, node: str, label: str) -> str:
    return snap.provenance.get(
        f"node:{node}:ovn_trace:{label}", f"nodes/{node}/extra/ovn-trace-{label}.txt"
    )


def _agent(ctx: Context, name: str) -> AgentInstall | None:
    for a in ctx.cni.agents:
        if a.agent.cni == "kube-ovn" and a.name == name:
            return a
    return None


def _agent_pod(agent: AgentInstall | None, node: str) -> Pod | None:
    if agent is None:
        return None
    return agent.pod_on(node)


def _shows(snap: Snapshot) -> dict[str, OvsShow]:
    return {n: f.ovs_show for n, f in snap.node_facts.items() if f.ovs_show is not None}


def _owner_of(snap: Snapshot, ip: str) -> str | None:
    """The node an address belongs to: its InternalIP, else the node whose interface holds it."""
    for n in snap.node_by_address.get(ip_only(ip), []):
        return n.metadata.name
    for name in snap.node_by_name:
        if node_holding(snap, name, ip) is not None:
            return name
    return None


# --- NET-503 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncapClaim:
    node: str
    address: str
    evidence: tuple[Evidence, ...]
    iface: str | None = None


def encap_claims(ctx: Context) -> dict[str, EncapClaim]:
    """Each node's Geneve encap IP: from the tunnel ports the other nodes' br-int point at it
    (``remote_ip``), else from kube-ovn-cni's log, whichever the bundle has."""
    snap = ctx.snapshot
    cni = _agent(ctx, "kube-ovn-cni")
    container = cni.agent.container if cni else "cni-server"
    addr: dict[str, str] = {}
    ifaces: dict[str, str] = {}
    ev: dict[str, list[Evidence]] = {}
    for peer, show in sorted(_shows(snap).items()):
        for _, _port, iface in show.tunnels():
            rip = iface.remote_ip
            if not rip or rip == "flow":
                continue
            owner = _owner_of(snap, rip)
            if owner is None or owner == peer:
                continue
            addr.setdefault(owner, rip)
            if addr[owner] != rip:
                continue
            ev.setdefault(owner, []).append(
                Evidence(
                    source=_ovs_source(snap, peer),
                    object=f"Interface/{iface.name}",
                    field=f"line {iface.options_line}: options:remote_ip",
                    value=rip,
                    node=peer,
                )
            )
    # The tunnels are what the peers use now; the log line (maybe from an older start) only
    # speaks for a node no tunnel points at, or confirms what the tunnels say.
    for node in snap.node_by_name:
        found = last_log_match(snap, _agent_pod(cni, node), container, _ENCAP_LOG)
        if found is not None:
            m, log_ev = found
            said = m.group(1) or m.group(2)
            if addr.setdefault(node, said) != said:
                continue
            if m.group(3):
                ifaces[node] = m.group(3)
            ev.setdefault(node, []).insert(0, log_ev)
    return {
        n: EncapClaim(node=n, address=a, evidence=tuple(ev.get(n, ())), iface=ifaces.get(n))
        for n, a in addr.items()
    }


def _iface_arg(agent: AgentInstall | None) -> tuple[int, str] | None:
    """Index and value of kube-ovn-cni's ``--iface=`` argument in its DaemonSet."""
    if agent is None or agent.daemonset is None:
        return None
    c = agent.container
    if not isinstance(c, Container):
        return None
    for i, arg in enumerate(c.args):
        if arg.startswith("--iface="):
            return i, arg
    return None


def _encap_fix(
    ctx: Context, node: str, internal_iface: str | None, same_nic: bool
) -> tuple[tuple[Action, ...], tuple[Evidence, ...]]:
    snap = ctx.snapshot
    cni = _agent(ctx, "kube-ovn-cni")
    ns = cni.namespace if cni else "kube-system"
    ds = cni.name if cni else "kube-ovn-cni"
    pod = _agent_pod(cni, node)
    ev: list[Evidence] = []
    arg = _iface_arg(cni)
    if arg is not None and cni is not None and isinstance(cni.container, Container):
        ev.append(
            Evidence(
                source=snap.source("k8s.daemonsets"),
                object=f"DaemonSet/{ns}/{ds}",
                field=f"spec.template.spec.containers[{cni.container.name}].args[{arg[0]}]",
                value=arg[1],
            )
        )
    n = snap.node_by_name.get(node)
    if n is not None and KUBEOVN_TUNNEL_IFACE in n.metadata.annotations:
        ev.append(annotation_evidence(snap, n, KUBEOVN_TUNNEL_IFACE))
    restart = Action(
        message=Message("fix.kubeovn_restart_cni", {"node": node, "pod": _pod_name(pod, ds)}),
        command=(
            f"kubectl -n {ns} delete pod {pod.metadata.name}"
            if pod
            else f"kubectl -n {ns} delete pod -l app={ds} --field-selector spec.nodeName={node}"
        ),
    )
    if not same_nic and internal_iface:
        return (
            Action(
                message=Message(
                    "fix.kubeovn_tunnel_iface", {"node": node, "iface": internal_iface}
                ),
                command=(
                    f"kubectl annotate node {node} "
                    f"{KUBEOVN_TUNNEL_IFACE}={internal_iface} --overwrite"
                ),
            ),
            restart,
        ), tuple(ev)
    actions: list[Action] = []
    if n is not None and KUBEOVN_TUNNEL_IFACE in n.metadata.annotations:
        actions.append(
            Action(
                message=Message("fix.kubeovn_drop_tunnel_ann", {"node": node}),
                command=f"kubectl annotate node {node} {KUBEOVN_TUNNEL_IFACE}-",
            )
        )
    if arg is not None and arg[1] != "--iface=" and cni is not None:
        index = next(
            i
            for i, c in enumerate(cni.daemonset.spec.template.spec.containers)  # type: ignore[union-attr]
            if c.name == cni.agent.container
        )
        patch = json.dumps(
            [
                {
                    "op": "replace",
                    "path": f"/spec/template/spec/containers/{index}/args/{arg[0]}",
                    "value": "--iface=",
                }
            ],
            separators=(",", ":"),
        )
        actions.append(
            Action(
                message=Message("fix.kubeovn_iface_default", {"daemonset": ds}),
                command=f"kubectl -n {ns} patch daemonset {ds} --type=json -p '{patch}'",
            )
        )
    actions.append(restart)
    return tuple(actions), tuple(ev)


def _pod_name(pod: Pod | None, ds: str) -> str:
    return pod.metadata.name if pod is not None else ds


@check("kubeovn-encap-ip-mismatch", code="NET-503", needs=("k8s.nodes",), cni=("kube-ovn",))
def encap_ip_mismatch(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if not ctx.cni.has("kube-ovn"):
        yield NotApplicable()
        return
    claims = encap_claims(ctx)
    if not claims:
        yield Skip(
            Message(
                "skip.kubeovn_encap_unknown",
                {"path": "nodes/<node>/extra/ovs-vsctl-show.txt", "logs": "logs/kube-system/"},
            )
        )
        return
    on_internal = {
        n for n, c in claims.items() if ip_only(c.address) in snap.node_by_name[n].internal_ips
    }
    for name, claim in sorted(claims.items()):
        node = snap.node_by_name[name]
        internal = node.internal_ips
        addr = ip_only(claim.address)
        if not internal or addr in internal:
            continue
        held = node_holding(snap, name, addr)
        internal_held = node_holding(snap, name, internal[0])
        same_nic = (
            held is not None
            and internal_held is not None
            and held[0].ifname == internal_held[0].ifname
        )
        peers = [n for n in snap.node_by_name if n != name]
        view = peers_reach(snap, addr, peers)
        unreachable = [p for p in view.known if p not in view.reaching]
        severity, confidence = Severity.CRITICAL, 1.0
        if same_nic and not view.known:
            if not on_internal:
                continue
            severity, confidence, variant = Severity.WARNING, 0.6, "unconfirmed"
        elif same_nic:
            variant = "second_address"
            if not unreachable:
                assert held is not None
                if held[1].prefixlen != held[1].interface.max_prefixlen:
                    continue  # a second address on the same subnet: peers reach it, it works
                severity = Severity.WARNING  # a /32 VIP: works until it moves to another node
                variant = "vip"
        else:
            variant = "default" if held is not None else "no_iface"
            if view.known and not unreachable:
                continue  # every peer has a way to it: a deliberate, working tunnel network
            if not view.known:
                if not on_internal:
                    continue
                severity, confidence, variant = Severity.WARNING, 0.6, "unconfirmed"
        iface = held[0].ifname if held else (claim.iface or "")
        internal_iface = internal_held[0].ifname if internal_held else None
        ev = list(claim.evidence)
        ev.append(internal_ip_evidence(snap, node))
        if held is not None:
            ev.append(iface_evidence(snap, name, *held))
        if internal_held is not None and not same_nic:
            ev.append(iface_evidence(snap, name, *internal_held))
        ev.extend(peer_path_evidence(snap, peer, addr) for peer in unreachable)
        fix, fix_ev = _encap_fix(ctx, name, internal_iface, same_nic)
        ev.extend(fix_ev)
        yield Finding(
            id="kubeovn-encap-ip-mismatch",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={
                "node": name,
                "encap_ip": addr,
                "iface": iface,
                "internal_ip": internal[0],
                "internal_iface": internal_iface or "",
                "peers": ", ".join(unreachable),
            },
            evidence=tuple(ev),
            fix=fix,
            verify=(
                Action(
                    message=Message(
                        "verify.kubeovn_chassis", {"node": name, "address": internal[0]}
                    ),
                    command="kubectl ko sbctl show",
                ),
            ),
            nodes=(name, *unreachable),
            severity=severity,
            confidence=confidence,
        )


# --- NET-501 ------------------------------------------------------------------------------------


def _pod_unhealthy(pod: Pod | None) -> bool:
    return pod is None or not pod.ready


@check("ovn-controller-unhealthy", code="NET-501", needs=("k8s.nodes",), cni=("kube-ovn",))
def ovn_controller_unhealthy(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if not ctx.cni.has("kube-ovn"):
        yield NotApplicable()
        return
    shows = _shows(snap)
    if not shows:
        yield Skip(Message("skip.missing", {"path": "nodes/<node>/extra/ovs-vsctl-show.txt"}))
        return
    ovs = _agent(ctx, "ovs-ovn")
    cni = _agent(ctx, "kube-ovn-cni")
    ns = ovs.namespace if ovs else "kube-system"
    claims = encap_claims(ctx)
    # Which node each tunnel points at, per peer that has ovs facts.
    targets: dict[str, set[str]] = {}
    for peer, show in shows.items():
        targets[peer] = {
            o
            for _, _, i in show.tunnels()
            if i.remote_ip and (o := _owner_of(snap, i.remote_ip)) is not None
        }
    for name in sorted(snap.node_by_name):
        ovs_pod = _agent_pod(ovs, name)
        if _pod_unhealthy(ovs_pod) or (cni is not None and _pod_unhealthy(_agent_pod(cni, name))):
            continue  # NET-202 reports the pods themselves
        assert ovs_pod is not None
        pod_ref = ovs_pod.metadata.name
        own = shows.get(name)
        ev: list[Evidence] = []
        variant = ""
        detail = ""
        if own is not None and own.error:
            variant, detail = "db_down", own.error
            ev.append(
                Evidence(
                    source=_ovs_source(snap, name),
                    object=f"Node/{name}",
                    field="ovs-vsctl show",
                    value=own.error,
                    node=name,
                )
            )
        elif own is not None and own.bridge("br-int") is None:
            variant = "no_br_int"
            ev.append(
                Evidence(
                    source=_ovs_source(snap, name),
                    object=f"Node/{name}",
                    field="Bridge br-int",
                    value="absent (bridges: "
                    + (", ".join(b.name for b in own.bridges) or "none")
                    + ")",
                    node=name,
                )
            )
        elif own is not None and any(i.error for _, _, i in own.tunnels()):
            variant = "tunnel_error"
            for _, _, i in own.tunnels():
                if i.error:
                    detail = detail or i.error
                    ev.append(
                        Evidence(
                            source=_ovs_source(snap, name),
                            object=f"Interface/{i.name}",
                            field=f"line {i.error_line}: error",
                            value=i.error,
                            node=name,
                        )
                    )
        else:
            peers = [p for p in targets if p != name and shows[p].bridge("br-int") is not None]
            tunnelling = [p for p in peers if targets[p] - {name}]
            if tunnelling and not any(name in targets[p] for p in peers):
                variant = "default"
                for p in peers:
                    remotes = [i.remote_ip or "" for _, _, i in shows[p].tunnels()]
                    ev.append(
                        Evidence(
                            source=_ovs_source(snap, p),
                            object=f"Bridge/br-int on {p}",
                            field="geneve remote_ip",
                            value=", ".join(remotes) or "none",
                            node=p,
                        )
                    )
                claim = claims.get(name)
                node = snap.node_by_name[name]
                want = claim.address if claim else ", ".join(node.internal_ips)
                ev.append(internal_ip_evidence(snap, node))
                detail = want
        if not variant:
            continue
        ev.append(pod_evidence(snap, ovs_pod, "status.conditions[Ready]", "True"))
        yield Finding(
            id="ovn-controller-unhealthy",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={"node": name, "pod": pod_ref, "namespace": ns, "detail": detail},
            evidence=tuple(ev),
            fix=(
                Action(
                    message=Message("fix.kubeovn_controller_log", {"pod": pod_ref}),
                    command=(
                        f"kubectl -n {ns} exec {pod_ref} -c openvswitch --"
                        " tail -n 50 /var/log/ovn/ovn-controller.log"
                    ),
                ),
                Action(
                    message=Message("fix.kubeovn_restart_ovs", {"pod": pod_ref, "node": name}),
                    command=f"kubectl -n {ns} delete pod {pod_ref}",
                ),
            ),
            verify=(
                Action(
                    message=Message("verify.kubeovn_ovs_show", {"node": name}),
                    command=f"kubectl -n {ns} exec {pod_ref} -c openvswitch -- ovs-vsctl show",
                ),
                Action(
                    message=Message("verify.kubeovn_chassis", {"node": name, "address": detail}),
                    command="kubectl ko sbctl show",
                ),
            ),
            nodes=(name,),
        )


# --- NET-502 ------------------------------------------------------------------------------------


def matches_selector(sel: LabelSelector, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions, ANDed)."""
    if any(labels.get(k) != v for k, v in sel.match_labels.items()):
        return False
    for req in sel.match_expressions:
        has = req.key in labels
        if req.operator == "In" and not (has and labels[req.key] in req.values):
            return False
        if req.operator == "NotIn" and has and labels[req.key] in req.values:
            return False
        if req.operator == "Exists" and not has:
            return False
        if req.operator == "DoesNotExist" and has:
            return False
    return True


def _policies_for(snap: Snapshot, pod: Pod, direction: str) -> list[NetworkPolicy]:
    """The policies that select ``pod`` for ``direction`` (``Ingress`` or ``Egress``)."""
    out = []
    for np in snap.policies_by_namespace.get(pod.metadata.namespace, []):
        types = np.spec.policy_types or (
            ["Ingress", "Egress"] if np.spec.egress is not None else ["Ingress"]
        )
        if direction in types and matches_selector(np.spec.pod_selector, pod.metadata.labels):
            out.append(np)
    return out


def _pod_from_port(snap: Snapshot, port: str) -> Pod | None:
    name, dot, ns = port.rpartition(".")
    return snap.pod_by_ref.get(f"{ns}/{name}") if dot else None


def _dst_of(trace: OvnTrace) -> str | None:
    return trace.microflow.get("nw_dst") or trace.microflow.get("ipv6_dst")


def _flow_of(snap: Snapshot, trace: OvnTrace, src: Pod, dst_ip: str) -> TraceFlow:
    mf = trace.microflow
    proto = "tcp" if "tcp" in mf else "udp" if "udp" in mf else "icmp"
    port = mf.get("tp_dst")
    ann = src.metadata.annotations
    return TraceFlow(
        namespace=src.metadata.namespace,
        pod=src.metadata.name,
        dst_ip=dst_ip,
        protocol=proto,
        port=int(port) if port and port.isdigit() else None,
        logical_switch=ann.get(KUBEOVN_LOGICAL_SWITCH),
        src_ip=mf.get("nw_src") or mf.get("ipv6_src") or (src.ips[0] if src.ips else None),
        src_mac=mf.get("dl_src") or ann.get(KUBEOVN_MAC_ADDRESS),
        dst_mac=mf.get("dl_dst"),
    )


def _rule_patch(
    direction: str, peer_pod: Pod, flow: TraceFlow, policy_pod: Pod
) -> dict[str, object]:
    """A NetworkPolicy rule letting ``flow`` in ``from`` (ingress) or out ``to`` (egress)
    ``peer_pod``, for a policy in ``policy_pod``'s namespace."""
    peer: dict[str, object] = {
        "podSelector": {"matchLabels": dict(sorted(peer_pod.metadata.labels.items()))}
    }
    if peer_pod.metadata.namespace != policy_pod.metadata.namespace:
        peer["namespaceSelector"] = {
            "matchLabels": {"kubernetes.io/metadata.name": peer_pod.metadata.namespace}
        }
    rule: dict[str, object] = {direction: [peer]}
    if flow.proto != "icmp" and flow.port is not None:
        rule["ports"] = [{"protocol": flow.proto.upper(), "port": flow.port}]
    return rule


def _policy_evidence(snap: Snapshot, np: NetworkPolicy) -> Evidence:
    sel = np.spec.pod_selector
    value = json.dumps(
        {"matchLabels": sel.match_labels} if sel.match_labels else {}, separators=(",", ":")
    )
    return Evidence(
        source=snap.source("k8s.networkpolicies"),
        object=f"NetworkPolicy/{np.metadata.namespace}/{np.metadata.name}",
        field="spec.podSelector",
        value=value,
    )


def _stale_ip_fixes(
    snap: Snapshot, ip: str, owner: Pod | None
) -> tuple[list[Evidence], list[Action]]:
    """Evidence of each ``ips.kubeovn.io`` object holding ``ip`` for another pod, and the
    command deleting it."""
    ev: list[Evidence] = []
    actions: list[Action] = []
    for name, holder in _stale_ips(snap, ip, owner):
        ev.append(
            Evidence(
                source=snap.source("k8s.kubeovn_ips"),
                object=f"IP.kubeovn.io/{name}",
                field="spec.ipAddress / spec.podName",
                value=f"{ip} / {holder}",
            )
        )
        actions.append(
            Action(
                message=Message("fix.kubeovn_stale_ip", {"ip": ip, "name": name, "pod": holder}),
                command=f"kubectl delete ips.kubeovn.io {name}",
            )
        )
    return ev, actions


def _stale_ips(snap: Snapshot, ip: str, owner: Pod | None) -> list[tuple[str, str]]:
    """``ips.kubeovn.io`` objects holding ``ip`` for a pod other than ``owner``: (name, pod)."""
    out = []
    for obj in snap.custom.get("k8s.kubeovn_ips", ()):
        spec = obj.spec
        addrs = {str(spec.get("ipAddress", "")), str(spec.get("v4IpAddress", ""))}
        addrs |= set(str(spec.get("ipAddress", "")).split(","))
        if ip not in addrs:
            continue
        pod_ref = f"{spec.get('namespace', '')}/{spec.get('podName', '')}"
        if owner is not None and pod_ref == owner.ref:
            continue
        out.append((obj.metadata.name, pod_ref))
    return out


@check("ovn-trace-drop", code="NET-502", cni=("kube-ovn",))
def ovn_trace_drop(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if not ctx.cni.has("kube-ovn"):
        yield NotApplicable()
        return
    traces = [
        (node, label, t)
        for node, f in sorted(snap.node_facts.items())
        for label, t in sorted(f.ovn_traces.items())
    ]
    if not traces:
        src = ctx.source.pod if ctx.source is not None else None
        tgt = ctx.target
        dst_ip = None
        if tgt is not None:
            dst_ip = tgt.ip or (tgt.pod.ips[0] if tgt.pod is not None and tgt.pod.ips else None)
        if src is None or not dst_ip:
            yield NotApplicable()
            return
        q = ctx.question
        flow = TraceFlow(
            namespace=src.metadata.namespace,
            pod=src.metadata.name,
            dst_ip=dst_ip,
            protocol=q.protocol if q and q.port else "icmp",
            port=q.port if q else None,
        )
        yield Skip(
            Message(
                "skip.kubeovn_no_trace",
                {
                    "path": f"nodes/{src.spec.node_name or '<node>'}/extra/ovn-trace-<label>.txt",
                    "command": ko_trace_command(flow),
                },
            )
        )
        return
    for node, label, trace in traces:
        yield from _judge_trace(ctx, node, label, trace)


def _judge_trace(ctx: Context, node: str, label: str, trace: OvnTrace) -> Iterator[Finding]:
    snap = ctx.snapshot
    source = _trace_source(snap, node, label)
    src = _pod_from_port(snap, trace.inport)
    dst_ip = _dst_of(trace)
    dst_pods = snap.pods_by_ip.get(dst_ip, []) if dst_ip else []
    dst = dst_pods[0] if len(dst_pods) == 1 else None
    expected = port_name(dst.metadata.name, dst.metadata.namespace) if dst else None
    ev: list[Evidence] = []
    if trace.microflow:
        ev.append(
            Evidence(
                source=source,
                object=f"ovn-trace/{label}",
                field="line 1: microflow",
                value=",".join(
                    f"{k}={v}" if v else k
                    for k, v in trace.microflow.items()
                    if k
                    in (
                        "tcp",
                        "udp",
                        "icmp",
                        "ip",
                        "dl_src",
                        "dl_dst",
                        "nw_src",
                        "nw_dst",
                        "tp_dst",
                    )
                ),
            )
        )
    if trace.verdict == "drop":
        step = trace.drop_step
        stage = step.stage if step else ""
        kind = stage_kind(stage) if stage else "default"
        pipe = trace.drop_pipeline
        if step is not None:
            where = f"{pipe.direction}(dp={pipe.datapath})" if pipe else ""
            ev.append(
                Evidence(
                    source=source,
                    object=f"ovn-trace/{label}",
                    field=f"line {step.line}: {where} table {step.table} {stage}",
                    value=(
                        "no match (implicit drop)"
                        if step.implicit_drop
                        else f"{step.match}, priority {step.priority} -> drop"
                    ),
                )
            )
        else:
            ev.append(
                Evidence(
                    source=source,
                    object=f"ovn-trace/{label}",
                    field=f"line {trace.drop_line}",
                    value=trace.drop_text,
                )
            )
        params = {
            "label": label,
            "stage": stage or "?",
            "table": str(step.table) if step else "?",
            "datapath": pipe.datapath if pipe else "?",
            "src": src.ref if src else trace.inport,
            "dst": dst.ref if dst else (dst_ip or "?"),
        }
        fix, extra_ev = _drop_fix(snap, kind, stage, pipe, src, dst, trace, dst_ip)
        ev.extend(extra_ev)
        # --summary and --minimal do not print the stage
        variant = "unstaged" if step is None else (kind if kind != "other" else "default")
    elif trace.verdict == "output" and expected and trace.output_port != expected:
        variant = "wrong_port"
        params = {
            "label": label,
            "port": trace.output_port or "",
            "expected": expected,
            "src": src.ref if src else trace.inport,
            "dst": dst.ref if dst else (dst_ip or "?"),
        }
        ev.append(
            Evidence(
                source=source,
                object=f"ovn-trace/{label}",
                field="output to",
                value=trace.output_port or "",
            )
        )
        fix, extra_ev = _wrong_port_fix(snap, dst, dst_ip, trace.output_port or "")
        ev.extend(extra_ev)
    else:
        return
    verify: tuple[Action, ...] = ()
    if src is not None and dst_ip:
        flow = _flow_of(snap, trace, src, dst_ip)
        verify = (
            Action(
                message=Message("verify.kubeovn_ko_trace", {"src": src.ref, "dst": dst_ip}),
                command=ko_trace_command(flow),
            ),
        )
        raw = ovn_trace_command(flow)
        if raw is not None:
            verify += (Action(message=Message("verify.kubeovn_ovn_trace", {}), command=raw),)
    pods = tuple(p.ref for p in (src, dst) if p is not None)
    yield Finding(
        id="ovn-trace-drop",
        subject=Subject(kind="Pod", name=src.metadata.name, namespace=src.metadata.namespace)
        if src
        else Subject(kind="Node", name=node),
        variant=variant,
        params=params,
        evidence=tuple(ev),
        fix=fix,
        verify=verify,
        nodes=tuple(sorted({p.spec.node_name for p in (src, dst) if p and p.spec.node_name})),
        pods=pods,
    )


def _drop_fix(
    snap: Snapshot,
    kind: str,
    stage: str,
    pipe: TracePipeline | None,
    src: Pod | None,
    dst: Pod | None,
    trace: OvnTrace,
    dst_ip: str | None,
) -> tuple[tuple[Action, ...], list[Evidence]]:
    ev: list[Evidence] = []
    ls = (pipe.datapath if pipe else "") or "<logical switch>"
    if kind == "acl":
        # ls_out_* ACLs are to-lport: the destination's ingress policies; ls_in_* from-lport.
        ingress = stage.startswith("ls_out")
        pod = dst if ingress else src
        if pod is not None and src is not None and dst is not None and dst_ip:
            policies = _policies_for(snap, pod, "Ingress" if ingress else "Egress")
            flow = _flow_of(snap, trace, src, dst_ip)
            actions = []
            for np in policies:
                ev.append(_policy_evidence(snap, np))
                rule = (
                    _rule_patch("from", src, flow, dst)
                    if ingress
                    else _rule_patch("to", dst, flow, src)
                )
                path = "/spec/ingress/-" if ingress else "/spec/egress/-"
                if (np.spec.ingress if ingress else np.spec.egress) is None:
                    path, rule_value = path[:-2], [rule]
                else:
                    rule_value = rule  # type: ignore[assignment]
                patch = json.dumps(
                    [{"op": "add", "path": path, "value": rule_value}], separators=(",", ":")
                )
                actions.append(
                    Action(
                        message=Message(
                            "fix.kubeovn_acl_policy",
                            {
                                "policy": f"{np.metadata.namespace}/{np.metadata.name}",
                                "pod": pod.ref,
                                "peer": (src if ingress else dst).ref,
                            },
                        ),
                        command=(
                            f"kubectl -n {np.metadata.namespace} patch networkpolicy"
                            f" {np.metadata.name} --type=json -p '{patch}'"
                        ),
                    )
                )
            if actions:
                return tuple(actions), ev
        return (
            Action(
                message=Message("fix.kubeovn_acl_unknown", {"switch": ls}),
                command=f"kubectl ko nbctl acl-list {ls}",
            ),
        ), ev
    if kind == "port_security":
        actions = []
        if src is not None:
            ann = src.metadata.annotations
            for key in ("ip_address", "mac_address"):
                if KUBEOVN + key in ann:
                    ev.append(
                        pod_evidence(
                            snap, src, f"metadata.annotations[{KUBEOVN}{key}]", ann[KUBEOVN + key]
                        )
                    )
            for ip in src.ips[:1]:
                stale_ev, stale_fixes = _stale_ip_fixes(snap, ip, src)
                ev += stale_ev
                actions += stale_fixes
            lsp = port_name(src.metadata.name, src.metadata.namespace)
            actions.append(
                Action(
                    message=Message("fix.kubeovn_port_security", {"port": lsp}),
                    command=f"kubectl ko nbctl lsp-get-port-security {lsp}",
                )
            )
            actions.append(
                Action(
                    message=Message("fix.kubeovn_recreate_pod", {"pod": src.ref}),
                    command=f"kubectl -n {src.metadata.namespace} delete pod {src.metadata.name}",
                )
            )
        if actions:
            return tuple(actions), ev
    if kind == "routing":
        router = pipe.datapath if pipe and pipe.datapath else CLUSTER_ROUTER
        subnet = (src.metadata.annotations.get(KUBEOVN_LOGICAL_SWITCH) if src else None) or ls
        return (
            Action(
                message=Message("fix.kubeovn_routes", {"router": router, "dst": dst_ip or "?"}),
                command=f"kubectl ko nbctl lr-route-list {router}",
            ),
            Action(
                message=Message("fix.kubeovn_subnet", {"subnet": subnet}),
                command=f"kubectl get subnet {subnet} -o yaml",
            ),
        ), ev
    return (
        Action(
            message=Message("fix.kubeovn_lflows", {"switch": ls, "stage": stage or "?"}),
            command=f"kubectl ko sbctl lflow-list {ls}",
        ),
    ), ev


def _wrong_port_fix(
    snap: Snapshot, dst: Pod | None, dst_ip: str | None, port: str
) -> tuple[tuple[Action, ...], list[Evidence]]:
    ev, actions = _stale_ip_fixes(snap, dst_ip, dst) if dst_ip else ([], [])
    actions.append(
        Action(
            message=Message("fix.kubeovn_port_owner", {"port": port, "ip": dst_ip or "?"}),
            command=f"kubectl ko nbctl lsp-get-addresses {port}",
        )
    )
    return tuple(actions), ev
