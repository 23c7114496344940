"""metadata, ownerReferences and the pieces every pod gets (tolerations, token volume)."""

from __future__ import annotations

from typing import Any

from netdoctor.lab.objects.cluster import Cluster
from netdoctor.lab.objects.ids import suffix5, uid

__all__ = ["klist", "meta", "owner_ref", "sa_volume", "tolerations_default"]


def klist(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def meta(
    c: Cluster,
    kind: str,
    name: str,
    namespace: str | None,
    created: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: dict[str, Any] | None = None,
    generation: int | None = None,
    generate_name: str | None = None,
) -> dict[str, Any]:
    m: dict[str, Any] = {}
    if annotations:
        m["annotations"] = annotations
    m["creationTimestamp"] = created
    if generate_name:
        m["generateName"] = generate_name
    if generation is not None:
        m["generation"] = generation
    if labels:
        m["labels"] = labels
    m["name"] = name
    if namespace is not None:
        m["namespace"] = namespace
    if owner:
        m["ownerReferences"] = [owner]
    m["resourceVersion"] = c.rv()
    m["uid"] = uid(c.name, kind, namespace or "", name)
    return m


def owner_ref(c: Cluster, api: str, kind: str, name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "blockOwnerDeletion": True,
        "controller": True,
        "kind": kind,
        "name": name,
        "uid": uid(c.name, kind, namespace, name),
    }


def tolerations_default() -> list[dict[str, Any]]:
    return [
        {
            "effect": "NoExecute",
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "tolerationSeconds": 300,
        },
        {
            "effect": "NoExecute",
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "tolerationSeconds": 300,
        },
    ]


def sa_volume(c: Cluster, pod: str) -> tuple[dict[str, Any], dict[str, Any]]:
    name = f"kube-api-access-{suffix5(c.name, 'sa', pod)}"
    vol = {
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        "name": "kube-root-ca.crt",
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                "path": "namespace",
                            }
                        ]
                    }
                },
            ],
        },
    }
    mount = {
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "name": name,
        "readOnly": True,
    }
    return vol, mount
