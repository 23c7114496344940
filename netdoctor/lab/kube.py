"""The Kubernetes objects of a lab, as ``kubectl get <resource> -A -o json`` prints them.

lab: a source that builds real networks and writes bundles. There is no API server in the lab:
these objects are what kubelet, kubeadm and the CNI (flannel's kube-subnet-mgr, calico-node)
would have written for the network the plan describes, including the fault (an annotation with
the wrong address, a NetworkPolicy). They follow the upstream manifests (kube-flannel.yml
v0.24, calico.yaml v3.26, kubeadm v1.29) but carry only the fields such objects always have.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

from netdoctor.lab.objects.configs import CALICO_CNI_TEMPLATE, FLANNEL_CNI_CONF
from netdoctor.lab.objects.meta import klist, tolerations_default
from netdoctor.lab.plan import LISTEN_PORT, FaultName, NodePlan, Plan
from netdoctor.model.cni import (
    CALICO_ADDRESS,
    CALICO_VXLAN_ADDR,
    FLANNEL_BACKEND_DATA,
    FLANNEL_BACKEND_TYPE,
    FLANNEL_KSM,
    FLANNEL_PUBLIC_IP,
)

__all__ = ["CNI_CONFIG", "cni_config", "kube_objects", "version_json"]

K8S_VERSION = "v1.29.2"
FLANNEL_IMAGE = "docker.io/flannel/flannel:v0.24.2"
CALICO_IMAGE = "docker.io/calico/node:v3.26.1"
POD_IMAGE = "docker.io/nicolaka/netshoot:v0.11"
_UID_NS = uuid.UUID("0d3c3a39-1b55-4d0e-9a7e-5c3f7d4a2b61")
Obj = dict[str, Any]

# kube-flannel.yml's cni-conf.json (FLANNEL_CNI_CONF) and calico-node's install-cni template
# (CALICO_CNI_TEMPLATE) are shared with the example bundles (netdoctor.lab.objects.configs).

CNI_CONFIG = {"flannel": "10-flannel.conflist", "calico": "10-calico.conflist"}


def cni_config(plan: Plan, node: NodePlan) -> str:
    """The file the CNI installs in /etc/cni/net.d on the node."""
    if plan.cni == "flannel":
        return FLANNEL_CNI_CONF
    return (
        CALICO_CNI_TEMPLATE.replace("__KUBERNETES_NODE_NAME__", node.name)
        .replace("__CNI_MTU__", str(plan.pod_mtu))
        .replace("__KUBECONFIG_FILEPATH__", "/etc/cni/net.d/calico-kubeconfig")
    )


def version_json() -> Obj:
    def info(git: str) -> Obj:
        return {
            "major": "1",
            "minor": "29",
            "gitVersion": K8S_VERSION,
            "gitCommit": "4b8e819355d791d96b7e9d9efe4cbafae2311c88",
            "gitTreeState": "clean",
            "buildDate": "2024-02-14T10:32:40Z",
            "goVersion": "go1.21.7",
            "compiler": "gc",
            "platform": git,
        }

    return {
        "clientVersion": info("linux/amd64"),
        "kustomizeVersion": "v5.0.4-0.20230601165947-6ce0bf390ce3",
        "serverVersion": info("linux/amd64"),
    }


class _Meta:
    """uids and resourceVersions: stable for a lab, increasing like etcd's revision."""

    def __init__(self, plan: Plan, created: str) -> None:
        self.plan = plan
        self.created = created
        self.rv = 1000

    def __call__(
        self,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        owner: Obj | None = None,
    ) -> Obj:
        self.rv += 7
        md: Obj = {}
        if annotations:
            md["annotations"] = dict(sorted(annotations.items()))
        md["creationTimestamp"] = self.created
        if owner is not None:
            md["generateName"] = name.rsplit("-", 1)[0] + "-"
        if labels:
            md["labels"] = dict(sorted(labels.items()))
        md["name"] = name
        if namespace is not None:
            md["namespace"] = namespace
        if owner is not None:
            md["ownerReferences"] = [owner]
        md["resourceVersion"] = str(self.rv)
        md["uid"] = self.uid(kind, namespace or "", name)
        return md

    def uid(self, *parts: str) -> str:
        return str(uuid.uuid5(_UID_NS, "/".join((self.plan.name, *parts))))


def _suffix(*parts: str) -> str:
    """A pod name suffix in the alphabet the ReplicaSet / DaemonSet controllers use."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:5])


def _node_annotations(plan: Plan, node: NodePlan) -> dict[str, str]:
    ann = {
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    if plan.cni == "flannel":
        data = (
            json.dumps({"VNI": plan.vni, "VtepMAC": node.vtep_mac}, separators=(",", ":"))
            if plan.layout.overlay
            else "null"
        )
        ann |= {
            FLANNEL_BACKEND_DATA: data,
            FLANNEL_BACKEND_TYPE: "vxlan" if plan.layout.overlay else "host-gw",
            FLANNEL_KSM: "true",
            FLANNEL_PUBLIC_IP: node.public_ip,
        }
    else:
        ann[CALICO_ADDRESS] = f"{node.public_ip}/24"
        if plan.layout.overlay:
            ann[CALICO_VXLAN_ADDR] = node.tunnel_ip
    return ann


def _node(plan: Plan, node: NodePlan, meta: _Meta) -> Obj:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
    }
    if node.index == 1:
        labels["node-role.kubernetes.io/control-plane"] = ""
    pod_cidr = node.subnet if plan.cni == "flannel" else f"10.30.{node.index - 1}.0/24"
    t = meta.created
    reason = "FlannelIsUp" if plan.cni == "flannel" else "CalicoIsUp"
    message = (
        "Flannel is running on this node"
        if plan.cni == "flannel"
        else ("Calico is running on this node")
    )

    def cond(typ: str, status: str, why: str, msg: str) -> Obj:
        return {
            "lastHeartbeatTime": t,
            "lastTransitionTime": t,
            "message": msg,
            "reason": why,
            "status": status,
            "type": typ,
        }

    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(
            "Node", node.name, labels=labels, annotations=_node_annotations(plan, node)
        ),
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {
            "addresses": [
                {"address": node.ip, "type": "InternalIP"},
                {"address": node.name, "type": "Hostname"},
            ],
            "allocatable": {"cpu": "2", "memory": "3927592Ki", "pods": "110"},
            "capacity": {"cpu": "2", "memory": "4029992Ki", "pods": "110"},
            "conditions": [
                cond("NetworkUnavailable", "False", reason, message),
                cond(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                cond(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                cond(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": meta.uid("boot", node.name),
                "containerRuntimeVersion": "containerd://1.7.13",
                "kernelVersion": os.uname().release,
                "kubeProxyVersion": K8S_VERSION,
                "kubeletVersion": K8S_VERSION,
                "machineID": hashlib.md5(meta.uid("machine", node.name).encode()).hexdigest(),
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": meta.uid("system", node.name),
            },
        },
    }


def _container_status(name: str, image: str, started: str, cid: str) -> Obj:
    return {
        "containerID": f"containerd://{cid}",
        "image": image,
        "imageID": image.rsplit(":", 1)[0]
        + "@sha256:"
        + hashlib.sha256(image.encode()).hexdigest(),
        "lastState": {},
        "name": name,
        "ready": True,
        "restartCount": 0,
        "started": True,
        "state": {"running": {"startedAt": started}},
    }


def _pod(
    meta: _Meta,
    *,
    name: str,
    namespace: str,
    node: NodePlan,
    ip: str,
    containers: list[Obj],
    labels: dict[str, str],
    owner: Obj | None = None,
    host_network: bool = False,
    service_account: str = "default",
) -> Obj:
    t = meta.created
    spec: Obj = {
        "containers": containers,
        "dnsPolicy": "ClusterFirstWithHostNet" if host_network else "ClusterFirst",
        "enableServiceLinks": True,
    }
    if host_network:
        spec["hostNetwork"] = True
        spec["priorityClassName"] = "system-node-critical"
    spec |= {
        "nodeName": node.name,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": service_account,
        "serviceAccountName": service_account,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [{"operator": "Exists"}] if host_network else tolerations_default(),
    }
    conds = [
        {"lastProbeTime": None, "lastTransitionTime": t, "status": "True", "type": typ}
        for typ in (
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        )
    ]
    statuses = [
        _container_status(
            c["name"],
            c["image"],
            t,
            hashlib.sha256(meta.uid("container", namespace, name, c["name"]).encode()).hexdigest(),
        )
        for c in containers
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("Pod", name, namespace, labels=labels, owner=owner),
        "spec": spec,
        "status": {
            "conditions": conds,
            "containerStatuses": statuses,
            "hostIP": node.ip,
            "hostIPs": [{"ip": node.ip}],
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "qosClass": "BestEffort",
            "startTime": t,
        },
    }


def _env(name: str, value: str) -> Obj:
    return {"name": name, "value": value}


def _agent(plan: Plan) -> tuple[str, str, str, str, dict[str, str], Obj]:
    """(namespace, DaemonSet, container, image, selector labels, container spec)."""
    if plan.cni == "flannel":
        args = ["--ip-masq", "--kube-subnet-mgr"]
        if FaultName.wrong_tunnel_address in plan.faults:
            # flannel tries each --iface in turn: node2 has ib0, the others fall back to eth0.
            args += ["--iface=ib0", "--iface=eth0"]
        container = {
            "args": args,
            "command": ["/opt/bin/flanneld"],
            "env": [
                {
                    "name": "POD_NAME",
                    "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
                },
                {
                    "name": "POD_NAMESPACE",
                    "valueFrom": {
                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}
                    },
                },
                _env("EVENT_QUEUE_DEPTH", "5000"),
            ],
            "image": FLANNEL_IMAGE,
            "name": "kube-flannel",
            "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
            "securityContext": {
                "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]},
                "privileged": False,
            },
        }
        return (
            "kube-flannel",
            "kube-flannel-ds",
            "kube-flannel",
            FLANNEL_IMAGE,
            {"app": "flannel"},
            container,
        )
    vxlan = plan.layout.overlay
    env = [
        _env("DATASTORE_TYPE", "kubernetes"),
        _env("WAIT_FOR_DATASTORE", "true"),
        {
            "name": "NODENAME",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}},
        },
        {
            "name": "CALICO_NETWORKING_BACKEND",
            "valueFrom": {"configMapKeyRef": {"key": "calico_backend", "name": "calico-config"}},
        },
        _env("CLUSTER_TYPE", "k8s,bgp"),
        _env("IP", "autodetect"),
        _env("CALICO_IPV4POOL_IPIP", "Never"),
        _env("CALICO_IPV4POOL_VXLAN", "Always" if vxlan else "Never"),
        _env("CALICO_IPV6POOL_VXLAN", "Never"),
        {
            "name": "FELIX_IPINIPMTU",
            "valueFrom": {"configMapKeyRef": {"key": "veth_mtu", "name": "calico-config"}},
        },
        {
            "name": "FELIX_VXLANMTU",
            "valueFrom": {"configMapKeyRef": {"key": "veth_mtu", "name": "calico-config"}},
        },
        _env("CALICO_IPV4POOL_CIDR", plan.cluster_cidr),
        _env("CALICO_DISABLE_FILE_LOGGING", "true"),
        _env("FELIX_DEFAULTENDPOINTTOHOSTACTION", "ACCEPT"),
        _env("FELIX_IPV6SUPPORT", "false"),
        _env("FELIX_HEALTHENABLED", "true"),
    ]
    container = {
        "env": env,
        "image": CALICO_IMAGE,
        "name": "calico-node",
        "resources": {"requests": {"cpu": "250m"}},
        "securityContext": {"privileged": True},
    }
    return (
        "kube-system",
        "calico-node",
        "calico-node",
        CALICO_IMAGE,
        {"k8s-app": "calico-node"},
        container,
    )


def _daemonset(
    meta: _Meta, ns: str, name: str, labels: dict[str, str], container: Obj, count: int, sa: str
) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta("DaemonSet", name, ns, labels=labels),
        "spec": {
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": labels},
                "spec": {
                    "containers": [container],
                    "dnsPolicy": "ClusterFirst",
                    "hostNetwork": True,
                    "priorityClassName": "system-node-critical",
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "serviceAccount": sa,
                    "serviceAccountName": sa,
                    "terminationGracePeriodSeconds": 30,
                    "tolerations": [{"effect": "NoSchedule", "operator": "Exists"}],
                },
            },
            "updateStrategy": {
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
                "type": "RollingUpdate",
            },
        },
        "status": {
            "currentNumberScheduled": count,
            "desiredNumberScheduled": count,
            "numberAvailable": count,
            "numberMisscheduled": 0,
            "numberReady": count,
            "observedGeneration": 1,
            "updatedNumberScheduled": count,
        },
    }


def _owner(kind: str, name: str, uid: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "blockOwnerDeletion": True,
        "controller": True,
        "kind": kind,
        "name": name,
        "uid": uid,
    }


def _agents(plan: Plan, meta: _Meta) -> Iterator[tuple[str, Obj]]:
    ns, ds_name, _cname, _image, labels, container = _agent(plan)
    ds = _daemonset(
        meta,
        ns,
        ds_name,
        labels,
        container,
        len(plan.nodes),
        "flannel" if plan.cni == "flannel" else "calico-node",
    )
    yield "daemonsets", ds
    proxy_labels = {"k8s-app": "kube-proxy"}
    proxy_container = {
        "command": [
            "/usr/local/bin/kube-proxy",
            "--config=/var/lib/kube-proxy/config.conf",
            "--hostname-override=$(NODE_NAME)",
        ],
        "image": f"registry.k8s.io/kube-proxy:{K8S_VERSION}",
        "name": "kube-proxy",
        "securityContext": {"privileged": True},
    }
    proxy = _daemonset(
        meta,
        "kube-system",
        "kube-proxy",
        proxy_labels,
        proxy_container,
        len(plan.nodes),
        "kube-proxy",
    )
    yield "daemonsets", proxy
    for node in plan.nodes:
        for d, lab, cont in ((ds, labels, container), (proxy, proxy_labels, proxy_container)):
            name = d["metadata"]["name"]
            pname = f"{name}-{_suffix(plan.name, name, node.name)}"
            yield (
                "pods",
                _pod(
                    meta,
                    name=pname,
                    namespace=d["metadata"]["namespace"],
                    node=node,
                    ip=node.ip,
                    containers=[cont],
                    labels={
                        **lab,
                        "controller-revision-hash": "6c8b5b6f9d",
                        "pod-template-generation": "1",
                    },
                    owner=_owner("DaemonSet", name, d["metadata"]["uid"]),
                    host_network=True,
                    service_account=d["spec"]["template"]["spec"]["serviceAccountName"],
                ),
            )


def _configmaps(plan: Plan, meta: _Meta) -> list[Obj]:
    if plan.cni == "flannel":
        backend = "vxlan" if plan.layout.overlay else "host-gw"
        net_conf = (
            json.dumps({"Network": plan.cluster_cidr, "Backend": {"Type": backend}}, indent=2)
            + "\n"
        )
        return [
            {
                "apiVersion": "v1",
                "data": {"cni-conf.json": FLANNEL_CNI_CONF, "net-conf.json": net_conf},
                "kind": "ConfigMap",
                "metadata": meta(
                    "ConfigMap",
                    "kube-flannel-cfg",
                    "kube-flannel",
                    labels={"app": "flannel", "k8s-app": "flannel", "tier": "node"},
                ),
            }
        ]
    return [
        {
            "apiVersion": "v1",
            "data": {
                "calico_backend": "vxlan" if plan.layout.overlay else "bird",
                "cni_network_config": CALICO_CNI_TEMPLATE,
                "typha_service_name": "none",
                "veth_mtu": "0"
                if plan.pod_mtu == plan.vtep_mtu or not plan.layout.overlay
                else str(plan.pod_mtu),
            },
            "kind": "ConfigMap",
            "metadata": meta("ConfigMap", "calico-config", "kube-system"),
        }
    ]


def _network_policies(plan: Plan, meta: _Meta) -> list[Obj]:
    if plan.policy_pair is None:
        return []
    src, dst = plan.pod(plan.policy_pair[0]), plan.pod(plan.policy_pair[1])
    key = "lab.netdoctor.io/pod"
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("NetworkPolicy", f"deny-{src.name}-to-{dst.name}", "default"),
            "spec": {
                "ingress": [
                    {
                        "from": [
                            {
                                "podSelector": {
                                    "matchExpressions": [
                                        {"key": key, "operator": "NotIn", "values": [src.name]}
                                    ]
                                }
                            }
                        ]
                    }
                ],
                "podSelector": {"matchLabels": {key: dst.name}},
                "policyTypes": ["Ingress"],
            },
        }
    ]


def _kubernetes_service(plan: Plan, meta: _Meta) -> tuple[Obj, Obj]:
    api = plan.nodes[0].ip
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(
            "Service",
            "kubernetes",
            "default",
            labels={"component": "apiserver", "provider": "kubernetes"},
        ),
        "spec": {
            "clusterIP": "10.96.0.1",
            "clusterIPs": ["10.96.0.1"],
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            "sessionAffinity": "None",
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    }
    eps = {
        "addressType": "IPv4",
        "apiVersion": "discovery.k8s.io/v1",
        "endpoints": [
            {
                "addresses": [api],
                "conditions": {"ready": True, "serving": True, "terminating": False},
            }
        ],
        "kind": "EndpointSlice",
        "metadata": meta(
            "EndpointSlice",
            "kubernetes",
            "default",
            labels={"kubernetes.io/service-name": "kubernetes"},
        ),
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    }
    return svc, eps


def kube_objects(plan: Plan, created: str) -> dict[str, Obj]:
    """``k8s/<resource>.json`` for every resource the lab writes, as v1 Lists."""
    meta = _Meta(plan, created)
    out: dict[str, list[Obj]] = {
        "nodes": [_node(plan, n, meta) for n in plan.nodes],
        "pods": [],
        "daemonsets.apps": [],
        "configmaps": _configmaps(plan, meta),
        "networkpolicies.networking.k8s.io": _network_policies(plan, meta),
        "events": [],
    }
    for node in plan.nodes:
        for pod in node.pods:
            out["pods"].append(
                _pod(
                    meta,
                    name=pod.name,
                    namespace="default",
                    node=node,
                    ip=pod.ip,
                    containers=[
                        {
                            "command": ["sleep", "infinity"],
                            "image": POD_IMAGE,
                            "name": "netshoot",
                            # lab up starts a listener on LISTEN_PORT in every pod
                            "ports": [
                                {"containerPort": LISTEN_PORT, "name": "http", "protocol": "TCP"}
                            ],
                        }
                    ],
                    labels={"app": "netdebug", "lab.netdoctor.io/pod": pod.name},
                )
            )
    for kind, obj in _agents(plan, meta):
        out["daemonsets.apps" if kind == "daemonsets" else kind].append(obj)
    svc, eps = _kubernetes_service(plan, meta)
    out["services"] = [svc]
    out["endpointslices.discovery.k8s.io"] = [eps]
    if plan.cni == "calico":
        out["ippools.crd.projectcalico.org"] = [
            {
                "apiVersion": "crd.projectcalico.org/v1",
                "kind": "IPPool",
                "metadata": meta("IPPool", "default-ipv4-ippool"),
                "spec": {
                    "allowedUses": ["Workload", "Tunnel"],
                    "blockSize": 26,
                    "cidr": plan.cluster_cidr,
                    "ipipMode": "Never",
                    "natOutgoing": True,
                    "nodeSelector": "all()",
                    "vxlanMode": "Always" if plan.layout.overlay else "Never",
                },
            }
        ]
    return {k: klist(v) for k, v in out.items()}
