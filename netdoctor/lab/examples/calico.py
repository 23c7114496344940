"""Examples 1 and 3: the Kubernetes objects and logs of a Calico v3.26 cluster (IPIP), from a plan.

The node networks are built in :mod:`calico_net`; the plans are
examples/plans/calico-ib-autodetect.yaml (calico-node on l20-gpu-05 autodetected its InfiniBand
address) and examples/plans/healthy-calico.yaml.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from netdoctor.lab.examples.calico_logs import (
    CALICO_VER,
    calico_node_log,
    kube_controllers_log,
)
from netdoctor.lab.examples.calico_net import block_first, calico_nets
from netdoctor.lab.examples.plan import ExamplePlan
from netdoctor.lab.objects.cluster import RV, Cluster
from netdoctor.lab.objects.configs import (
    CALICO_CNI_TEMPLATE,
)
from netdoctor.lab.objects.ids import hexid, rs_hash, suffix5, uid
from netdoctor.lab.objects.kube_system import (
    coredns_log,
    coredns_pod,
    kube_proxy_log,
    kube_proxy_pod,
    kube_system_pods,
)
from netdoctor.lab.objects.kubeadm import (
    coredns_deployment,
    kube_proxy_daemonset,
    kubeadm_configmaps,
    kubeadm_endpointslices,
    kubeadm_services,
)
from netdoctor.lab.objects.meta import meta, owner_ref, tolerations_default
from netdoctor.lab.objects.nodes import images_for, node_object
from netdoctor.lab.objects.pods import PodDef, pod_object
from netdoctor.lab.objects.workloads import (
    cm_env,
    configmap,
    event,
    field_env,
    host_path,
    template_of,
    workload,
)

__all__ = ["calico_cluster"]


def calico_cluster(plan: ExamplePlan) -> Cluster:
    """A three-node Calico v3.26 manifest install (IPIP Always, ``IP=autodetect``)."""
    nodes = [n.node_def() for n in plan.nodes]
    c = Cluster(
        name=plan.name,
        title=plan.title,
        k8s_version=plan.kubernetes,
        k8s_minor=plan.k8s_minor,
        collected=plan.collected,
        nodes=nodes,
        node_ip={n.name: n.ip for n in nodes},
        rv=RV(plan.first_resource_version),
    )
    c.question = dict(plan.question)
    calico_addr = {n.name: (n.cni_ip, n.cni_iface) for n in plan.nodes}
    tunnel = {n.name: block_first(n.subnet) for n in plan.nodes}
    pool_cidr = plan.cluster_cidr

    # pods
    master = plan.master
    pods: list[PodDef] = kube_system_pods(c, master, pool_cidr, plan.service_cidr)
    wl_ips = {key: (p.node, p.ip) for key, p in plan.pods.items()}

    def calico_ann(pod: str, ip: str) -> dict[str, str]:
        return {
            "cni.projectcalico.org/containerID": hexid(c.name, "sandbox", pod),
            "cni.projectcalico.org/podIP": f"{ip}/32",
            "cni.projectcalico.org/podIPs": f"{ip}/32",
        }

    coredns = []
    for i in range(2):
        node, ip = wl_ips[f"coredns-{i}"]
        p = coredns_pod(c, node, ip, i, {})
        p.annotations = calico_ann(p.name, ip)
        coredns.append(p)
    pods += coredns
    kcm_rs = f"calico-kube-controllers-{rs_hash(c.name, 'calico-kube-controllers')}"
    kc_node, kc_ip = wl_ips["calico-kube-controllers"]
    kc_name = f"{kcm_rs}-{suffix5(c.name, 'kcm')}"
    kc_ct = {
        "env": [
            {"name": "ENABLED_CONTROLLERS", "value": "node"},
            {"name": "DATASTORE_TYPE", "value": "kubernetes"},
        ],
        "image": f"docker.io/calico/kube-controllers:{CALICO_VER}",
        "livenessProbe": {
            "exec": {"command": ["/usr/bin/check-status", "-l"]},
            "failureThreshold": 6,
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 10,
        },
        "name": "calico-kube-controllers",
        "readinessProbe": {
            "exec": {"command": ["/usr/bin/check-status", "-r"]},
            "failureThreshold": 3,
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 1,
        },
    }
    kc = PodDef(
        namespace="kube-system",
        name=kc_name,
        node=kc_node,
        ip=kc_ip,
        containers=[kc_ct],
        labels={
            "k8s-app": "calico-kube-controllers",
            "pod-template-hash": kcm_rs.rsplit("-", 1)[1],
        },
        owner=owner_ref(c, "apps/v1", "ReplicaSet", kcm_rs, "kube-system"),
        annotations=calico_ann(kc_name, kc_ip),
        priority_class="system-cluster-critical",
        service_account="calico-kube-controllers",
        tolerations=[
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/master"},
            {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"},
            *tolerations_default(),
        ],
        node_selector={"kubernetes.io/os": "linux"},
        created="2026-01-12T03:01:04Z",
        started="2026-02-14T08:12:20Z",
    )
    pods.append(kc)

    calico_env = [
        {"name": "DATASTORE_TYPE", "value": "kubernetes"},
        {"name": "WAIT_FOR_DATASTORE", "value": "true"},
        field_env("NODENAME", "spec.nodeName"),
        cm_env("CALICO_NETWORKING_BACKEND", "calico-config", "calico_backend"),
        {"name": "CLUSTER_TYPE", "value": "k8s,bgp"},
        {"name": "IP", "value": "autodetect"},
        {"name": "CALICO_IPV4POOL_IPIP", "value": "Always"},
        {"name": "CALICO_IPV4POOL_VXLAN", "value": "Never"},
        {"name": "CALICO_IPV6POOL_VXLAN", "value": "Never"},
        cm_env("FELIX_IPINIPMTU", "calico-config", "veth_mtu"),
        cm_env("FELIX_VXLANMTU", "calico-config", "veth_mtu"),
        cm_env("FELIX_WIREGUARDMTU", "calico-config", "veth_mtu"),
        {"name": "CALICO_IPV4POOL_CIDR", "value": pool_cidr},
        {"name": "CALICO_DISABLE_FILE_LOGGING", "value": "true"},
        {"name": "FELIX_DEFAULTENDPOINTTOHOSTACTION", "value": "ACCEPT"},
        {"name": "FELIX_IPV6SUPPORT", "value": "false"},
        {"name": "FELIX_HEALTHENABLED", "value": "true"},
    ]
    ksvc = {"configMapRef": {"name": "kubernetes-services-endpoint", "optional": True}}
    calico_node_ct = {
        "env": calico_env,
        "envFrom": [ksvc],
        "image": f"docker.io/calico/node:{CALICO_VER}",
        "lifecycle": {"preStop": {"exec": {"command": ["/bin/calico-node", "-shutdown"]}}},
        "livenessProbe": {
            "exec": {"command": ["/bin/calico-node", "-felix-live", "-bird-live"]},
            "failureThreshold": 6,
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 10,
        },
        "name": "calico-node",
        "readinessProbe": {
            "exec": {"command": ["/bin/calico-node", "-felix-ready", "-bird-ready"]},
            "failureThreshold": 3,
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 10,
        },
        "resources": {"requests": {"cpu": "250m"}},
        "securityContext": {"privileged": True},
        "volumeMounts": [
            {"mountPath": "/host/etc/cni/net.d", "name": "cni-net-dir"},
            {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True},
            {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
            {"mountPath": "/var/run/calico", "name": "var-run-calico"},
            {"mountPath": "/var/lib/calico", "name": "var-lib-calico"},
            {"mountPath": "/var/run/nodeagent", "name": "policysync"},
            {"mountPath": "/sys/fs/bpf", "name": "bpffs"},
            {"mountPath": "/var/log/calico/cni", "name": "cni-log-dir", "readOnly": True},
        ],
    }
    calico_init: list[dict[str, Any]] = [
        {
            "command": ["/opt/cni/bin/calico-ipam", "-upgrade"],
            "env": [
                field_env("KUBERNETES_NODE_NAME", "spec.nodeName"),
                cm_env("CALICO_NETWORKING_BACKEND", "calico-config", "calico_backend"),
            ],
            "envFrom": [ksvc],
            "image": f"docker.io/calico/cni:{CALICO_VER}",
            "name": "upgrade-ipam",
            "securityContext": {"privileged": True},
            "volumeMounts": [
                {"mountPath": "/var/lib/cni/networks", "name": "host-local-net-dir"},
                {"mountPath": "/host/opt/cni/bin", "name": "cni-bin-dir"},
            ],
        },
        {
            "command": ["/opt/cni/bin/install"],
            "env": [
                {"name": "CNI_CONF_NAME", "value": "10-calico.conflist"},
                cm_env("CNI_NETWORK_CONFIG", "calico-config", "cni_network_config"),
                field_env("KUBERNETES_NODE_NAME", "spec.nodeName"),
                cm_env("CNI_MTU", "calico-config", "veth_mtu"),
                {"name": "SLEEP", "value": "false"},
            ],
            "envFrom": [ksvc],
            "image": f"docker.io/calico/cni:{CALICO_VER}",
            "name": "install-cni",
            "securityContext": {"privileged": True},
            "volumeMounts": [
                {"mountPath": "/host/opt/cni/bin", "name": "cni-bin-dir"},
                {"mountPath": "/host/etc/cni/net.d", "name": "cni-net-dir"},
            ],
        },
        {
            "command": ["calico-node", "-init", "-best-effort"],
            "image": f"docker.io/calico/node:{CALICO_VER}",
            "name": "mount-bpffs",
            "securityContext": {"privileged": True},
            "volumeMounts": [
                {"mountPath": "/sys/fs", "mountPropagation": "Bidirectional", "name": "sys-fs"},
                {
                    "mountPath": "/var/run/calico",
                    "mountPropagation": "Bidirectional",
                    "name": "var-run-calico",
                },
                {"mountPath": "/nodeproc", "name": "nodeproc", "readOnly": True},
            ],
        },
    ]
    calico_vols = [
        host_path("lib-modules", "/lib/modules"),
        host_path("var-run-calico", "/var/run/calico", "DirectoryOrCreate"),
        host_path("var-lib-calico", "/var/lib/calico", "DirectoryOrCreate"),
        host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
        host_path("sys-fs", "/sys/fs/", "DirectoryOrCreate"),
        host_path("bpffs", "/sys/fs/bpf", "Directory"),
        host_path("nodeproc", "/proc"),
        host_path("cni-bin-dir", "/opt/cni/bin", "DirectoryOrCreate"),
        host_path("cni-net-dir", "/etc/cni/net.d"),
        host_path("cni-log-dir", "/var/log/calico/cni"),
        host_path("host-local-net-dir", "/var/lib/cni/networks"),
        host_path("policysync", "/var/run/nodeagent", "DirectoryOrCreate"),
    ]
    calico_tol = [
        {"effect": "NoSchedule", "operator": "Exists"},
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"effect": "NoExecute", "operator": "Exists"},
    ]
    cn_rev = rs_hash(c.name, "calico-node")[:9]
    calico_pods = []
    for n in c.nodes:
        p = PodDef(
            namespace="kube-system",
            name=f"calico-node-{suffix5(c.name, 'calico-node', n.name)}",
            node=n.name,
            ip=n.ip,
            containers=[calico_node_ct],
            init_containers=calico_init,
            labels={
                "controller-revision-hash": cn_rev,
                "k8s-app": "calico-node",
                "pod-template-generation": "1",
            },
            owner=owner_ref(c, "apps/v1", "DaemonSet", "calico-node", "kube-system"),
            host_network=True,
            volumes=calico_vols,
            priority_class="system-node-critical",
            service_account="calico-node",
            tolerations=calico_tol,
            node_selector={"kubernetes.io/os": "linux"},
            created="2026-01-12T03:01:04Z",
            started="2026-02-14T08:12:03Z",
            qos="Burstable",
            extra_spec={"terminationGracePeriodSeconds": 0},
        )
        calico_pods.append(p)
    pods += calico_pods
    kp_pods = [kube_proxy_pod(c, n.name) for n in c.nodes]
    pods += kp_pods
    netshoot_ct = {
        "command": ["sleep", "infinity"],
        "image": "nicolaka/netshoot:v0.12",
        "name": "netshoot",
    }
    for pname in ("netdebug04", "netdebug05"):
        node, ip = wl_ips[pname]
        pods.append(
            PodDef(
                namespace="default",
                name=pname,
                node=node,
                ip=ip,
                containers=[copy.deepcopy(netshoot_ct)],
                labels={"app": "netdebug"},
                annotations=calico_ann(pname, ip),
                created="2026-02-13T06:41:17Z",
                started="2026-02-14T08:12:44Z",
                extra_spec={"nodeSelector": {"kubernetes.io/hostname": node}},
            )
        )
    pod_objs = [pod_object(c, p) for p in pods]
    pod_objs.sort(key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
    by_name = {o["metadata"]["name"]: o for o in pod_objs}

    # nodes
    imgs_common = [
        f"registry.k8s.io/kube-proxy:{c.k8s_version}",
        "registry.k8s.io/pause:3.9",
        f"docker.io/calico/node:{CALICO_VER}",
        f"docker.io/calico/cni:{CALICO_VER}",
    ]
    node_objs = []
    for n in c.nodes:
        addr, _ = calico_addr[n.name]
        ann = {
            "projectcalico.org/IPv4Address": f"{addr}/24",
            "projectcalico.org/IPv4IPIPTunnelAddr": tunnel[n.name],
            "_reason": "CalicoIsUp",
            "_message": "Calico is running on this node",
        }
        imgs = list(imgs_common)
        if n.control_plane:
            imgs += [
                f"registry.k8s.io/kube-apiserver:{c.k8s_version}",
                f"registry.k8s.io/kube-controller-manager:{c.k8s_version}",
                f"registry.k8s.io/kube-scheduler:{c.k8s_version}",
                "registry.k8s.io/etcd:3.5.9-0",
                "registry.k8s.io/coredns/coredns:v1.10.1",
                f"docker.io/calico/kube-controllers:{CALICO_VER}",
            ]
        else:
            imgs += ["nicolaka/netshoot:v0.12", "nvcr.io/nvidia/k8s-device-plugin:v0.14.3"]
        node_objs.append(node_object(c, n, ann, images_for(imgs)))

    # services / endpointslices
    svc_k, svc_dns = kubeadm_services(
        c, plan.service_ip, ("2026-01-12T02:58:33Z", "2026-01-12T02:58:35Z")
    )
    eps = kubeadm_endpointslices(
        c, svc_k, svc_dns, c.node_ip[master], [by_name[p.name] for p in coredns]
    )

    # workloads
    ds_cn = workload(
        c,
        "DaemonSet",
        "kube-system",
        "calico-node",
        {"k8s-app": "calico-node"},
        {"k8s-app": "calico-node"},
        template_of(calico_pods[0]),
        len(c.nodes),
        created="2026-01-12T03:01:03Z",
    )
    ds_kp = kube_proxy_daemonset(c, kp_pods[0], "2026-01-12T02:58:35Z")
    ds_cn["spec"]["template"]["spec"].pop("affinity", None)
    dep_dns = coredns_deployment(c, coredns[0], "2026-01-12T02:58:35Z")
    dep_kc = workload(
        c,
        "Deployment",
        "kube-system",
        "calico-kube-controllers",
        {"k8s-app": "calico-kube-controllers"},
        {"k8s-app": "calico-kube-controllers"},
        template_of(kc),
        1,
        created="2026-01-12T03:01:03Z",
        strategy={"type": "Recreate"},
    )
    # configmaps
    cms = [
        configmap(
            c,
            "kube-system",
            "calico-config",
            {
                "calico_backend": "bird",
                "cni_network_config": CALICO_CNI_TEMPLATE,
                "typha_service_name": "none",
                "veth_mtu": "0",
            },
            created="2026-01-12T03:01:03Z",
        ),
        *kubeadm_configmaps(
            c,
            pool_cidr,
            plan.service_cidr,
            c.node_ip[master],
            ("2026-01-12T02:58:34Z", "2026-01-12T02:58:34Z", "2026-01-12T02:58:34Z"),
        ),
    ]
    # Calico CRDs
    pool = {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "IPPool",
        "metadata": meta(
            c,
            "IPPool",
            "default-ipv4-ippool",
            None,
            "2026-01-12T03:01:31Z",
            annotations={
                "projectcalico.org/metadata": json.dumps(
                    {"uid": uid(c.name, "pool-meta"), "creationTimestamp": "2026-01-12T03:01:31Z"},
                    separators=(",", ":"),
                )
            },
            generation=1,
        ),
        "spec": {
            "allowedUses": ["Workload", "Tunnel"],
            "blockSize": 26,
            "cidr": pool_cidr,
            "ipipMode": "Always",
            "natOutgoing": True,
            "nodeSelector": "all()",
            "vxlanMode": "Never",
        },
    }
    cnodes = []
    for n, nobj in zip(c.nodes, node_objs, strict=True):
        addr, _ = calico_addr[n.name]
        addresses = [
            {"address": f"{addr}/24", "type": "CalicoNodeIP"},
            {"address": n.ip, "type": "InternalIP"},
        ]
        cnodes.append(
            {
                "apiVersion": "crd.projectcalico.org/v1",
                "kind": "Node",
                "metadata": meta(
                    c,
                    "CalicoNode",
                    n.name,
                    None,
                    "2026-01-12T03:01:30Z",
                    labels=nobj["metadata"]["labels"],
                    annotations={
                        "projectcalico.org/kube-labels": json.dumps(
                            nobj["metadata"]["labels"], separators=(",", ":")
                        )
                    },
                    generation=1,
                ),
                "spec": {
                    "addresses": addresses,
                    "bgp": {"ipv4Address": f"{addr}/24", "ipv4IPIPTunnelAddr": tunnel[n.name]},
                    "orchRefs": [{"nodeName": n.name, "orchestrator": "k8s"}],
                },
                "status": {"podCIDRs": [n.pod_cidr]},
            }
        )
    # events
    evs = [
        event(
            c,
            "default",
            "Pod",
            "netdebug04",
            "Scheduled",
            f"Successfully assigned default/netdebug04 to {wl_ips['netdebug04'][0]}",
            "2026-02-13T06:41:17Z",
            "default-scheduler",
        ),
        event(
            c,
            "default",
            "Pod",
            "netdebug05",
            "Scheduled",
            f"Successfully assigned default/netdebug05 to {wl_ips['netdebug05'][0]}",
            "2026-02-13T06:41:17Z",
            "default-scheduler",
        ),
        event(
            c,
            "default",
            "Node",
            "l20-gpu-05",
            "Starting",
            "",
            "2026-02-14T08:10:11Z",
            "kube-proxy",
            "l20-gpu-05",
        ),
        event(
            c,
            "default",
            "Node",
            "l20-gpu-05",
            "RegisteredNode",
            "Node l20-gpu-05 event: Registered Node l20-gpu-05 in Controller",
            "2026-02-14T08:10:20Z",
            "node-controller",
        ),
    ]
    for pname in ("netdebug04", "netdebug05"):
        node = wl_ips[pname][0]
        for reason, msg, ts in (
            (
                "Pulled",
                'Container image "nicolaka/netshoot:v0.12" already present on machine',
                "2026-02-14T08:12:43Z",
            ),
            ("Created", "Created container netshoot", "2026-02-14T08:12:43Z"),
            ("Started", "Started container netshoot", "2026-02-14T08:12:44Z"),
        ):
            evs.append(
                event(
                    c,
                    "default",
                    "Pod",
                    pname,
                    reason,
                    msg,
                    ts,
                    "kubelet",
                    node,
                    field_path="spec.containers{netshoot}",
                )
            )
    evs[2]["involvedObject"].pop("namespace")
    evs[2]["metadata"]["namespace"] = "default"
    c.objects = {
        "nodes": node_objs,
        "pods": pod_objs,
        "services": [svc_k, svc_dns],
        "endpointslices.discovery.k8s.io": eps,
        "daemonsets.apps": [ds_cn, ds_kp],
        "deployments.apps": [dep_kc, dep_dns],
        "configmaps": cms,
        "events": evs,
        "networkpolicies.networking.k8s.io": [],
        "ippools.crd.projectcalico.org": [pool],
        "nodes.crd.projectcalico.org": cnodes,
    }

    # logs
    for n, p in zip(c.nodes, calico_pods, strict=True):
        addr, iface = calico_addr[n.name]
        others = [o for o in c.nodes if o.name != n.name]
        c.logs[f"kube-system/{p.name}/calico-node"] = calico_node_log(
            n.name,
            addr,
            iface,
            tunnel[n.name],
            plan.node(n.name).subnet,
            [calico_addr[o.name][0] for o in others],
            first=n.control_plane,
        )
    for p in kp_pods:
        c.logs[f"kube-system/{p.name}/kube-proxy"] = kube_proxy_log(c, p.node)
    for p in coredns:
        c.logs[f"kube-system/{p.name}/coredns"] = coredns_log(28)
    c.logs[f"kube-system/{kc.name}/calico-kube-controllers"] = kube_controllers_log()

    c.probes = dict(plan.probes)

    # node networks
    workload_pods = {
        "calico-kube-controllers": kc.name,
        "coredns-0": coredns[0].name,
        "coredns-1": coredns[1].name,
    }
    c.nets = calico_nets(plan, workload_pods)
    return c
