"""NetworkPolicy root causes (NET-7xx): a policy denies the flow asked about, or cuts a pod
off from the cluster DNS.

Checks layer: pure functions over the Snapshot, through the policy engine (netdoctor.policy).
Which flows are examined is decided in one place, ``flows_for``: the question's pods and the
failed probes between pods.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from netdoctor.checks._support.endpoints import backend_port
from netdoctor.checks._support.registry import Context, Note, Skip, Yielded, check
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.k8s import NetworkPolicy, Pod
from netdoctor.model.snapshot import Snapshot
from netdoctor.policy import FlowVerdict, SideResult, evaluate_flow, policies_selecting
from netdoctor.policy.flow import NOISY_LABELS, selector_dict

__all__ = ["Flow", "dns_pods", "flows_for", "policy_yaml"]


@dataclass(frozen=True)
class Flow:
    src: Pod | str
    dst: Pod | str
    port: int | None
    protocol: str  # TCP | UDP | SCTP, or ICMP for a probe without a port
    why: str  # "question" | "probe:<name>"


def flows_for(ctx: Context) -> list[Flow]:
    """The flows to examine: the question's (pod or address ends) and the failed probes
    between pods (only the question's pair when there is a question), de-duplicated."""
    snap = ctx.snapshot
    out: list[Flow] = []
    seen: set[tuple[str, str, int | None, str]] = set()

    def add(src: Pod | str, dst: Pod | str, port: int | None, proto: str, why: str) -> None:
        key = (_ref(src), _ref(dst), port, proto)
        if key not in seen:
            seen.add(key)
            out.append(Flow(src, dst, port, proto, why))

    q, s, t = ctx.question, ctx.source, ctx.target
    # With a question, only its own pair's probes speak to it; without one, every probe does.
    pair: tuple[str, str] | None = None
    if q is not None and s is not None and t is not None:
        pair = (s.pod.ref if s.pod else "", t.pod.ref if t.pod else "")
        src = s.pod if s.pod is not None else s.ip
        dst = t.pod if t.pod is not None else (t.ip if t.kind == "ip" else None)
        proto = q.protocol.upper() if q.port is not None else "ICMP"
        if src is not None and dst is not None:
            add(src, dst, q.port, proto, "question")
        elif src is not None and t.service is not None:
            # A Service: policies see the packet after DNAT, at each backend pod on its
            # targetPort (a named port resolved per pod).
            for pod in t.backend_pods(snap):
                if pod.ips:
                    port = backend_port(t.service, pod, q.port)
                    add(src, pod, port if q.port is not None else None, proto, "question")
    for p in snap.probes or ():
        if p.result == "ok" or not p.from_.pod or not p.to.pod:
            continue
        if pair is not None and (p.from_.pod, p.to.pod) != pair:
            continue
        a, b = snap.pod_by_ref.get(p.from_.pod), snap.pod_by_ref.get(p.to.pod)
        if a is None or b is None:
            continue
        if p.to.port is not None:
            add(a, b, p.to.port, (p.to.protocol or "TCP").upper(), f"probe:{p.name}")
        elif p.kind in ("icmp", "pmtu"):
            add(a, b, None, "ICMP", f"probe:{p.name}")
    return out


def _ref(x: Pod | str) -> str:
    return x if isinstance(x, str) else x.ref


def _port_label(port: int | None, proto: str) -> str:
    return f"{port}/{proto}" if port is not None else proto


def policy_yaml(doc: dict[str, Any]) -> str:
    """The policy as one line of flow-style YAML, so the command pastes as one line (label
    keys and values cannot hold a single quote, so it quotes safely for the shell)."""
    import yaml  # only when there is a policy to print: a plain start stays light

    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=True, width=1 << 20)
    return text.strip()


def _apply(doc: dict[str, Any]) -> str:
    return f"echo '{policy_yaml(doc)}' | kubectl apply -f -"


def _policy_evidence(snap: Snapshot, np: NetworkPolicy, side: SideResult) -> list[Evidence]:
    src = snap.source("k8s.networkpolicies")
    obj = f"NetworkPolicy/{np.ref}"
    rules = np.spec.ingress if side.direction == "ingress" else np.spec.egress
    encoded = [_clean(msgspec.to_builtins(r)) for r in rules or ()]
    return [
        Evidence(
            source=src,
            object=obj,
            field="spec.podSelector",
            value=json.dumps(selector_dict(np.spec.pod_selector), separators=(",", ":")),
        ),
        Evidence(
            source=src,
            object=obj,
            field=f"spec.{side.direction}",
            value=json.dumps(encoded, separators=(",", ":")) if rules else "(none: deny all)",
        ),
    ]


def _clean(x: Any) -> Any:
    """A decoded rule as it was written: without the defaults msgspec fills in."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items() if v not in (None, [], {})}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def _verify(flow: FlowVerdict) -> Action:
    src, dst = flow.src, flow.dst
    dst_ip = dst if isinstance(dst, str) else (dst.ips[0] if dst.ips else dst.ref)
    if not isinstance(src, Pod):
        cmd = f"kubectl get networkpolicy -A -o wide  # then retry from {src}"
    elif flow.port is None:
        cmd = f"kubectl exec -n {src.metadata.namespace} {src.metadata.name} -- ping -c 2 {dst_ip}"
    elif flow.protocol == "UDP":
        cmd = (
            f"kubectl exec -n {src.metadata.namespace} {src.metadata.name} -- "
            f"nc -zuv -w 3 {dst_ip} {flow.port}"
        )
    else:
        cmd = (
            f"kubectl exec -n {src.metadata.namespace} {src.metadata.name} -- "
            f"nc -zv -w 3 {dst_ip} {flow.port}"
        )
    return Action(
        message=Message(
            "verify.networkpolicy_flow",
            {"src": _ref(src), "dst": _ref(dst), "port": _port_label(flow.port, flow.protocol)},
        ),
        command=cmd,
    )


def _missing(snap: Snapshot) -> Skip | None:
    for key in ("k8s.networkpolicies", "k8s.pods"):
        if not snap.has(key):
            return Skip(Message("skip.missing", {"path": snap.source(key)}))
    return None


# No ``needs``: without the policy file there is only something to say when a flow is asked
# about (then it is a skip naming the file), not for every bundle that lacks it.
@check("networkpolicy-denies", code="NET-701")
def networkpolicy_denies(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    flows = flows_for(ctx)
    if not flows:
        return
    missing = _missing(snap)
    if missing is not None:
        yield missing
        return
    # One finding per pod pair: a ping and a TCP probe denied by the same policy are one cause.
    done: set[tuple[str, str]] = set()
    verdicts = [evaluate_flow(snap, f.src, f.dst, f.port, f.protocol) for f in flows]
    findings: list[Finding] = []
    unknown_question: Message | None = None
    # Prefer a flow with a port for the fix: the rule it suggests is the narrowest useful one.
    order = sorted(range(len(flows)), key=lambda i: flows[i].port is None)
    for i in order:
        flow, v = flows[i], verdicts[i]
        pair = (_ref(flow.src), _ref(flow.dst))
        if v.allowed is None:
            msg = Message(
                "note.policy_unknown",
                {"src": pair[0], "dst": pair[1], "path": snap.source("k8s.namespaces")},
            )
            if flow.why == "question":
                unknown_question = msg
            yield Note(msg)
            continue
        if v.allowed or pair in done:
            continue
        done.add(pair)
        probes = [f.why.removeprefix("probe:") for f in flows if (_ref(f.src), _ref(f.dst)) == pair]
        findings.append(_denies_finding(snap, v, [p for p in probes if p != "question"]))
    if not findings and unknown_question is not None:
        # The flow asked about cannot be judged: "healthy" would be a guess.
        yield Skip(unknown_question)
        return
    yield from findings


def _denies_finding(snap: Snapshot, v: FlowVerdict, probes: list[str]) -> Finding:
    sides = v.denied_by
    side = sides[0]
    evidence: list[Evidence] = []
    for s in sides:
        for np in s.selecting:
            evidence += _policy_evidence(snap, np, s)
    subject_pod = v.dst if side.direction == "ingress" else v.src
    assert isinstance(subject_pod, Pod)
    doc = v.suggest_rule()
    assert doc is not None
    pods = tuple(p.ref for p in (v.src, v.dst) if isinstance(p, Pod))
    by_name = {p.name: p for p in snap.probes or ()}
    for name in probes:
        probe = by_name.get(name)
        if probe is not None:
            evidence.append(
                Evidence(
                    source=f"probes/{name}.json",
                    object=f"Probe/{name}",
                    field="result",
                    value=f"{probe.result}: {probe.detail}" if probe.detail else probe.result,
                )
            )
    return Finding(
        id="networkpolicy-denies",
        subject=Subject(
            kind="Pod", name=subject_pod.metadata.name, namespace=subject_pod.metadata.namespace
        ),
        variant="both"
        if len(sides) == 2
        else ("egress" if side.direction == "egress" else "default"),
        params={
            "src": _ref(v.src),
            "dst": _ref(v.dst),
            "port": _port_label(v.port, v.protocol),
            "policies": ", ".join(np.ref for s in sides for np in s.selecting),
        },
        evidence=tuple(evidence),
        fix=(
            Action(
                message=Message(
                    "fix.networkpolicy_allow",
                    {
                        "src": _ref(v.src),
                        "dst": _ref(v.dst),
                        "port": _port_label(v.port, v.protocol),
                    },
                ),
                command=_apply(doc),
            ),
        ),
        verify=(_verify(v),),
        nodes=tuple(p.spec.node_name for p in (v.src, v.dst) if isinstance(p, Pod)),
        pods=pods,
    )


def dns_pods(snap: Snapshot) -> list[Pod]:
    """The cluster DNS backends: the kube-dns Service's pods in kube-system, else the pods
    labelled k8s-app=kube-dns."""
    svc = snap.service_by_ref.get("kube-system/kube-dns")
    if svc is not None and svc.spec.selector:
        sel = svc.spec.selector
        found = [
            p
            for p in snap.pods_by_namespace.get("kube-system", ())
            if all(p.metadata.labels.get(k) == v for k, v in sel.items())
        ]
        if found:
            return found
    return [
        p
        for p in snap.pods or ()
        if p.metadata.labels.get("k8s-app") == "kube-dns" and not p.spec.host_network
    ]


@check("networkpolicy-blocks-dns", code="NET-702")
def networkpolicy_blocks_dns(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    missing = _missing(snap)
    if missing is not None:
        if ctx.source is not None and ctx.source.pod is not None:
            yield missing  # the question's pod may be cut off from DNS: cannot tell
        return
    egress_ns = {np.metadata.namespace for np in snap.networkpolicies or () if np.spec.types[1]}
    if not egress_ns:
        return
    targets = dns_pods(snap)
    if not targets:
        yield Skip(Message("skip.no_dns_pods", {"path": snap.source("k8s.pods")}))
        return
    dns = targets[0]
    # Pods a policy can tell apart only by namespace and labels: one verdict per group.
    groups: dict[tuple[str, tuple[str, ...]], list[Pod]] = {}
    for ns in sorted(egress_ns):
        for pod in snap.pods_by_namespace.get(ns, ()):
            if pod.spec.host_network or pod.ref == dns.ref:
                continue
            selecting = policies_selecting(snap, pod, "egress")
            if selecting:
                key = (ns, tuple(np.metadata.name for np in selecting))
                groups.setdefault(key, []).append(pod)
    asked = ctx.source.pod.ref if ctx.source is not None and ctx.source.pod else None
    for (ns, _names), pods in groups.items():
        if asked is not None and asked not in {p.ref for p in pods}:
            continue  # the question is about another pod's traffic
        pod = next((p for p in pods if p.ref == asked), pods[0])
        udp = evaluate_flow(snap, pod, dns, 53, "UDP")
        tcp = evaluate_flow(snap, pod, dns, 53, "TCP")
        if udp.egress.allowed is not False and tcp.egress.allowed is not False:
            continue
        blocked = [v.protocol for v in (udp, tcp) if v.egress.allowed is False]
        side = udp.egress if udp.egress.allowed is False else tcp.egress
        evidence: list[Evidence] = []
        for np in side.selecting:
            evidence += _policy_evidence(snap, np, side)
        svc = snap.service_by_ref.get("kube-system/kube-dns")
        if svc is not None:
            evidence.append(
                Evidence(
                    source=snap.source("k8s.services"),
                    object="Service/kube-system/kube-dns",
                    field="spec.clusterIP",
                    value=svc.spec.cluster_ip or "",
                )
            )
        dns_sel = (
            {"k8s-app": dns.metadata.labels["k8s-app"]}
            if "k8s-app" in dns.metadata.labels
            else {k: v for k, v in sorted(dns.metadata.labels.items()) if k not in NOISY_LABELS}
        )
        doc = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-dns-egress", "namespace": ns},
            "spec": {
                "podSelector": selector_dict(side.selecting[0].spec.pod_selector),
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {
                                        "kubernetes.io/metadata.name": dns.metadata.namespace
                                    }
                                },
                                "podSelector": {"matchLabels": dns_sel},
                            }
                        ],
                        "ports": [
                            {"protocol": "UDP", "port": 53},
                            {"protocol": "TCP", "port": 53},
                        ],
                    }
                ],
            },
        }
        refs = [p.ref for p in pods]
        yield Finding(
            id="networkpolicy-blocks-dns",
            subject=Subject(kind="Pod", name=pod.metadata.name, namespace=ns),
            params={
                "pod": pod.ref,
                "count": str(len(pods)),
                "policies": ", ".join(np.ref for np in side.selecting),
                "protocols": "/".join(blocked),
                "dns": dns.ref,
            },
            variant="default" if len(pods) == 1 else "many",
            evidence=tuple(evidence),
            fix=(
                Action(
                    message=Message("fix.networkpolicy_dns", {"namespace": ns}),
                    command=_apply(doc),
                ),
            ),
            verify=(
                Action(
                    message=Message("verify.networkpolicy_dns", {"pod": pod.ref}),
                    command=(
                        f"kubectl exec -n {ns} {pod.metadata.name} -- "
                        "nslookup kubernetes.default.svc.cluster.local"
                    ),
                ),
            ),
            nodes=tuple(sorted({p.spec.node_name for p in pods if p.spec.node_name})),
            pods=tuple(refs),
        )
