"""Pod objects from a short definition (PodDef), with the status kubelet reports."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from netdoctor.lab.objects.cluster import Cluster
from netdoctor.lab.objects.ids import hexid
from netdoctor.lab.objects.meta import meta, sa_volume, tolerations_default

__all__ = ["PodDef", "image_id", "pod_object"]


@dataclass
class PodDef:
    namespace: str
    name: str
    node: str
    ip: str
    containers: list[dict[str, Any]]
    labels: dict[str, str]
    owner: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    host_network: bool = False
    init_containers: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    created: str = "2026-01-12T03:05:11Z"
    started: str = "2026-02-14T08:12:00Z"
    restarts: int = 0
    priority_class: str | None = None
    service_account: str = "default"
    tolerations: list[dict[str, Any]] | None = None
    node_selector: dict[str, str] | None = None
    extra_spec: dict[str, Any] = field(default_factory=dict)
    static: bool = False
    qos: str = "BestEffort"


def image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hexid('image', image)}"


def pod_object(c: Cluster, p: PodDef) -> dict[str, Any]:
    containers = copy.deepcopy(p.containers)
    volumes = copy.deepcopy(p.volumes)
    if not p.static:
        vol, mount = sa_volume(c, p.name)
        volumes.append(vol)
        for ct in containers:
            ct.setdefault("volumeMounts", []).append(mount)
    for ct in [*containers, *p.init_containers]:
        ct.setdefault("imagePullPolicy", "IfNotPresent")
        ct.setdefault("resources", {})
        ct.setdefault("terminationMessagePath", "/dev/termination-log")
        ct.setdefault("terminationMessagePolicy", "File")
    spec: dict[str, Any] = {
        "containers": containers,
        "dnsPolicy": "ClusterFirstWithHostNet" if p.host_network else "ClusterFirst",
        "enableServiceLinks": True,
    }
    if p.host_network:
        spec["hostNetwork"] = True
    if p.init_containers:
        spec["initContainers"] = copy.deepcopy(p.init_containers)
    spec["nodeName"] = p.node
    if p.node_selector:
        spec["nodeSelector"] = p.node_selector
    spec["preemptionPolicy"] = "PreemptLowerPriority"
    spec["priority"] = (
        2000001000
        if p.priority_class == "system-node-critical"
        else (2000000000 if p.priority_class == "system-cluster-critical" else 0)
    )
    if p.priority_class:
        spec["priorityClassName"] = p.priority_class
    spec["restartPolicy"] = "Always"
    spec["schedulerName"] = "default-scheduler"
    spec["securityContext"] = {}
    spec["serviceAccount"] = p.service_account
    spec["serviceAccountName"] = p.service_account
    spec["terminationGracePeriodSeconds"] = 30
    spec["tolerations"] = p.tolerations if p.tolerations is not None else tolerations_default()
    spec["volumes"] = volumes
    spec.update(p.extra_spec)
    spec = dict(sorted(spec.items()))
    t0 = p.created
    conds = []
    if c.k8s_minor >= 29:
        conds.append(
            {
                "lastProbeTime": None,
                "lastTransitionTime": p.started,
                "status": "True",
                "type": "PodReadyToStartContainers",
            }
        )
    conds += [
        {
            "lastProbeTime": None,
            "lastTransitionTime": p.started,
            "status": "True",
            "type": "Initialized",
        },
        {"lastProbeTime": None, "lastTransitionTime": p.started, "status": "True", "type": "Ready"},
        {
            "lastProbeTime": None,
            "lastTransitionTime": p.started,
            "status": "True",
            "type": "ContainersReady",
        },
        {"lastProbeTime": None, "lastTransitionTime": t0, "status": "True", "type": "PodScheduled"},
    ]

    def cstatus(ct: dict[str, Any], init: bool) -> dict[str, Any]:
        st: dict[str, Any] = {
            "containerID": f"containerd://{hexid(c.name, p.namespace, p.name, ct['name'])}",
            "image": ct["image"].replace("registry.k8s.io/", "registry.k8s.io/"),
            "imageID": image_id(ct["image"]),
            "lastState": {},
            "name": ct["name"],
            "ready": not init,
            "restartCount": 0 if init else p.restarts,
        }
        if init:
            st["state"] = {
                "terminated": {
                    "containerID": st["containerID"],
                    "exitCode": 0,
                    "finishedAt": p.started,
                    "reason": "Completed",
                    "startedAt": p.started,
                }
            }
        else:
            st["started"] = True
            st["state"] = {"running": {"startedAt": p.started}}
            if p.restarts:
                st["lastState"] = {
                    "terminated": {
                        "containerID": f"containerd://{hexid('prev', p.name, ct['name'])}",
                        "exitCode": 255,
                        "finishedAt": p.started,
                        "reason": "Unknown",
                        "startedAt": t0,
                    }
                }
        return dict(sorted(st.items()))

    status: dict[str, Any] = {
        "conditions": conds,
        "containerStatuses": [cstatus(ct, False) for ct in containers],
        "hostIP": c.node_ip[p.node],
        "hostIPs": [{"ip": c.node_ip[p.node]}],
    }
    if c.k8s_minor < 29:
        status.pop("hostIPs")
    if p.init_containers:
        status["initContainerStatuses"] = [cstatus(ct, True) for ct in p.init_containers]
    status.update(
        {
            "phase": "Running",
            "podIP": p.ip,
            "podIPs": [{"ip": p.ip}],
            "qosClass": p.qos,
            "startTime": p.started,
        }
    )
    md = meta(
        c,
        "Pod",
        p.name,
        p.namespace,
        t0,
        labels=p.labels,
        annotations=p.annotations or None,
        owner=p.owner,
        generate_name=(p.name[: p.name.rfind("-") + 1] if p.owner and not p.static else None),
    )
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": status}
