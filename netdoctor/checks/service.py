"""Service path root causes (NET-8xx): selector, EndpointSlices, targetPort, kube-proxy, DNS.

Checks layer: pure functions over the Snapshot. For a question whose target is a Service (given
as ``svc/NS/NAME``, a ClusterIP or a DNS name) the Service checks look at that Service only; a
question about a pod or a node leaves them out; without a question they look at every Service.
The engine ranks these findings in the order a connection meets them (DNS, the Service, its
selector, its endpoints, its targetPort, kube-proxy on the client's node).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from netdoctor.checks._support.common import (
    daemonset_fits,
    daemonset_missing_evidence,
    last_log_match,
    log_evidence,
    log_lines,
    pod_events,
    pod_evidence,
    waiting_evidence,
    warning_event_evidence,
)
from netdoctor.checks._support.detect import kube_proxy_replaced
from netdoctor.checks._support.endpoints import (
    SERVICE_NAME_LABEL,
    corefile,
    service_pods,
    service_slices,
)
from netdoctor.checks._support.registry import Context, NotApplicable, Note, Yielded, check
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import DaemonSet, Node, Pod, Service
from netdoctor.model.snapshot import Snapshot

__all__ = [
    "CLUSTER_DNS",
    "DNS_LABEL",
    "KUBE_PROXY",
    "dns_pods",
    "kube_proxy_mode",
    "no_endpoints",
    "targetport_mismatch",
]

KUBE_PROXY = "kube-proxy"
DNS_LABEL = ("k8s-app", "kube-dns")  # kubeadm's CoreDNS pods and kube-dns Service
RESTARTS_WARN = 5


# --- which Services a check looks at ----------------------------------------------------------


def _services(ctx: Context) -> list[Service] | None:
    """The question's target Service; every Service without a target; None: not applicable."""
    target = ctx.target
    if target is None:
        return list(ctx.snapshot.services or ())
    if target.service is not None:
        return [target.service]
    return None


def _about_services(ctx: Context) -> bool:
    """A Service question, or none at all (the whole cluster's health)."""
    return ctx.target is None or ctx.target.service is not None


def _proxied(svc: Service) -> bool:
    """A Service kube-proxy and the endpoint controllers handle from a selector."""
    return svc.spec.type != "ExternalName" and bool(svc.spec.selector)


CLUSTER_DNS = "kube-system/kube-dns"  # its pods and endpoints are NET-805's, with DNS's own fixes


def _selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _service_evidence(ctx: Context, svc: Service, field: str, value: str) -> Evidence:
    return Evidence(
        source=ctx.snapshot.source("k8s.services"),
        object=f"Service/{svc.ref}",
        field=field,
        value=value,
    )


def _slices_verify(svc: Service) -> Action:
    ns, name = svc.metadata.namespace, svc.metadata.name
    return Action(
        message=Message("verify.service_endpoints", {"service": f"{ns}/{name}"}),
        command=f"kubectl -n {ns} get endpointslices -l {SERVICE_NAME_LABEL}={name} -o wide",
    )


def _compact(doc: object) -> str:
    return json.dumps(doc, separators=(",", ":"))


# --- NET-801 ----------------------------------------------------------------------------------


def _closest(pods: list[Pod], selector: dict[str, str]) -> tuple[Pod, list[str]] | None:
    """The pod sharing most selector pairs (at least one), and the keys where it differs.
    Among equals, the pod that has a differing key with another value (a typo, a renamed
    value) is closer than one that lacks the key."""
    best: tuple[tuple[int, int], Pod] | None = None
    for p in pods:
        labels = p.metadata.labels
        score = sum(1 for k, v in selector.items() if labels.get(k) == v)
        near = sum(1 for k, v in selector.items() if k in labels and labels[k] != v)
        if score and (best is None or (score, near) > best[0]):
            best = ((score, near), p)
    if best is None:
        return None
    pod = best[1]
    return pod, sorted(k for k, v in selector.items() if pod.metadata.labels.get(k) != v)


def _owning_deployment(ctx: Context, pod: Pod) -> str | None:
    """The Deployment whose selector picks the pod (its pods are owned by a ReplicaSet)."""
    if pod.owner("ReplicaSet") is None:
        return None
    for d in ctx.snapshot.deployments or ():
        sel = d.spec.selector.match_labels
        if (
            d.metadata.namespace == pod.metadata.namespace
            and sel
            and all(pod.metadata.labels.get(k) == v for k, v in sel.items())
        ):
            return d.metadata.name
    return None


@check(
    "service-no-endpoints",
    code="NET-801",
    needs=("k8s.services", "k8s.pods"),
    applies=_about_services,
)
def no_endpoints(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    services = _services(ctx)
    if services is None:
        yield NotApplicable()
        return
    for svc in services:
        if not _proxied(svc) or svc.ref == CLUSTER_DNS or service_pods(snap, svc):
            continue
        ns, name = svc.metadata.namespace, svc.metadata.name
        sel = svc.spec.selector
        ev = [_service_evidence(ctx, svc, "spec.selector", _selector_text(sel))]
        if snap.endpointslices is not None:
            count = sum(len(s.endpoints or ()) for s in service_slices(snap, svc))
            ev.append(
                Evidence(
                    source=snap.source("k8s.endpointslices"),
                    object=f"EndpointSlice/{ns} ({SERVICE_NAME_LABEL}={name})",
                    field="endpoints",
                    value=str(count) if count else "none",
                )
            )
        in_ns = snap.pods_by_namespace.get(ns, [])
        params = {"service": f"{ns}/{name}", "namespace": ns, "selector": _selector_text(sel)}
        verify = (_slices_verify(svc),)
        closest = _closest(in_ns, sel)
        if closest is None:
            yield Finding(
                id="service-no-endpoints",
                subject=Subject(kind="Service", name=name, namespace=ns),
                params={**params, "count": str(len(in_ns))},
                variant="no_pods",
                evidence=tuple(ev),
                fix=(
                    Action(
                        message=Message("fix.service_compare_labels", params),
                        command=f"kubectl -n {ns} get pods --show-labels",
                    ),
                ),
                verify=verify,
            )
            continue
        pod, keys = closest
        labels = pod.metadata.labels
        have = ", ".join(f"{k}={labels[k]}" if k in labels else f"{k}=<none>" for k in keys)
        ev += [pod_evidence(snap, pod, f"metadata.labels[{k}]", labels.get(k, "")) for k in keys]
        fixes = [
            Action(
                message=Message(
                    "fix.service_selector_to_pod", {**params, "pod": pod.metadata.name}
                ),
                command=(
                    f"kubectl -n {ns} patch service {name} -p '"
                    + _compact({"spec": {"selector": {k: labels.get(k) for k in keys}}})
                    + "'"
                ),
            )
        ]
        want = {k: sel[k] for k in keys}
        deploy = _owning_deployment(ctx, pod)
        dsel = next(
            (
                d.spec.selector.match_labels
                for d in snap.deployments or ()
                if d.metadata.namespace == ns and d.metadata.name == deploy
            ),
            {},
        )
        if deploy is not None and not set(keys) & set(dsel):
            fixes.append(
                Action(
                    message=Message(
                        "fix.service_label_deployment", {**params, "deployment": deploy}
                    ),
                    command=(
                        f"kubectl -n {ns} patch deployment {deploy} -p '"
                        + _compact({"spec": {"template": {"metadata": {"labels": want}}}})
                        + "'"
                    ),
                )
            )
        else:
            pairs = " ".join(f"{k}={v}" for k, v in want.items())
            fixes.append(
                Action(
                    message=Message("fix.service_label_pod", {**params, "pod": pod.metadata.name}),
                    command=f"kubectl -n {ns} label pod {pod.metadata.name} {pairs} --overwrite",
                )
            )
        yield Finding(
            id="service-no-endpoints",
            subject=Subject(kind="Service", name=name, namespace=ns),
            params={**params, "pod": pod.metadata.name, "have": have, "keys": ", ".join(keys)},
            variant="closest",
            evidence=tuple(ev),
            fix=tuple(fixes),
            verify=verify,
        )


# --- NET-802 ----------------------------------------------------------------------------------


def _readiness_evidence(ctx: Context, pod: Pod) -> list[Evidence]:
    snap = ctx.snapshot
    ev: list[Evidence] = []
    for cond in pod.status.conditions:
        if cond.type == "Ready" and cond.status != "True":
            text = " ".join(x for x in (cond.status, cond.reason, cond.message) if x)
            ev.append(pod_evidence(snap, pod, "status.conditions[Ready]", text[:300]))
    ev += waiting_evidence(snap, pod)
    ev += warning_event_evidence(snap, pod)
    return ev


def _probe_failure(ctx: Context, pod: Pod) -> str | None:
    """The message of the pod's last ``Unhealthy`` event about its readiness probe."""
    found = None
    for e in pod_events(ctx.snapshot, pod):
        if e.reason == "Unhealthy" and e.message.startswith("Readiness probe failed"):
            found = e.message
    return found


@check(
    "service-endpoints-not-ready",
    code="NET-802",
    needs=("k8s.services", "k8s.pods"),
    applies=_about_services,
)
def endpoints_not_ready(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    services = _services(ctx)
    if services is None:
        yield NotApplicable()
        return
    if snap.endpointslices is None:
        yield Note(
            Message("note.service_slices_missing", {"path": snap.source("k8s.endpointslices")})
        )
    for svc in services:
        if not _proxied(svc) or svc.ref == CLUSTER_DNS:
            continue
        pods = service_pods(snap, svc)
        if not pods:
            continue  # NET-801's case
        ns, name = svc.metadata.namespace, svc.metadata.name
        ev: list[Evidence] = []
        if snap.endpointslices is not None:
            eps = [
                (s, i, e)
                for s in service_slices(snap, svc)
                for i, e in enumerate(s.endpoints or ())
            ]
            if not eps:
                continue  # no endpoints at all although pods match: not a readiness matter
            # The API says a nil ``ready`` is unknown and consumers should treat it as ready.
            if any(e.conditions.ready is not False for _, _, e in eps):
                continue
            terminating = all(e.conditions.terminating for _, _, e in eps)
            for s, i, e in eps[:6]:
                c = e.conditions
                who = f" ({e.target_ref.kind}/{e.target_ref.name})" if e.target_ref else ""
                ev.append(
                    Evidence(
                        source=snap.source("k8s.endpointslices"),
                        object=f"EndpointSlice/{s.ref}",
                        field=f"endpoints[{i}].conditions",
                        value=(
                            f"{', '.join(e.addresses)}{who}: ready={_b(c.ready)},"
                            f" serving={_b(c.serving)}, terminating={_b(c.terminating)}"
                        ),
                        node=e.node_name,
                    )
                )
        else:
            if any(p.ready for p in pods):
                continue
            terminating = all(p.metadata.deletion_timestamp for p in pods)
        failure = None
        for p in pods[:6]:
            ev += _readiness_evidence(ctx, p)
            failure = failure or _probe_failure(ctx, p)
        first = next((p for p in pods if not p.ready), pods[0])
        pname = first.metadata.name
        params = {
            "service": f"{ns}/{name}",
            "count": str(len(pods)),
            "pod": pname,
            "failure": failure or "",
        }
        fixes = [
            Action(
                message=Message(
                    "fix.service_readiness_probe" if failure else "fix.service_describe_pod",
                    params,
                ),
                command=f"kubectl -n {ns} describe pod {pname}",
            ),
            Action(
                message=Message("fix.service_pod_logs", params),
                command=f"kubectl -n {ns} logs {pname} --all-containers --tail=100",
            ),
        ]
        yield Finding(
            id="service-endpoints-not-ready",
            subject=Subject(kind="Service", name=name, namespace=ns),
            params=params,
            variant="terminating" if terminating else "default",
            evidence=tuple(ev),
            fix=tuple(fixes),
            verify=(
                Action(
                    message=Message("verify.service_pods_ready", params),
                    command=f"kubectl -n {ns} get pods -l {_selector_text(svc.spec.selector)}",
                ),
                _slices_verify(svc),
            ),
            pods=tuple(p.ref for p in pods),
        )


def _b(value: bool | None) -> str:
    return "<unset>" if value is None else str(value).lower()


# --- NET-803 ----------------------------------------------------------------------------------


@check(
    "service-targetport-mismatch",
    code="NET-803",
    needs=("k8s.services", "k8s.pods"),
    applies=_about_services,
)
def targetport_mismatch(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    services = _services(ctx)
    if services is None:
        yield NotApplicable()
        return
    q = ctx.question
    for svc in services:
        if not _proxied(svc):
            continue
        pods = service_pods(snap, svc)
        if not pods:
            continue
        ports = list(enumerate(svc.spec.ports))
        if q is not None and q.port is not None and ctx.target is not None:
            asked = [(i, p) for i, p in ports if q.port in (p.port, p.node_port)]
            ports = asked or ports
        for index, sp in ports:
            yield from _check_port(ctx, svc, pods, index, sp.port, sp.target_port, sp.protocol)


def _check_port(
    ctx: Context,
    svc: Service,
    pods: list[Pod],
    index: int,
    port: int,
    target: int | str | None,
    protocol: str,
) -> Iterator[Yielded]:
    snap = ctx.snapshot
    ns, name = svc.metadata.namespace, svc.metadata.name
    tp: int | str = port if target is None else target
    if isinstance(tp, str) and tp.isdigit():
        tp = int(tp)
    declared = [
        (p, c.name, cp)
        for p in pods
        for c in p.spec.containers
        for cp in c.ports
        if (cp.protocol or "TCP") == protocol
    ]
    if isinstance(tp, int):
        if not declared:
            # Declaring containerPort is optional: a pod may listen on a port it never names.
            yield Note(
                Message(
                    "note.service_no_container_ports",
                    {"service": f"{ns}/{name}", "port": str(tp)},
                )
            )
            return
        if any(cp.container_port == tp for _, _, cp in declared):
            return
    elif any(cp.name == tp for _, _, cp in declared):
        return
    numbers = sorted({cp.container_port for _, _, cp in declared})
    if not numbers:
        suggested: int | None = None
    elif len(numbers) == 1:
        suggested = numbers[0]
    else:
        want = svc.spec.ports[index].name
        named = [cp.container_port for _, _, cp in declared if want and cp.name == want]
        suggested = named[0] if named else declared[0][2].container_port
    listed = ", ".join(
        f"{cp.container_port}/{cp.protocol or 'TCP'}" + (f" ({cp.name})" if cp.name else "")
        for cp in {(cp.container_port, cp.name, cp.protocol): cp for _, _, cp in declared}.values()
    )
    ev = [_service_evidence(ctx, svc, f"spec.ports[{index}].targetPort", str(tp))]
    seen: set[str] = set()
    for p, cname, _ in declared:
        key = f"{p.ref}/{cname}"
        if key in seen or len(seen) >= 4:
            continue
        seen.add(key)
        c = next(c for c in p.spec.containers if c.name == cname)
        ev.append(
            pod_evidence(
                snap,
                p,
                f"spec.containers[{cname}].ports",
                ", ".join(f"{cp.container_port}/{cp.protocol or 'TCP'}" for cp in c.ports),
            )
        )
    if not declared:
        ev.append(pod_evidence(snap, pods[0], "spec.containers[].ports", "none"))
    params = {
        "service": f"{ns}/{name}",
        "port": str(port),
        "target_port": str(tp),
        "container_ports": listed or "none",
        "suggested": str(suggested) if suggested is not None else "",
        "index": str(index),
    }
    fixes: list[Action] = []
    if suggested is not None:
        patch = [{"op": "replace", "path": f"/spec/ports/{index}/targetPort", "value": suggested}]
        fixes.append(
            Action(
                message=Message("fix.service_targetport", params),
                command=f"kubectl -n {ns} patch service {name} --type json -p '{_compact(patch)}'",
            )
        )
    else:
        fixes.append(
            Action(
                message=Message("fix.service_targetport_unknown", params),
                command=f"kubectl -n {ns} exec {pods[0].metadata.name} -- ss -ltnu",
            )
        )
    yield Finding(
        id="service-targetport-mismatch",
        subject=Subject(kind="Service", name=name, namespace=ns),
        params=params,
        variant="named" if isinstance(tp, str) else "default",
        evidence=tuple(ev),
        fix=tuple(fixes),
        verify=(
            Action(
                message=Message("verify.service_targetport", params),
                command=(
                    f"kubectl -n {ns} get endpointslices -l {SERVICE_NAME_LABEL}={name}"
                    " -o jsonpath='{.items[*].ports}'"
                ),
            ),
        ),
        pods=tuple(p.ref for p in pods),
    )


# --- NET-804 ----------------------------------------------------------------------------------


def kube_proxy_mode(snap: Snapshot) -> tuple[str, Evidence] | None:
    """kube-proxy's mode from the ``kube-proxy`` ConfigMap (``config.conf`` ``mode:``); an
    empty mode is the platform default, iptables on Linux."""
    cm = snap.configmap_by_ref.get("kube-system/kube-proxy")
    if cm is None or "config.conf" not in cm.data:
        return None
    m = re.search(r"^mode:[ \t]*\"?([A-Za-z]*)\"?[ \t]*$", cm.data["config.conf"], re.M)
    raw = m.group(1) if m else ""
    ev = Evidence(
        source=snap.source("k8s.configmaps"),
        object="ConfigMap/kube-system/kube-proxy",
        field="data[config.conf].mode",
        value=raw or '""',
    )
    return raw or "iptables", ev


def _kube_proxy(ctx: Context) -> tuple[DaemonSet | None, list[Pod]]:
    snap = ctx.snapshot
    ds = snap.daemonset_by_ref.get(f"kube-system/{KUBE_PROXY}")
    pods = []
    for p in snap.pods_by_namespace.get("kube-system", ()):
        owner = p.owner("DaemonSet")
        if (owner is not None and owner.name == KUBE_PROXY) or (
            owner is None and p.metadata.name.startswith(f"{KUBE_PROXY}-")
        ):
            pods.append(p)
    return ds, pods


def _expected_on(ds: DaemonSet | None, node: Node) -> bool:
    if node.spec.unschedulable or node.metadata.labels.get("kubernetes.io/os", "linux") != "linux":
        return False
    return ds is None or daemonset_fits(ds, node)


_KLOG_ERROR = re.compile(r"^[EF]\d{4} ")


def _through_kube_proxy(ctx: Context) -> bool:
    """Traffic kube-proxy handles: to a Service, a node (NodePort), an address or a name."""
    return ctx.target is None or ctx.target.kind in ("service", "node", "ip", "dns")


@check(
    "kube-proxy-unhealthy",
    code="NET-804",
    needs=("k8s.pods", "k8s.nodes"),
    applies=_through_kube_proxy,
)
def kube_proxy_unhealthy(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if kube_proxy_replaced(snap):
        yield NotApplicable()  # Cilium's kube-proxy replacement does the Service work
        return
    ds, pods = _kube_proxy(ctx)
    mode = kube_proxy_mode(snap)
    if ds is None and not pods and mode is None:
        yield NotApplicable()  # no kube-proxy here at all (k3s embeds it; or it is replaced)
        return
    mode_name = mode[0] if mode else "iptables"
    # A Service question: the client's node is where its packets meet kube-proxy's rules.
    only = ctx.source.node_name if ctx.source is not None and ctx.target is not None else None
    by_node: dict[str, list[Pod]] = {}
    for p in pods:
        by_node.setdefault(p.spec.node_name, []).append(p)
    for node in snap.nodes or ():
        n = node.metadata.name
        if only is not None and n != only:
            continue
        here = by_node.get(n, [])
        if not here:
            if not _expected_on(ds, node):
                continue
            ev = [daemonset_missing_evidence(snap, "kube-system", KUBE_PROXY, n)]
            if mode is not None:
                ev.append(mode[1])
            yield Finding(
                id="kube-proxy-unhealthy",
                subject=Subject(kind="Node", name=n),
                variant="missing",
                params={"node": n, "mode": mode_name, "pod": "", "reason": ""},
                evidence=tuple(ev),
                fix=(
                    Action(
                        message=Message("fix.kube_proxy_describe", {"node": n}),
                        command=f"kubectl -n kube-system describe daemonset {KUBE_PROXY}",
                    ),
                ),
                verify=(_kube_proxy_verify(n),),
                nodes=(n,),
            )
            continue
        for pod in here:
            yield from _kube_proxy_pod(ctx, pod, mode, mode_name)


def _kube_proxy_verify(node: str) -> Action:
    return Action(
        message=Message("verify.kube_proxy", {"node": node}),
        command=(
            f"kubectl -n kube-system get pods -l k8s-app={KUBE_PROXY} -o wide"
            f" --field-selector spec.nodeName={node}"
        ),
    )


def _kube_proxy_pod(
    ctx: Context, pod: Pod, mode: tuple[str, Evidence] | None, mode_name: str
) -> Iterator[Finding]:
    snap = ctx.snapshot
    node = pod.spec.node_name
    restarts = pod.restarts
    if pod.ready and restarts < RESTARTS_WARN:
        return
    ev = [pod_evidence(snap, pod, "status.phase", pod.status.phase or "Unknown")]
    ev += _readiness_evidence(ctx, pod)
    reason = next(
        (cs.state.waiting.reason for cs in pod.status.container_statuses if cs.state.waiting),
        "",
    )
    if restarts:
        ev.append(pod_evidence(snap, pod, "status.containerStatuses[].restartCount", str(restarts)))
    text = snap.log(pod, KUBE_PROXY)
    if text:
        hits = list(log_lines(text, _KLOG_ERROR))
        if hits:
            line_no, m = hits[-1]
            ev.append(log_evidence(snap, pod, KUBE_PROXY, line_no, m.string))
    facts = snap.node_facts.get(node)
    if mode_name == "iptables" and facts is not None and facts.iptables is not None:
        has_chain = facts.iptables.chain("nat", "KUBE-SERVICES") is not None
        ev.append(
            Evidence(
                source=snap.node_source(node, "iptables"),
                object=f"Node/{node}",
                field="*nat :KUBE-SERVICES",
                value="present" if has_chain else "absent",
                node=node,
            )
        )
    if mode is not None:
        ev.append(mode[1])
    ns, name = pod.metadata.namespace, pod.metadata.name
    yield Finding(
        id="kube-proxy-unhealthy",
        subject=Subject(kind="Pod", name=name, namespace=ns),
        variant="not_ready" if not pod.ready else "restarting",
        params={
            "node": node,
            "mode": mode_name,
            "pod": name,
            "reason": reason or pod.status.phase or "NotReady",
            "restarts": str(restarts),
        },
        evidence=tuple(ev),
        fix=(
            Action(
                message=Message("fix.kube_proxy_logs", {"pod": name}),
                command=f"kubectl -n {ns} logs {name} --previous --tail=100",
            ),
            Action(
                message=Message("fix.kube_proxy_restart", {"pod": name, "node": node}),
                command=f"kubectl -n {ns} delete pod {name}",
            ),
        ),
        verify=(_kube_proxy_verify(node),),
        nodes=(node,) if node else (),
        pods=(pod.ref,),
        severity=Severity.WARNING if pod.ready else None,
    )


# --- NET-805 ----------------------------------------------------------------------------------


def dns_pods(ctx: Context) -> list[Pod]:
    """The cluster DNS pods: kube-system pods labelled ``k8s-app=kube-dns`` (kubeadm's CoreDNS)."""
    key, value = DNS_LABEL
    return [
        p
        for p in ctx.snapshot.pods_by_namespace.get("kube-system", ())
        if p.metadata.labels.get(key) == value
    ]


_LOOP = re.compile(r"plugin/loop: (?:Loop \(.*\) detected|Forwarding loop detected)")
_FORWARD_RESOLV = re.compile(r"^\s*(forward\s+\.\s+/etc/resolv\.conf)\b", re.M)
_NAMESERVER = re.compile(r"^\s*nameserver\s+(\S+)", re.M)
RESOLV_EXTRA = "resolv.conf"  # nodes/<node>/extra/resolv.conf.txt: cat /etc/resolv.conf
UPSTREAM_EXTRA = "systemd-resolv.conf"  # cat /run/systemd/resolve/resolv.conf


@check("dns-unhealthy", code="NET-805", needs=("k8s.pods",))
def dns_unhealthy(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    pods = dns_pods(ctx)
    svc = snap.service_by_ref.get("kube-system/kube-dns")
    if not pods and svc is None:
        deployment = any(
            d.metadata.namespace == "kube-system" and d.metadata.name == "coredns"
            for d in snap.deployments or ()
        )
        if not deployment:
            yield NotApplicable()  # no DNS add-on in this cluster at all: nothing to judge
            return
    loop = _loop(ctx, pods)
    if loop is not None:
        yield loop
        return
    ready = [p for p in pods if p.ready]
    base = {"count": str(len(pods)), "ready": str(len(ready))}
    if not ready:
        ev: list[Evidence] = []
        for p in pods[:4]:
            ev.append(pod_evidence(snap, p, "status.phase", p.status.phase or "Unknown"))
            ev += _readiness_evidence(ctx, p)
            hit = last_log_match(snap, p, "coredns", re.compile(r"\[(?:ERROR|FATAL)\]"))
            if hit is not None:
                ev.append(hit[1])
        if not pods:
            ev.append(
                Evidence(
                    source=snap.source("k8s.pods"),
                    object="Pod/kube-system (k8s-app=kube-dns)",
                    field="items",
                    value="none",
                )
            )
        first = pods[0].metadata.name if pods else ""
        yield Finding(
            id="dns-unhealthy",
            subject=Subject(kind="Deployment", name="coredns", namespace="kube-system"),
            variant="not_ready" if pods else "no_pods",
            params={**base, "pod": first},
            evidence=tuple(ev),
            fix=_dns_fixes(first),
            verify=_dns_verify(),
            pods=tuple(p.ref for p in pods),
        )
        return
    if svc is not None and snap.endpointslices is not None:
        eps = [e for s in service_slices(snap, svc) for e in s.endpoints or ()]
        if not any(e.conditions.ready is not False for e in eps):
            yield Finding(
                id="dns-unhealthy",
                subject=Subject(kind="Service", name="kube-dns", namespace="kube-system"),
                variant="no_endpoints",
                params={**base, "pod": ready[0].metadata.name},
                evidence=(
                    _service_evidence(ctx, svc, "spec.selector", _selector_text(svc.spec.selector)),
                    Evidence(
                        source=snap.source("k8s.endpointslices"),
                        object=f"EndpointSlice/kube-system ({SERVICE_NAME_LABEL}=kube-dns)",
                        field="endpoints[].conditions.ready",
                        value="none ready" if eps else "none",
                    ),
                    pod_evidence(
                        snap, ready[0], "metadata.labels", _selector_text(ready[0].metadata.labels)
                    ),
                ),
                fix=(
                    Action(
                        message=Message("fix.dns_service_selector", {}),
                        command="kubectl -n kube-system get service kube-dns -o yaml",
                    ),
                ),
                verify=_dns_verify(),
            )
            return
    if len(ready) < len(pods):
        bad = [p for p in pods if not p.ready]
        ev = []
        for p in bad[:4]:
            ev += [pod_evidence(snap, p, "status.phase", p.status.phase or "Unknown")]
            ev += _readiness_evidence(ctx, p)
        yield Finding(
            id="dns-unhealthy",
            subject=Subject(kind="Pod", name=bad[0].metadata.name, namespace="kube-system"),
            variant="degraded",
            params={**base, "pod": bad[0].metadata.name},
            evidence=tuple(ev),
            fix=_dns_fixes(bad[0].metadata.name),
            verify=_dns_verify(),
            pods=tuple(p.ref for p in bad),
            nodes=tuple(sorted({p.spec.node_name for p in bad if p.spec.node_name})),
            severity=Severity.WARNING,
        )


def _dns_fixes(pod: str) -> tuple[Action, ...]:
    if not pod:
        return (
            Action(
                message=Message("fix.dns_deployment", {}),
                command="kubectl -n kube-system describe deployment coredns",
            ),
        )
    return (
        Action(
            message=Message("fix.dns_logs", {"pod": pod}),
            command=f"kubectl -n kube-system logs {pod} --previous --tail=50",
        ),
        Action(
            message=Message("fix.dns_describe", {"pod": pod}),
            command=f"kubectl -n kube-system describe pod {pod}",
        ),
    )


def _dns_verify() -> tuple[Action, ...]:
    return (
        Action(
            message=Message("verify.dns_rollout", {}),
            command="kubectl -n kube-system rollout status deployment coredns",
        ),
        Action(
            message=Message("verify.dns_lookup", {}),
            command=(
                "kubectl run dnscheck --rm -it --restart=Never --image=busybox:1.36"
                " -- nslookup kubernetes.default"
            ),
        ),
    )


def _loop(ctx: Context, pods: list[Pod]) -> Finding | None:
    """CoreDNS's loop plugin stopped the server: ``[FATAL] plugin/loop: Loop (...) detected``.

    The classic cause: ``forward . /etc/resolv.conf`` and a node whose resolv.conf points at
    systemd-resolved's stub 127.0.0.53, which inside the CoreDNS pod is CoreDNS itself.
    """
    snap = ctx.snapshot
    hits = [(p, h) for p in pods for h in [last_log_match(snap, p, "coredns", _LOOP)] if h]
    if not hits:
        return None
    ev = [h[1] for _, h in hits[:2]]
    found = corefile(snap)
    forward = _FORWARD_RESOLV.search(found[1]) if found else None
    if found is not None and forward is not None:
        ev.append(
            Evidence(
                source=snap.source("k8s.configmaps"),
                object=f"ConfigMap/{found[0]}",
                field="data[Corefile]",
                value=forward.group(1),
            )
        )
    nodes = sorted({p.spec.node_name for p, _ in hits if p.spec.node_name})
    stub_nodes: list[str] = []
    upstream: list[str] = []
    for n in nodes:
        facts = snap.node_facts.get(n)
        text = facts.extra.get(RESOLV_EXTRA) if facts else None
        if text:
            servers = _NAMESERVER.findall(text)
            ev.append(
                Evidence(
                    source=f"nodes/{n}/extra/{RESOLV_EXTRA}.txt",
                    object=f"Node/{n}",
                    field="/etc/resolv.conf nameserver",
                    value=", ".join(servers) or "none",
                    node=n,
                )
            )
            if any(s.startswith("127.") for s in servers):
                stub_nodes.append(n)
        real = facts.extra.get(UPSTREAM_EXTRA) if facts else None
        for s in _NAMESERVER.findall(real or ""):
            if not s.startswith("127.") and s not in upstream:
                upstream.append(s)
    for p, _ in hits[:2]:
        for cs in p.status.container_statuses:
            if cs.state.waiting is not None:
                ev.append(
                    pod_evidence(
                        snap,
                        p,
                        f"status.containerStatuses[{cs.name}].state.waiting",
                        cs.state.waiting.reason,
                    )
                )
    where = ", ".join(stub_nodes or nodes)
    up = " ".join(upstream) if upstream else "<upstream DNS IP>"
    fixes = [
        Action(
            message=Message("fix.dns_loop_kubelet", {"nodes": where}),
            command=(
                "grep -q '^resolvConf:' /var/lib/kubelet/config.yaml"
                " && sed -i 's#^resolvConf:.*#resolvConf: /run/systemd/resolve/resolv.conf#'"
                " /var/lib/kubelet/config.yaml"
                " || echo 'resolvConf: /run/systemd/resolve/resolv.conf'"
                " >> /var/lib/kubelet/config.yaml; systemctl restart kubelet"
                " && kubectl -n kube-system rollout restart deployment coredns"
            ),
        ),
        Action(
            message=Message(
                "fix.dns_loop_forward" if upstream else "fix.dns_loop_forward_unknown",
                {"upstream": " ".join(upstream)},
            ),
            command=(
                "kubectl -n kube-system get configmap coredns -o yaml"
                f" | sed 's#forward . /etc/resolv.conf#forward . {up}#'"
                " | kubectl apply -f -"
                " && kubectl -n kube-system rollout restart deployment coredns"
            ),
        ),
    ]
    return Finding(
        id="dns-unhealthy",
        subject=Subject(kind="Deployment", name="coredns", namespace="kube-system"),
        variant="loop",
        params={
            "count": str(len(pods)),
            "ready": str(sum(1 for p in pods if p.ready)),
            "pod": hits[0][0].metadata.name,
            "nodes": where,
        },
        evidence=tuple(ev),
        fix=tuple(fixes),
        verify=_dns_verify(),
        pods=tuple(p.ref for p, _ in hits),
    )
