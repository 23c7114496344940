"""Services and their EndpointSlices."""

from __future__ import annotations

from typing import Any

from netdoctor.lab.objects.cluster import Cluster
from netdoctor.lab.objects.ids import suffix5
from netdoctor.lab.objects.meta import meta

__all__ = ["endpointslice", "service"]


def service(
    c: Cluster,
    ns: str,
    name: str,
    ip: str,
    ports: list[dict[str, Any]],
    selector: dict[str, str] | None,
    labels: dict[str, str] | None = None,
    svc_type: str = "ClusterIP",
    annotations: dict[str, str] | None = None,
    created: str = "2026-01-12T02:58:35Z",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "clusterIP": ip,
        "clusterIPs": [ip],
    }
    if svc_type == "NodePort":
        spec["externalTrafficPolicy"] = "Cluster"
    spec.update(
        {
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": ports,
        }
    )
    if selector:
        spec["selector"] = selector
    spec["sessionAffinity"] = "None"
    spec["type"] = svc_type
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(c, "Service", name, ns, created, labels=labels, annotations=annotations),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def endpointslice(
    c: Cluster,
    svc: dict[str, Any],
    pods: list[dict[str, Any]],
    ports: list[dict[str, Any]],
    managed_by: str = "endpointslice-controller.k8s.io",
    addrs: list[str] | None = None,
) -> dict[str, Any]:
    sm = svc["metadata"]
    name = sm["name"] if addrs else f"{sm['name']}-{suffix5(c.name, 'eps', sm['name'])}"
    labels = dict(sm.get("labels", {}))
    labels["endpointslice.kubernetes.io/managed-by"] = managed_by
    labels["kubernetes.io/service-name"] = sm["name"]
    labels = dict(sorted(labels.items()))
    eps = []
    if addrs:
        eps = [{"addresses": [a], "conditions": {"ready": True}} for a in addrs]
    for p in pods:
        eps.append(
            {
                "addresses": [p["status"]["podIP"]],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "nodeName": p["spec"]["nodeName"],
                "targetRef": {
                    "kind": "Pod",
                    "name": p["metadata"]["name"],
                    "namespace": p["metadata"]["namespace"],
                    "uid": p["metadata"]["uid"],
                },
            }
        )
    m = meta(
        c,
        "EndpointSlice",
        name,
        sm["namespace"],
        sm["creationTimestamp"],
        labels=labels,
        annotations={"endpoints.kubernetes.io/last-change-trigger-time": "2026-02-14T08:12:31Z"}
        if not addrs
        else None,
        owner=None
        if addrs
        else {
            "apiVersion": "v1",
            "blockOwnerDeletion": True,
            "controller": True,
            "kind": "Service",
            "name": sm["name"],
            "uid": sm["uid"],
        },
        generation=1,
        generate_name=None if addrs else f"{sm['name']}-",
    )
    return {
        "addressType": "IPv4",
        "apiVersion": "discovery.k8s.io/v1",
        "endpoints": eps,
        "kind": "EndpointSlice",
        "metadata": m,
        "ports": ports,
    }
