"""Node objects (as kubelet registers them) and the version endpoint."""

from __future__ import annotations

from typing import Any

from netdoctor.lab.objects.cluster import Cluster, NodeDef
from netdoctor.lab.objects.ids import hexid, uid
from netdoctor.lab.objects.meta import meta
from netdoctor.lab.objects.pods import image_id

__all__ = ["images_for", "k8s_version", "node_object"]


def node_object(
    c: Cluster, n: NodeDef, cni_ann: dict[str, str], images: list[Any]
) -> dict[str, Any]:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": n.name,
        "kubernetes.io/os": "linux",
    }
    if n.control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    if n.gpus:
        labels["nvidia.com/gpu.present"] = "true"
        labels["nvidia.com/gpu.product"] = "NVIDIA-L20"
    ann = {
        "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        **cni_ann,
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    ann = dict(sorted(ann.items()))
    spec: dict[str, Any] = {"podCIDR": n.pod_cidr, "podCIDRs": [n.pod_cidr]}
    if n.control_plane:
        spec["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
    cap = {
        "cpu": n.cpu,
        "ephemeral-storage": "921716556Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{n.memory_ki}Ki",
        "pods": "110",
    }
    alloc = dict(cap)
    alloc["ephemeral-storage"] = "849452384739"
    alloc["memory"] = f"{n.memory_ki - 102400}Ki"
    if n.gpus:
        cap["nvidia.com/gpu"] = alloc["nvidia.com/gpu"] = str(n.gpus)
    hb = "2026-02-14T09:28:41Z"
    created = "2026-01-12T02:58:30Z"
    net_reason = cni_ann.get("_reason", "")
    conds = []
    if net_reason:
        conds.append(
            {
                "lastHeartbeatTime": "2026-02-14T08:12:05Z",
                "lastTransitionTime": "2026-02-14T08:12:05Z",
                "message": cni_ann["_message"],
                "reason": net_reason,
                "status": "False",
                "type": "NetworkUnavailable",
            }
        )
    conds += [
        {
            "lastHeartbeatTime": hb,
            "lastTransitionTime": created,
            "message": "kubelet has sufficient memory available",
            "reason": "KubeletHasSufficientMemory",
            "status": "False",
            "type": "MemoryPressure",
        },
        {
            "lastHeartbeatTime": hb,
            "lastTransitionTime": created,
            "message": "kubelet has no disk pressure",
            "reason": "KubeletHasNoDiskPressure",
            "status": "False",
            "type": "DiskPressure",
        },
        {
            "lastHeartbeatTime": hb,
            "lastTransitionTime": created,
            "message": "kubelet has sufficient PID available",
            "reason": "KubeletHasSufficientPID",
            "status": "False",
            "type": "PIDPressure",
        },
        {
            "lastHeartbeatTime": hb,
            "lastTransitionTime": "2026-02-14T08:11:52Z",
            "message": "kubelet is posting ready status"
            + (". AppArmor enabled" if c.k8s_minor < 29 else ""),
            "reason": "KubeletReady",
            "status": "True",
            "type": "Ready",
        },
    ]
    for k in ("_reason", "_message"):
        ann.pop(k, None)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(c, "Node", n.name, None, created, labels=labels, annotations=ann),
        "spec": spec,
        "status": {
            "addresses": [
                {"address": n.ip, "type": "InternalIP"},
                {"address": n.name, "type": "Hostname"},
            ],
            "allocatable": alloc,
            "capacity": cap,
            "conditions": conds,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": images,
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": uid(c.name, "boot", n.name),
                "containerRuntimeVersion": "containerd://1.7.12",
                "kernelVersion": n.kernel,
                "kubeProxyVersion": c.k8s_version,
                "kubeletVersion": c.k8s_version,
                "machineID": hexid(c.name, "machine", n.name, n=32),
                "operatingSystem": "linux",
                "osImage": n.os_image,
                "systemUUID": uid(c.name, "system", n.name),
            },
        },
    }


def images_for(names: list[str]) -> list[dict[str, Any]]:
    sizes = {
        "calico/node": 86_590_312,
        "calico/cni": 93_371_554,
        "calico/kube-controllers": 32_771_315,
        "nicolaka/netshoot": 184_813_401,
        "kube-proxy": 28_628_108,
        "coredns": 16_190_758,
        "etcd": 102_894_559,
        "kube-apiserver": 34_676_003,
        "kube-controller-manager": 33_425_402,
        "kube-scheduler": 18_519_221,
        "pause": 321_520,
        "flannel/flannel": 30_497_914,
        "flannel/flannel-cni-plugin": 4_867_734,
        "nginx": 70_544_635,
        "nvidia/k8s-device-plugin": 148_120_377,
    }
    out: list[dict[str, Any]] = []
    for img in names:
        repo = img.rsplit(":", 1)[0]
        short = next((k for k in sizes if repo.endswith(k)), "")
        out.append({"names": [image_id(img), img], "sizeBytes": sizes.get(short, 50_000_000)})
    out.sort(key=lambda i: -i["sizeBytes"])
    return out


def k8s_version(minor: int) -> dict[str, Any]:
    if minor == 28:
        git, commit, build, go = (
            "v1.28.6",
            "be3af46a4654bdf05b4838fe94e95ec8c165660c",
            "2024-01-17T13:39:00Z",
            "go1.20.13",
        )
    else:
        git, commit, build, go = (
            "v1.29.1",
            "bc401b91f2782410b3fb3f9acf43a995c4de90d2",
            "2024-01-17T13:38:41Z",
            "go1.21.6",
        )
    block = {
        "major": "1",
        "minor": str(minor),
        "gitVersion": git,
        "gitCommit": commit,
        "gitTreeState": "clean",
        "buildDate": build,
        "goVersion": go,
        "compiler": "gc",
        "platform": "linux/amd64",
    }
    return {
        "clientVersion": block,
        "kustomizeVersion": "v5.0.4-0.20230601165947-6ce0bf390ce3",
        "serverVersion": block,
    }
