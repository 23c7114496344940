"""Kube-OVN root cause NET-502: an ovn-trace in the bundle drops the packet or outputs it to
the wrong port.

Checks layer: pure functions over the Snapshot, reading the ``ovn-trace`` outputs
(``NetFacts.ovn_traces``), the NetworkPolicies behind an ACL drop, the pods' ``ovn.kubernetes.io/*``
annotations and the ``ips.kubeovn.io`` objects behind a port-security drop or a wrong port.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from netdoctor.checks._support.common import pod_evidence
from netdoctor.checks._support.ovntrace import (
    TraceFlow,
    ko_trace_command,
    ovn_trace_command,
    port_name,
)
from netdoctor.checks._support.registry import Context, NotApplicable, Skip, Yielded, check
from netdoctor.model.cni import KUBEOVN, KUBEOVN_LOGICAL_SWITCH, KUBEOVN_MAC_ADDRESS
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.k8s import LabelSelector, NetworkPolicy, Pod
from netdoctor.model.ovn import OvnTrace, TracePipeline, stage_kind
from netdoctor.model.snapshot import Snapshot

__all__ = ["CLUSTER_ROUTER", "matches_selector", "ovn_trace_drop"]

CLUSTER_ROUTER = "ovn-cluster"


def _trace_source(snap: Snapshot, node: str, label: str) -> str:
    return snap.provenance.get(
        f"node:{node}:ovn_trace:{label}", f"nodes/{node}/extra/ovn-trace-{label}.txt"
    )


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
