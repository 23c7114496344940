"""DaemonSets, Deployments, ConfigMaps, Events and pod-template helpers."""

from __future__ import annotations

import copy
from typing import Any

from netdoctor.lab.objects.cluster import Cluster
from netdoctor.lab.objects.ids import hexid, rs_hash, uid
from netdoctor.lab.objects.meta import meta
from netdoctor.lab.objects.pods import PodDef

__all__ = ["cm_env", "configmap", "event", "field_env", "host_path", "template_of", "workload"]


def workload(
    c: Cluster,
    kind: str,
    ns: str,
    name: str,
    labels: dict[str, str],
    selector: dict[str, str],
    template: dict[str, Any],
    desired: int,
    created: str = "2026-01-12T03:01:02Z",
    annotations: dict[str, str] | None = None,
    strategy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ann = (
        {"deprecated.daemonset.template.generation": "1"}
        if kind == "DaemonSet"
        else {"deployment.kubernetes.io/revision": "1"}
    )
    if annotations:
        ann.update(annotations)
    spec: dict[str, Any] = {
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": selector},
        "template": template,
    }
    if kind == "DaemonSet":
        spec["updateStrategy"] = strategy or {
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            "type": "RollingUpdate",
        }
        status: dict[str, Any] = {
            "currentNumberScheduled": desired,
            "desiredNumberScheduled": desired,
            "numberAvailable": desired,
            "numberMisscheduled": 0,
            "numberReady": desired,
            "observedGeneration": 1,
            "updatedNumberScheduled": desired,
        }
    else:
        spec.update(
            {
                "progressDeadlineSeconds": 600,
                "replicas": desired,
                "strategy": strategy
                or {
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                    "type": "RollingUpdate",
                },
            }
        )
        spec = dict(sorted(spec.items()))
        status = {
            "availableReplicas": desired,
            "conditions": [
                {
                    "lastTransitionTime": created,
                    "lastUpdateTime": created,
                    "message": f'ReplicaSet "{name}-{rs_hash(c.name, name)}" has successfully '
                    "progressed.",
                    "reason": "NewReplicaSetAvailable",
                    "status": "True",
                    "type": "Progressing",
                },
                {
                    "lastTransitionTime": "2026-02-14T08:12:40Z",
                    "lastUpdateTime": "2026-02-14T08:12:40Z",
                    "message": "Deployment has minimum availability.",
                    "reason": "MinimumReplicasAvailable",
                    "status": "True",
                    "type": "Available",
                },
            ],
            "observedGeneration": 1,
            "readyReplicas": desired,
            "replicas": desired,
            "updatedReplicas": desired,
        }
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": meta(c, kind, name, ns, created, labels=labels, annotations=ann, generation=1),
        "spec": spec,
        "status": status,
    }


def template_of(p: PodDef, extra_ann: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": copy.deepcopy(p.containers), "dnsPolicy": "ClusterFirst"}
    for ct in spec["containers"]:
        ct.setdefault("imagePullPolicy", "IfNotPresent")
        ct.setdefault("resources", {})
        ct.setdefault("terminationMessagePath", "/dev/termination-log")
        ct.setdefault("terminationMessagePolicy", "File")
    if p.host_network:
        spec["hostNetwork"] = True
    if p.init_containers:
        spec["initContainers"] = copy.deepcopy(p.init_containers)
        for ct in spec["initContainers"]:
            ct.setdefault("imagePullPolicy", "IfNotPresent")
            ct.setdefault("resources", {})
            ct.setdefault("terminationMessagePath", "/dev/termination-log")
            ct.setdefault("terminationMessagePolicy", "File")
    if p.node_selector:
        spec["nodeSelector"] = p.node_selector
    if p.priority_class:
        spec["priorityClassName"] = p.priority_class
    spec.update(
        {
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccount": p.service_account,
            "serviceAccountName": p.service_account,
            "terminationGracePeriodSeconds": 30,
        }
    )
    if p.tolerations is not None:
        spec["tolerations"] = p.tolerations
    if p.volumes:
        spec["volumes"] = copy.deepcopy(p.volumes)
    spec.update({k: v for k, v in p.extra_spec.items() if k != "nodeName"})
    spec = dict(sorted(spec.items()))
    labels = {
        k: v
        for k, v in p.labels.items()
        if k not in ("pod-template-hash", "controller-revision-hash", "pod-template-generation")
    }
    md: dict[str, Any] = {"creationTimestamp": None, "labels": labels}
    if extra_ann:
        md = {"annotations": extra_ann, **md}
    return {"metadata": md, "spec": spec}


def field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def cm_env(name: str, cm: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"configMapKeyRef": {"key": key, "name": cm}}}


def host_path(name: str, path: str, typ: str = "") -> dict[str, Any]:
    return {"hostPath": {"path": path, "type": typ}, "name": name}


def configmap(
    c: Cluster,
    ns: str,
    name: str,
    data: dict[str, str],
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    created: str = "2026-01-12T02:58:34Z",
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "data": data,
        "kind": "ConfigMap",
        "metadata": meta(c, "ConfigMap", name, ns, created, labels=labels, annotations=annotations),
    }


def event(
    c: Cluster,
    ns: str,
    obj_kind: str,
    obj_name: str,
    reason: str,
    message: str,
    ts: str,
    component: str,
    host: str = "",
    etype: str = "Normal",
    count: int = 1,
    field_path: str | None = None,
) -> dict[str, Any]:
    name = f"{obj_name}.{hexid(c.name, 'ev', obj_name, reason, message, n=16)}"
    inv: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": obj_kind,
        "name": obj_name,
        "namespace": ns,
        "uid": uid(c.name, obj_kind, ns, obj_name),
    }
    if field_path:
        inv["fieldPath"] = field_path
    if obj_kind == "Pod":
        inv["resourceVersion"] = str(c.rv.n)
    ev: dict[str, Any] = {
        "apiVersion": "v1",
        "count": count,
        "eventTime": None,
        "firstTimestamp": ts,
        "involvedObject": dict(sorted(inv.items())),
        "kind": "Event",
        "lastTimestamp": ts,
        "message": message,
        "metadata": meta(c, "Event", name, ns, ts),
        "reason": reason,
        "reportingComponent": component,
        "reportingInstance": host,
        "source": {"component": component, **({"host": host} if host else {})},
        "type": etype,
    }
    return ev
