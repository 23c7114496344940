"""Service path root cause NET-805: the cluster DNS (CoreDNS) is down, degraded or looping.

Checks layer: pure functions over the Snapshot: the CoreDNS pods (``k8s-app=kube-dns``), their
logs, the Corefile, the kube-dns EndpointSlices and, when collected, the nodes' resolv.conf
(``nodes/<node>/extra/resolv.conf.txt``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from netdoctor.checks._support.common import last_log_match, pod_evidence
from netdoctor.checks._support.endpoints import SERVICE_NAME_LABEL, corefile, service_slices
from netdoctor.checks._support.registry import Context, NotApplicable, Yielded, check
from netdoctor.checks.service._common import readiness_evidence, selector_text, service_evidence
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import Pod

__all__ = ["DNS_LABEL", "dns_pods", "dns_unhealthy"]

DNS_LABEL = ("k8s-app", "kube-dns")  # kubeadm's CoreDNS pods and kube-dns Service


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
            ev += readiness_evidence(ctx, p)
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
                    service_evidence(ctx, svc, "spec.selector", selector_text(svc.spec.selector)),
                    Evidence(
                        source=snap.source("k8s.endpointslices"),
                        object=f"EndpointSlice/kube-system ({SERVICE_NAME_LABEL}=kube-dns)",
                        field="endpoints[].conditions.ready",
                        value="none ready" if eps else "none",
                    ),
                    pod_evidence(
                        snap, ready[0], "metadata.labels", selector_text(ready[0].metadata.labels)
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
            ev += readiness_evidence(ctx, p)
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
