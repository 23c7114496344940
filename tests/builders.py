"""Build Snapshots in memory from the JSON shapes kubectl and ip really print.

The builders return plain dicts shaped like ``kubectl get -o json`` items and ``ip -j``
entries, and ``snapshot()`` decodes them through the same msgspec types a bundle goes through,
so a test exercises real decoding, not hand-made model objects.
"""

from __future__ import annotations

from typing import Any

import msgspec

from netdoctor.model import k8s
from netdoctor.model.nodefacts import Interface, NetFacts, Route
from netdoctor.model.snapshot import Manifest, Question, Snapshot

Obj = dict[str, Any]


def node(
    name: str,
    internal_ip: str,
    *,
    annotations: dict[str, str] | None = None,
    ready: bool = True,
    pod_cidr: str | None = None,
    taints: list[Obj] | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": f"uid-node-{name}",
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                **(labels or {}),
            },
            "annotations": annotations or {},
        },
        "spec": {
            "podCIDR": pod_cidr,
            "podCIDRs": [pod_cidr] if pod_cidr else [],
            "taints": taints or [],
        },
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": internal_ip},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady"}
            ],
            "nodeInfo": {"kubeletVersion": "v1.28.6", "kernelVersion": "5.15.0-91-generic"},
        },
    }


def pod(
    ns: str,
    name: str,
    node_name: str,
    ip: str,
    *,
    ready: bool = True,
    owner: tuple[str, str, str] | None = None,  # (kind, name, uid)
    containers: list[Obj] | None = None,
    host_network: bool = False,
    restarts: int = 0,
    waiting: tuple[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    cs = containers or [{"name": "main", "image": "nicolaka/netshoot:v0.11"}]
    state: Obj = {"running": {"startedAt": "2026-02-14T08:00:00Z"}}
    if waiting:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-pod-{ns}-{name}",
            "labels": labels or {},
            "ownerReferences": (
                [
                    {
                        "apiVersion": "apps/v1",
                        "kind": owner[0],
                        "name": owner[1],
                        "uid": owner[2],
                        "controller": True,
                    }
                ]
                if owner
                else []
            ),
        },
        "spec": {"nodeName": node_name, "hostNetwork": host_network, "containers": cs},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": ip if host_network else None,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "ready": ready,
                    "restartCount": restarts,
                    "image": c.get("image", ""),
                    "state": state,
                    "lastState": {},
                }
                for c in cs
            ],
        },
    }


def daemonset(
    ns: str,
    name: str,
    container: Obj,
    *,
    uid: str | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    sel = labels or {"k8s-app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-ds-{name}"},
        "spec": {
            "selector": {"matchLabels": sel},
            "template": {
                "metadata": {"labels": sel},
                "spec": {
                    "hostNetwork": True,
                    "containers": [container],
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                },
            },
        },
        "status": {"desiredNumberScheduled": 2, "numberReady": 2},
    }


def iface(name: str, *addrs: str, index: int = 2, kind: str | None = None, mtu: int = 1500) -> Obj:
    out: Obj = {
        "ifindex": index,
        "ifname": name,
        "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
        "mtu": mtu,
        "operstate": "UP",
        "link_type": "ether",
        "address": f"52:54:00:00:00:{index:02x}",
        "addr_info": [],
    }
    for a in addrs:
        local, _, plen = a.partition("/")
        out["addr_info"].append(
            {
                "family": "inet",
                "local": local,
                "prefixlen": int(plen or 32),
                "scope": "global",
                "label": name,
            }
        )
    if kind:
        out["linkinfo"] = {"info_kind": kind}
    return out


def route(dst: str, *, dev: str, gateway: str | None = None, **extra: Any) -> Obj:
    r: Obj = {"dst": dst, "dev": dev, "flags": []}
    if gateway:
        r["gateway"] = gateway
    r.update(extra)
    return r


def facts(
    interfaces: list[Obj] | None = None,
    routes: list[Obj] | None = None,
    sysctl: dict[str, str] | None = None,
    fdb: list[Obj] | None = None,
) -> NetFacts:
    from netdoctor.model.nodefacts import FdbEntry

    return NetFacts(
        interfaces=tuple(msgspec.convert(interfaces, list[Interface]))
        if interfaces is not None
        else None,
        routes=tuple(msgspec.convert(routes, list[Route])) if routes is not None else None,
        sysctl=sysctl,
        fdb=tuple(msgspec.convert(fdb, list[FdbEntry])) if fdb is not None else None,
    )


def _conv(items: list[Obj] | None, typ: type[Any]) -> tuple[Any, ...] | None:
    if items is None:
        return None
    return tuple(msgspec.convert(items, list[typ]))


def snapshot(
    *,
    nodes: list[Obj] | None = None,
    pods: list[Obj] | None = None,
    daemonsets: list[Obj] | None = None,
    calico_nodes: list[Obj] | None = None,
    installations: list[Obj] | None = None,
    events: list[Obj] | None = None,
    node_facts: dict[str, NetFacts] | None = None,
    logs: dict[str, str] | None = None,
    question: Question | None = None,
    services: list[Obj] | None = None,
    endpointslices: list[Obj] | None = None,
    configmaps: list[Obj] | None = None,
    deployments: list[Obj] | None = None,
) -> Snapshot:
    return Snapshot(
        source_kind="memory",
        manifest=Manifest(question=question),
        nodes=_conv(nodes, k8s.Node),
        pods=_conv(pods, k8s.Pod),
        daemonsets=_conv(daemonsets, k8s.DaemonSet),
        calico_nodes=_conv(calico_nodes, k8s.CalicoNode),
        installations=_conv(installations, k8s.Installation),
        events=_conv(events, k8s.Event),
        services=_conv(services, k8s.Service),
        endpointslices=_conv(endpointslices, k8s.EndpointSlice),
        configmaps=_conv(configmaps, k8s.ConfigMap),
        deployments=_conv(deployments, k8s.Deployment),
        node_facts=node_facts or {},
        logs=logs,
    )
