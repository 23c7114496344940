"""The objects every kubeadm cluster has, whatever its CNI: Services, slices, kube-proxy, CoreDNS.

Each example passes its own creation times (when ``kubeadm init`` ran on that cluster). Every
function allocates resourceVersions as it goes, so the callers keep the order in which the
objects were created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netdoctor.lab.objects.cluster import Cluster
from netdoctor.lab.objects.configs import COREFILE, KUBE_PROXY_CONF_TMPL, KUBE_PROXY_KUBECONFIG
from netdoctor.lab.objects.pods import PodDef
from netdoctor.lab.objects.services import endpointslice, service
from netdoctor.lab.objects.workloads import configmap, template_of, workload

__all__ = [
    "coredns_deployment",
    "kube_proxy_daemonset",
    "kubeadm_configmaps",
    "kubeadm_endpointslices",
    "kubeadm_services",
]

Obj = dict[str, Any]


def kubeadm_services(
    c: Cluster, service_ip: Callable[[int], str], created: tuple[str, str]
) -> tuple[Obj, Obj]:
    """default/kubernetes and kube-system/kube-dns (the 1st and 10th Service address)."""
    svc_k = service(
        c,
        "default",
        "kubernetes",
        service_ip(1),
        [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        None,
        labels={"component": "apiserver", "provider": "kubernetes"},
        created=created[0],
    )
    svc_dns = service(
        c,
        "kube-system",
        "kube-dns",
        service_ip(10),
        [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
        ],
        {"k8s-app": "kube-dns"},
        labels={
            "k8s-app": "kube-dns",
            "kubernetes.io/cluster-service": "true",
            "kubernetes.io/name": "CoreDNS",
        },
        annotations={"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        created=created[1],
    )
    return svc_k, svc_dns


def kubeadm_endpointslices(
    c: Cluster, svc_k: Obj, svc_dns: Obj, api: str, dns_pods: list[Obj]
) -> list[Obj]:
    """The API server's slice (written by the apiserver, not the controller) and kube-dns's."""
    eps = [
        endpointslice(
            c,
            svc_k,
            [],
            [{"name": "https", "port": 6443, "protocol": "TCP"}],
            addrs=[api],
        ),
        endpointslice(
            c,
            svc_dns,
            dns_pods,
            [
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "metrics", "port": 9153, "protocol": "TCP"},
            ],
        ),
    ]
    eps[0]["metadata"]["labels"] = {"kubernetes.io/service-name": "kubernetes"}
    return eps


def kube_proxy_daemonset(c: Cluster, pod: PodDef, created: str) -> Obj:
    ds = workload(
        c,
        "DaemonSet",
        "kube-system",
        "kube-proxy",
        {"k8s-app": "kube-proxy"},
        {"k8s-app": "kube-proxy"},
        template_of(pod),
        len(c.nodes),
        created=created,
    )
    ds["spec"]["template"]["spec"].pop("affinity", None)
    return ds


def coredns_deployment(c: Cluster, pod: PodDef, created: str) -> Obj:
    return workload(
        c,
        "Deployment",
        "kube-system",
        "coredns",
        {"k8s-app": "kube-dns"},
        {"k8s-app": "kube-dns"},
        template_of(pod),
        2,
        created=created,
        strategy={
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
            "type": "RollingUpdate",
        },
    )


def kubeadm_configmaps(
    c: Cluster,
    pod_cidr: str,
    service_cidr: str,
    api: str,
    created: tuple[str, str, str],
) -> list[Obj]:
    """kube-system's coredns, kube-proxy and kubeadm-config ConfigMaps, created in that order."""
    return [
        configmap(c, "kube-system", "coredns", {"Corefile": COREFILE}, created=created[0]),
        configmap(
            c,
            "kube-system",
            "kube-proxy",
            {
                "config.conf": KUBE_PROXY_CONF_TMPL.format(cidr=pod_cidr),
                "kubeconfig.conf": KUBE_PROXY_KUBECONFIG.format(api=api),
            },
            labels={"app": "kube-proxy"},
            created=created[1],
        ),
        configmap(
            c,
            "kube-system",
            "kubeadm-config",
            {
                "ClusterConfiguration": (
                    "apiServer:\n  extraArgs:\n    authorization-mode: Node,RBAC\n"
                    "  timeoutForControlPlane: 4m0s\napiVersion: kubeadm.k8s.io/v1beta3\n"
                    "certificatesDir: /etc/kubernetes/pki\nclusterName: kubernetes\n"
                    "controllerManager: {}\ndns: {}\netcd:\n  local:\n    dataDir: /var/lib/etcd\n"
                    "imageRepository: registry.k8s.io\nkind: ClusterConfiguration\n"
                    f"kubernetesVersion: {c.k8s_version}\nnetworking:\n  dnsDomain: cluster.local\n"
                    f"  podSubnet: {pod_cidr}\n  serviceSubnet: {service_cidr}\n"
                    "scheduler: {}\n"
                )
            },
            created=created[2],
        ),
    ]
