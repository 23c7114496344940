"""kube-system pods of every kubeadm cluster (control plane, kube-proxy, CoreDNS), their logs."""

from __future__ import annotations

import hashlib

from netdoctor.lab.objects.cluster import Cluster
from netdoctor.lab.objects.configs import COREFILE
from netdoctor.lab.objects.ids import hexid, rs_hash, suffix5, uid
from netdoctor.lab.objects.meta import owner_ref, tolerations_default
from netdoctor.lab.objects.pods import PodDef
from netdoctor.lab.objects.workloads import field_env, host_path

__all__ = ["coredns_log", "coredns_pod", "kube_proxy_log", "kube_proxy_pod", "kube_system_pods"]


def kube_system_pods(c: Cluster, master: str, cidr: str, svc_cidr: str) -> list[PodDef]:
    ver = c.k8s_version
    etcd = "registry.k8s.io/etcd:3.5.9-0" if c.k8s_minor == 28 else "registry.k8s.io/etcd:3.5.10-0"
    mip = c.node_ip[master]
    static_tol = [{"effect": "NoExecute", "operator": "Exists"}]
    cp_labels = {"tier": "control-plane"}
    pods = []

    def static(
        comp: str, image: str, command: list[str], port: int, vols: list[tuple[str, str, str]]
    ) -> PodDef:
        probe = {
            "failureThreshold": 8,
            "httpGet": {
                "host": mip if comp != "etcd" else "127.0.0.1",
                "path": "/livez"
                if comp == "kube-apiserver"
                else (
                    "/health?exclude=NOSPACE&serializable=true" if comp == "etcd" else "/healthz"
                ),
                "port": port,
                "scheme": "HTTP" if comp == "etcd" else "HTTPS",
            },
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "timeoutSeconds": 15,
        }
        ct = {
            "command": command,
            "image": image,
            "livenessProbe": probe,
            "name": comp,
            "resources": {"requests": {"cpu": "250m" if comp == "kube-apiserver" else "200m"}},
            "startupProbe": {**probe, "failureThreshold": 24},
            "volumeMounts": [{"mountPath": p, "name": n, "readOnly": True} for n, p, _ in vols],
        }
        ann = {
            "kubernetes.io/config.hash": hexid(c.name, comp, n=32),
            "kubernetes.io/config.mirror": hexid(c.name, comp, n=32),
            "kubernetes.io/config.seen": "2026-01-12T02:58:22.514231870Z",
            "kubernetes.io/config.source": "file",
        }
        if comp == "kube-apiserver":
            ann["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"] = f"{mip}:6443"
        if comp == "etcd":
            ann["kubeadm.kubernetes.io/etcd.advertise-client-urls"] = f"https://{mip}:2379"
        return PodDef(
            namespace="kube-system",
            name=f"{comp}-{master}",
            node=master,
            ip=mip,
            containers=[ct],
            labels={"component": comp, **cp_labels},
            owner={
                "apiVersion": "v1",
                "controller": True,
                "kind": "Node",
                "name": master,
                "uid": uid(c.name, "Node", "", master),
            },
            annotations=ann,
            host_network=True,
            volumes=[host_path(n, p, t) for n, p, t in vols],
            created="2026-01-12T02:58:31Z",
            started="2026-02-14T08:10:03Z",
            priority_class="system-node-critical",
            tolerations=static_tol,
            static=True,
            qos="Burstable",
            extra_spec={"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
        )

    pki = [
        ("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate"),
        ("etc-ca-certificates", "/etc/ca-certificates", "DirectoryOrCreate"),
        ("k8s-certs", "/etc/kubernetes/pki", "DirectoryOrCreate"),
    ]
    pods.append(
        static(
            "etcd",
            etcd,
            [
                "etcd",
                f"--advertise-client-urls=https://{mip}:2379",
                "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
                "--client-cert-auth=true",
                "--data-dir=/var/lib/etcd",
                "--experimental-initial-corrupt-check=true",
                "--experimental-watch-progress-notify-interval=5s",
                f"--initial-advertise-peer-urls=https://{mip}:2380",
                f"--initial-cluster={master}=https://{mip}:2380",
                "--key-file=/etc/kubernetes/pki/etcd/server.key",
                f"--listen-client-urls=https://127.0.0.1:2379,https://{mip}:2379",
                "--listen-metrics-urls=http://127.0.0.1:2381",
                f"--listen-peer-urls=https://{mip}:2380",
                f"--name={master}",
                "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
                "--peer-client-cert-auth=true",
                "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
                "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
                "--snapshot-count=10000",
                "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
            ],
            2381,
            [
                ("etcd-certs", "/etc/kubernetes/pki/etcd", "DirectoryOrCreate"),
                ("etcd-data", "/var/lib/etcd", "DirectoryOrCreate"),
            ],
        )
    )
    pods.append(
        static(
            "kube-apiserver",
            f"registry.k8s.io/kube-apiserver:{ver}",
            [
                "kube-apiserver",
                f"--advertise-address={mip}",
                "--allow-privileged=true",
                "--authorization-mode=Node,RBAC",
                "--client-ca-file=/etc/kubernetes/pki/ca.crt",
                "--enable-admission-plugins=NodeRestriction",
                "--enable-bootstrap-token-auth=true",
                "--etcd-servers=https://127.0.0.1:2379",
                "--secure-port=6443",
                f"--service-cluster-ip-range={svc_cidr}",
                "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
                "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
            ],
            6443,
            pki,
        )
    )
    pods.append(
        static(
            "kube-controller-manager",
            f"registry.k8s.io/kube-controller-manager:{ver}",
            [
                "kube-controller-manager",
                "--allocate-node-cidrs=true",
                "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
                "--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf",
                "--bind-address=127.0.0.1",
                "--client-ca-file=/etc/kubernetes/pki/ca.crt",
                f"--cluster-cidr={cidr}",
                "--cluster-name=kubernetes",
                "--controllers=*,bootstrapsigner,tokencleaner",
                "--kubeconfig=/etc/kubernetes/controller-manager.conf",
                "--leader-elect=true",
                f"--service-cluster-ip-range={svc_cidr}",
                "--use-service-account-credentials=true",
            ],
            10257,
            pki,
        )
    )
    pods[-1].containers[0]["livenessProbe"]["httpGet"]["host"] = "127.0.0.1"
    pods.append(
        static(
            "kube-scheduler",
            f"registry.k8s.io/kube-scheduler:{ver}",
            [
                "kube-scheduler",
                "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
                "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf",
                "--bind-address=127.0.0.1",
                "--kubeconfig=/etc/kubernetes/scheduler.conf",
                "--leader-elect=true",
            ],
            10259,
            [("kubeconfig", "/etc/kubernetes/scheduler.conf", "FileOrCreate")],
        )
    )
    pods[-1].containers[0]["livenessProbe"]["httpGet"]["host"] = "127.0.0.1"
    return pods


def kube_proxy_pod(c: Cluster, node: str) -> PodDef:
    ct = {
        "command": [
            "/usr/local/bin/kube-proxy",
            "--config=/var/lib/kube-proxy/config.conf",
            "--hostname-override=$(NODE_NAME)",
        ],
        "env": [field_env("NODE_NAME", "spec.nodeName")],
        "image": f"registry.k8s.io/kube-proxy:{c.k8s_version}",
        "name": "kube-proxy",
        "securityContext": {"privileged": True},
        "volumeMounts": [
            {"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"},
            {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
            {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True},
        ],
    }
    rev = rs_hash(c.name, "kube-proxy")[:9]
    return PodDef(
        namespace="kube-system",
        name=f"kube-proxy-{suffix5(c.name, 'kube-proxy', node)}",
        node=node,
        ip=c.node_ip[node],
        containers=[ct],
        labels={
            "controller-revision-hash": rev,
            "k8s-app": "kube-proxy",
            "pod-template-generation": "1",
        },
        owner=owner_ref(c, "apps/v1", "DaemonSet", "kube-proxy", "kube-system"),
        host_network=True,
        volumes=[
            {"configMap": {"defaultMode": 420, "name": "kube-proxy"}, "name": "kube-proxy"},
            host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
            host_path("lib-modules", "/lib/modules"),
        ],
        priority_class="system-node-critical",
        service_account="kube-proxy",
        tolerations=[
            {"operator": "Exists"},
            *[
                {"effect": "NoExecute", "key": f"node.kubernetes.io/{k}", "operator": "Exists"}
                for k in ("not-ready", "unreachable")
            ],
            *[
                {"effect": "NoSchedule", "key": f"node.kubernetes.io/{k}", "operator": "Exists"}
                for k in (
                    "disk-pressure",
                    "memory-pressure",
                    "pid-pressure",
                    "unschedulable",
                    "network-unavailable",
                )
            ],
        ],
        node_selector={"kubernetes.io/os": "linux"},
        created="2026-01-12T02:58:40Z",
        started="2026-02-14T08:10:12Z",
        extra_spec={
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchFields": [
                                    {"key": "metadata.name", "operator": "In", "values": [node]}
                                ]
                            }
                        ]
                    }
                }
            }
        },
    )


def coredns_pod(c: Cluster, node: str, ip: str, i: int, ann: dict[str, str]) -> PodDef:
    img = (
        "registry.k8s.io/coredns/coredns:v1.10.1"
        if c.k8s_minor == 28
        else ("registry.k8s.io/coredns/coredns:v1.11.1")
    )
    rs = "5dd5756b68" if c.k8s_minor == 28 else "76f75df574"
    ct = {
        "args": ["-conf", "/etc/coredns/Corefile"],
        "image": img,
        "livenessProbe": {
            "failureThreshold": 5,
            "httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
            "initialDelaySeconds": 60,
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 5,
        },
        "name": "coredns",
        "ports": [
            {"containerPort": 53, "name": "dns", "protocol": "UDP"},
            {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
            {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
        ],
        "readinessProbe": {
            "failureThreshold": 3,
            "httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"},
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 1,
        },
        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["all"]},
            "readOnlyRootFilesystem": True,
        },
        "volumeMounts": [{"mountPath": "/etc/coredns", "name": "config-volume", "readOnly": True}],
    }
    return PodDef(
        namespace="kube-system",
        name=f"coredns-{rs}-{suffix5(c.name, 'coredns', str(i))}",
        node=node,
        ip=ip,
        containers=[ct],
        labels={"k8s-app": "kube-dns", "pod-template-hash": rs},
        owner=owner_ref(c, "apps/v1", "ReplicaSet", f"coredns-{rs}", "kube-system"),
        annotations=ann,
        volumes=[
            {
                "configMap": {
                    "defaultMode": 420,
                    "items": [{"key": "Corefile", "path": "Corefile"}],
                    "name": "coredns",
                },
                "name": "config-volume",
            }
        ],
        priority_class="system-cluster-critical",
        service_account="coredns",
        tolerations=[
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"},
            *tolerations_default(),
        ],
        node_selector={"kubernetes.io/os": "linux"},
        created="2026-01-12T02:58:40Z",
        started="2026-02-14T08:12:31Z",
        qos="Burstable",
        extra_spec={
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "podAffinityTerm": {
                                "labelSelector": {
                                    "matchExpressions": [
                                        {"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}
                                    ]
                                },
                                "topologyKey": "kubernetes.io/hostname",
                            },
                            "weight": 100,
                        }
                    ]
                }
            }
        },
    )


def kube_proxy_log(c: Cluster, node: str) -> str:
    ip = c.node_ip[node]
    p = "I0214 08:10:12."
    return (
        "\n".join(
            [
                f'{p}384517       1 server_others.go:69] "Using iptables proxy"',
                f"{p}401332       1 node.go:141] Successfully retrieved node IP: {ip}",
                f'{p}404127       1 conntrack.go:52] "Setting nf_conntrack_max" '
                "nfConntrackMax=2097152",
                f'{p}436015       1 server.go:632] "kube-proxy running in dual-stack mode" '
                'primary ipFamily="IPv4"',
                f'{p}443761       1 server_others.go:152] "Using iptables Proxier"',
                f'{p}443795       1 server_others.go:421] "Detect-local-mode set to '
                "ClusterCIDR, but no IPv6 cluster CIDR defined, defaulting to no-op "
                'detect-local for IPv6"',
                f'{p}443811       1 proxier.go:251] "Setting route_localnet=1 to allow '
                "node-ports on localhost; to change this either disable "
                "iptables.localhostNodePorts (--iptables-localhost-nodeports) or set "
                'nodePortAddresses (--nodeport-addresses) to filter loopback addresses"',
                f'{p}444402       1 server.go:846] "Version info" version="{c.k8s_version}"',
                f'{p}444421       1 server.go:848] "Golang settings" GOGC="" '
                'GOMAXPROCS="" GOTRACEBACK=""',
                f'{p}446025       1 config.go:188] "Starting service config controller"',
                f"{p}446061       1 shared_informer.go:311] Waiting for caches to sync for "
                "service config",
                f'{p}446094       1 config.go:97] "Starting endpoint slice config controller"',
                f"{p}446103       1 shared_informer.go:311] Waiting for caches to sync for "
                "endpoint slice config",
                f'{p}446665       1 config.go:315] "Starting node config controller"',
                f"{p}446676       1 shared_informer.go:311] Waiting for caches to sync for "
                "node config",
                f"{p}547009       1 shared_informer.go:318] Caches are synced for node config",
                f"{p}547052       1 shared_informer.go:318] Caches are synced for service config",
                f"{p}547120       1 shared_informer.go:318] Caches are synced for endpoint "
                "slice config",
            ]
        )
        + "\n"
    )


def coredns_log(minor: int) -> str:
    if minor == 28:
        ver = "CoreDNS-1.10.1\nlinux/amd64, go1.20, 055b2c3"
    else:
        ver = "CoreDNS-1.11.1\nlinux/amd64, go1.20.7, ae2bbc2"
    sha = hashlib.sha512(COREFILE.encode()).hexdigest()
    return f".:53\n[INFO] plugin/reload: Running configuration SHA512 = {sha}\n{ver}\n"
