"""Service path root causes NET-801 .. NET-803: the Service's selector, its EndpointSlices,
its targetPort.

Checks layer: pure functions over the Snapshot. For a question whose target is a Service the
checks look at that Service only; a question about a pod or a node leaves them out; without a
question they look at every Service. The cluster DNS Service is NET-805's (``dns``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from netdoctor.checks._support.common import pod_events, pod_evidence
from netdoctor.checks._support.endpoints import SERVICE_NAME_LABEL, service_pods, service_slices
from netdoctor.checks._support.registry import Context, NotApplicable, Note, Yielded, check
from netdoctor.checks.service._common import readiness_evidence, selector_text, service_evidence
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.k8s import Pod, Service

__all__ = ["CLUSTER_DNS", "endpoints_not_ready", "no_endpoints", "targetport_mismatch"]

CLUSTER_DNS = "kube-system/kube-dns"  # its pods and endpoints are NET-805's, with DNS's own fixes


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
        ev = [service_evidence(ctx, svc, "spec.selector", selector_text(sel))]
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
        params = {"service": f"{ns}/{name}", "namespace": ns, "selector": selector_text(sel)}
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
            ev += readiness_evidence(ctx, p)
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
                    command=f"kubectl -n {ns} get pods -l {selector_text(svc.spec.selector)}",
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
    ev = [service_evidence(ctx, svc, f"spec.ports[{index}].targetPort", str(tp))]
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
