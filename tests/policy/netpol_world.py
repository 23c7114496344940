"""Pods, namespaces and policies in the shapes ``kubectl get -o json`` prints, decoded through
the model types into a Snapshot (the upstream e2e suite's world: namespaces x, y, z; pods a, b,
c labelled pod=<name>, each serving ports 80 and 81 over TCP, UDP and SCTP as named ports
``serve-<port>-<proto>``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import builders
import msgspec

from netdoctor.model import k8s
from netdoctor.model.snapshot import Snapshot

Obj = dict[str, Any]


def namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": f"uid-ns-{name}",
            "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def policy(ns: str, name: str, spec: Obj) -> Obj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-np-{ns}-{name}"},
        "spec": spec,
    }


def serving_pod(ref: str, ip: str, *, host_network: bool = False, labels: Obj | None = None) -> Obj:
    ns, name = ref.split("/")
    containers = [
        {
            "name": f"cont-{port}-{proto.lower()}",
            "image": "registry.k8s.io/e2e-test-images/agnhost:2.47",
            "ports": [
                {"containerPort": port, "name": f"serve-{port}-{proto.lower()}", "protocol": proto}
            ],
        }
        for port in (80, 81)
        for proto in ("TCP", "UDP", "SCTP")
    ]
    return builders.pod(
        ns,
        name,
        "node1",
        ip,
        containers=containers,
        host_network=host_network,
        labels=labels if labels is not None else {"pod": name},
    )


def pod_ip(i: int) -> str:
    return f"10.244.{i // 200}.{i % 200 + 10}"


def world(
    pod_refs: Iterable[str],
    policies: Iterable[Obj],
    *,
    with_namespaces: bool = True,
    extra_pods: Iterable[Obj] = (),
    pod_labels: dict[str, dict[str, str]] | None = None,
    namespace_labels: dict[str, dict[str, str]] | None = None,
) -> Snapshot:
    """Pod ``i`` of ``pod_refs`` gets IP ``pod_ip(i)``; ``pod_labels`` replace a pod's labels,
    ``namespace_labels`` add to a namespace's."""
    pods = [
        serving_pod(ref, pod_ip(i), labels=(pod_labels or {}).get(ref))
        for i, ref in enumerate(pod_refs)
    ]
    pods += list(extra_pods)
    names = sorted({p["metadata"]["namespace"] for p in pods})
    return Snapshot(
        pods=tuple(msgspec.convert(pods, list[k8s.Pod])),
        namespaces=(
            tuple(
                msgspec.convert(
                    [namespace(n, {"ns": n, **(namespace_labels or {}).get(n, {})}) for n in names],
                    list[k8s.Namespace],
                )
            )
            if with_namespaces
            else None
        ),
        networkpolicies=tuple(msgspec.convert(list(policies), list[k8s.NetworkPolicy])),
    )
