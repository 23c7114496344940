"""Example 2: flannel v0.24 on two VirtualBox VMs that both picked the NAT adapter."""

from __future__ import annotations

import ipaddress
import json

from netdoctor.lab.examples.netns import Link, NodeNet, PodNet
from netdoctor.lab.objects.cluster import RV, Cluster, NodeDef
from netdoctor.lab.objects.configs import (
    COREFILE,
    FLANNEL_CNI_CONF,
    FLANNEL_NET_CONF,
    KUBE_PROXY_CONF_TMPL,
    KUBE_PROXY_KUBECONFIG,
)
from netdoctor.lab.objects.ids import hexid, rs_hash, suffix5
from netdoctor.lab.objects.kube_system import (
    coredns_log,
    coredns_pod,
    kube_proxy_log,
    kube_proxy_pod,
    kube_system_pods,
)
from netdoctor.lab.objects.meta import owner_ref
from netdoctor.lab.objects.nodes import images_for, node_object
from netdoctor.lab.objects.pods import PodDef, pod_object
from netdoctor.lab.objects.services import endpointslice, service
from netdoctor.lab.objects.workloads import (
    configmap,
    event,
    field_env,
    host_path,
    template_of,
    workload,
)
from netdoctor.lab.rules.flannel import flannel_rules
from netdoctor.lab.rules.kube_proxy import SvcPort, kube_proxy_rules
from netdoctor.lab.rules.kubelet import kubelet_rules

FLANNEL_VER = "v0.24.2"
VTEP_MAC = {"k8s-master1": "6e:1f:4b:0a:92:c1", "k8s-node1": "8a:3d:27:e5:50:7b"}
VBOX_MAC = {
    "k8s-master1": ("08:00:27:3a:6b:11", "08:00:27:c4:1d:21"),
    "k8s-node1": ("08:00:27:8e:02:12", "08:00:27:5f:a9:22"),
}


def flannel_cluster() -> Cluster:
    nodes = [
        NodeDef(
            "k8s-master1",
            "192.168.56.101",
            control_plane=True,
            pod_cidr="10.244.0.0/24",
            cpu="2",
            memory_ki=4_015_480,
            os_image="Ubuntu 22.04.4 LTS",
            kernel="5.15.0-97-generic",
        ),
        NodeDef(
            "k8s-node1",
            "192.168.56.102",
            pod_cidr="10.244.1.0/24",
            cpu="2",
            memory_ki=4_015_480,
            os_image="Ubuntu 22.04.4 LTS",
            kernel="5.15.0-97-generic",
        ),
    ]
    c = Cluster(
        name="flannel-virtualbox-nat",
        title="vbox-lab",
        k8s_version="v1.29.1",
        k8s_minor=29,
        collected="2026-02-14T09:30:00Z",
        nodes=nodes,
        node_ip={n.name: n.ip for n in nodes},
        rv=RV(48_200),
        fdb=True,
    )
    c.question = {
        "to": "192.168.56.102",
        "port": "30309/tcp",
        "symptom": "NodePort 30309 times out from the master; cross-node pod traffic times out",
    }
    master = "k8s-master1"
    pods = kube_system_pods(c, master, "10.244.0.0/16", "10.96.0.0/12")
    coredns = [coredns_pod(c, master, f"10.244.0.{i + 2}", i, {}) for i in range(2)]
    pods += coredns
    kp_pods = [kube_proxy_pod(c, n.name) for n in nodes]
    pods += kp_pods
    fl_rev = rs_hash(c.name, "kube-flannel-ds")[:9]
    fl_ct = {
        "args": ["--ip-masq", "--kube-subnet-mgr"],
        "command": ["/opt/bin/flanneld"],
        "env": [
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
            {"name": "EVENT_QUEUE_DEPTH", "value": "5000"},
        ],
        "image": f"docker.io/flannel/flannel:{FLANNEL_VER}",
        "name": "kube-flannel",
        "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
        "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}, "privileged": False},
        "volumeMounts": [
            {"mountPath": "/run/flannel", "name": "run"},
            {"mountPath": "/etc/kube-flannel/", "name": "flannel-cfg"},
            {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
        ],
    }
    fl_init = [
        {
            "args": ["-f", "/flannel", "/opt/cni/bin/flannel"],
            "command": ["cp"],
            "image": "docker.io/flannel/flannel-cni-plugin:v1.4.0-flannel1",
            "name": "install-cni-plugin",
            "volumeMounts": [{"mountPath": "/opt/cni/bin", "name": "cni-plugin"}],
        },
        {
            "args": ["-f", "/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"],
            "command": ["cp"],
            "image": f"docker.io/flannel/flannel:{FLANNEL_VER}",
            "name": "install-cni",
            "volumeMounts": [
                {"mountPath": "/etc/cni/net.d", "name": "cni"},
                {"mountPath": "/etc/kube-flannel/", "name": "flannel-cfg"},
            ],
        },
    ]
    fl_vols = [
        host_path("run", "/run/flannel"),
        host_path("cni-plugin", "/opt/cni/bin"),
        host_path("cni", "/etc/cni/net.d"),
        {"configMap": {"defaultMode": 420, "name": "kube-flannel-cfg"}, "name": "flannel-cfg"},
        host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
    ]
    fl_pods = []
    for n in nodes:
        fl_pods.append(
            PodDef(
                namespace="kube-flannel",
                name=f"kube-flannel-ds-{suffix5(c.name, 'fl', n.name)}",
                node=n.name,
                ip=n.ip,
                containers=[fl_ct],
                init_containers=fl_init,
                labels={
                    "app": "flannel",
                    "controller-revision-hash": fl_rev,
                    "pod-template-generation": "1",
                    "tier": "node",
                },
                owner=owner_ref(c, "apps/v1", "DaemonSet", "kube-flannel-ds", "kube-flannel"),
                host_network=True,
                volumes=fl_vols,
                priority_class="system-node-critical",
                service_account="flannel",
                tolerations=[
                    {"effect": "NoSchedule", "operator": "Exists"},
                    *[
                        {"effect": e, "key": f"node.kubernetes.io/{k}", "operator": "Exists"}
                        for e, k in (
                            ("NoExecute", "not-ready"),
                            ("NoExecute", "unreachable"),
                            ("NoSchedule", "disk-pressure"),
                            ("NoSchedule", "memory-pressure"),
                            ("NoSchedule", "pid-pressure"),
                            ("NoSchedule", "unschedulable"),
                            ("NoSchedule", "network-unavailable"),
                        )
                    ],
                ],
                created="2026-01-20T11:04:50Z",
                started="2026-02-14T08:11:05Z",
                qos="Burstable",
                extra_spec={
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchFields": [
                                            {
                                                "key": "metadata.name",
                                                "operator": "In",
                                                "values": [n.name],
                                            }
                                        ]
                                    }
                                ]
                            }
                        }
                    }
                },
            )
        )
    pods += fl_pods
    nginx_rs = f"nginx-{rs_hash(c.name, 'nginx')}"
    nginx = PodDef(
        namespace="default",
        name=f"{nginx_rs}-{suffix5(c.name, 'nginx')}",
        node="k8s-node1",
        ip="10.244.1.2",
        containers=[
            {
                "image": "nginx:1.25.3",
                "name": "nginx",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
            }
        ],
        labels={"app": "nginx", "pod-template-hash": nginx_rs.rsplit("-", 1)[1]},
        owner=owner_ref(c, "apps/v1", "ReplicaSet", nginx_rs, "default"),
        created="2026-02-13T15:22:09Z",
        started="2026-02-14T08:12:48Z",
    )
    pods.append(nginx)
    pod_objs = [pod_object(c, p) for p in pods]
    pod_objs.sort(key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
    by_name = {o["metadata"]["name"]: o for o in pod_objs}

    node_objs = []
    for n in nodes:
        ann = {
            "flannel.alpha.coreos.com/backend-data": json.dumps(
                {"VNI": 1, "VtepMAC": VTEP_MAC[n.name]}, separators=(",", ":")
            ),
            "flannel.alpha.coreos.com/backend-type": "vxlan",
            "flannel.alpha.coreos.com/kube-subnet-manager": "true",
            "flannel.alpha.coreos.com/public-ip": "10.0.2.15",
            "_reason": "FlannelIsUp",
            "_message": "Flannel is running on this node",
        }
        imgs = [
            f"registry.k8s.io/kube-proxy:{c.k8s_version}",
            "registry.k8s.io/pause:3.9",
            f"docker.io/flannel/flannel:{FLANNEL_VER}",
            "docker.io/flannel/flannel-cni-plugin:v1.4.0-flannel1",
        ]
        if n.control_plane:
            imgs += [
                f"registry.k8s.io/kube-apiserver:{c.k8s_version}",
                f"registry.k8s.io/kube-controller-manager:{c.k8s_version}",
                f"registry.k8s.io/kube-scheduler:{c.k8s_version}",
                "registry.k8s.io/etcd:3.5.10-0",
                "registry.k8s.io/coredns/coredns:v1.11.1",
            ]
        else:
            imgs.append("docker.io/library/nginx:1.25.3")
        obj = node_object(c, n, ann, images_for(imgs))
        node_objs.append(obj)

    kdns_ports = [
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
        {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
    ]
    svc_k = service(
        c,
        "default",
        "kubernetes",
        "10.96.0.1",
        [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        None,
        labels={"component": "apiserver", "provider": "kubernetes"},
        created="2026-01-20T11:01:33Z",
    )
    svc_dns = service(
        c,
        "kube-system",
        "kube-dns",
        "10.96.0.10",
        kdns_ports,
        {"k8s-app": "kube-dns"},
        labels={
            "k8s-app": "kube-dns",
            "kubernetes.io/cluster-service": "true",
            "kubernetes.io/name": "CoreDNS",
        },
        annotations={"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        created="2026-01-20T11:01:35Z",
    )
    svc_ng = service(
        c,
        "default",
        "nginx-svc",
        "10.105.38.214",
        [{"nodePort": 30309, "port": 80, "protocol": "TCP", "targetPort": 80}],
        {"app": "nginx"},
        svc_type="NodePort",
        created="2026-02-13T15:22:10Z",
    )
    eps = [
        endpointslice(
            c,
            svc_k,
            [],
            [{"name": "https", "port": 6443, "protocol": "TCP"}],
            addrs=[c.node_ip[master]],
        ),
        endpointslice(
            c,
            svc_dns,
            [by_name[p.name] for p in coredns],
            [
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "metrics", "port": 9153, "protocol": "TCP"},
            ],
        ),
        endpointslice(
            c, svc_ng, [by_name[nginx.name]], [{"name": "", "port": 80, "protocol": "TCP"}]
        ),
    ]
    eps[0]["metadata"]["labels"] = {"kubernetes.io/service-name": "kubernetes"}
    ds_fl = workload(
        c,
        "DaemonSet",
        "kube-flannel",
        "kube-flannel-ds",
        {"app": "flannel", "k8s-app": "flannel", "tier": "node"},
        {"app": "flannel"},
        template_of(fl_pods[0]),
        2,
        created="2026-01-20T11:04:49Z",
        strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"},
    )
    tpl = ds_fl["spec"]["template"]["spec"]
    tpl["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}
                        ]
                    }
                ]
            }
        }
    }
    tpl["tolerations"] = [{"effect": "NoSchedule", "operator": "Exists"}]
    ds_fl["spec"]["template"]["spec"] = dict(sorted(tpl.items()))
    ds_kp = workload(
        c,
        "DaemonSet",
        "kube-system",
        "kube-proxy",
        {"k8s-app": "kube-proxy"},
        {"k8s-app": "kube-proxy"},
        template_of(kp_pods[0]),
        2,
        created="2026-01-20T11:01:36Z",
    )
    ds_kp["spec"]["template"]["spec"].pop("affinity", None)
    dep_dns = workload(
        c,
        "Deployment",
        "kube-system",
        "coredns",
        {"k8s-app": "kube-dns"},
        {"k8s-app": "kube-dns"},
        template_of(coredns[0]),
        2,
        created="2026-01-20T11:01:36Z",
        strategy={
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
            "type": "RollingUpdate",
        },
    )
    dep_ng = workload(
        c,
        "Deployment",
        "default",
        "nginx",
        {"app": "nginx"},
        {"app": "nginx"},
        template_of(nginx),
        1,
        created="2026-02-13T15:22:09Z",
    )
    cms = [
        configmap(
            c,
            "kube-flannel",
            "kube-flannel-cfg",
            {"cni-conf.json": FLANNEL_CNI_CONF, "net-conf.json": FLANNEL_NET_CONF},
            labels={"app": "flannel", "k8s-app": "flannel", "tier": "node"},
            created="2026-01-20T11:04:49Z",
        ),
        configmap(
            c, "kube-system", "coredns", {"Corefile": COREFILE}, created="2026-01-20T11:01:35Z"
        ),
        configmap(
            c,
            "kube-system",
            "kube-proxy",
            {
                "config.conf": KUBE_PROXY_CONF_TMPL.format(cidr="10.244.0.0/16"),
                "kubeconfig.conf": KUBE_PROXY_KUBECONFIG.format(api=c.node_ip[master]),
            },
            labels={"app": "kube-proxy"},
            created="2026-01-20T11:01:36Z",
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
                    "  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/12\nscheduler: {}\n"
                )
            },
            created="2026-01-20T11:01:34Z",
        ),
    ]
    evs = [
        event(
            c,
            "default",
            "Pod",
            nginx.name,
            "Scheduled",
            f"Successfully assigned default/{nginx.name} to k8s-node1",
            "2026-02-13T15:22:09Z",
            "default-scheduler",
        ),
        event(
            c,
            "default",
            "Pod",
            nginx.name,
            "Pulled",
            'Container image "nginx:1.25.3" already present on machine',
            "2026-02-14T08:12:47Z",
            "kubelet",
            "k8s-node1",
            field_path="spec.containers{nginx}",
        ),
        event(
            c,
            "default",
            "Pod",
            nginx.name,
            "Started",
            "Started container nginx",
            "2026-02-14T08:12:48Z",
            "kubelet",
            "k8s-node1",
            field_path="spec.containers{nginx}",
        ),
    ]
    c.objects = {
        "nodes": node_objs,
        "pods": pod_objs,
        "services": [svc_k, svc_ng, svc_dns],
        "endpointslices.discovery.k8s.io": eps,
        "daemonsets.apps": [ds_fl, ds_kp],
        "deployments.apps": [dep_ng, dep_dns],
        "configmaps": cms,
        "events": evs,
        "networkpolicies.networking.k8s.io": [],
    }
    for n, p in zip(nodes, fl_pods, strict=True):
        c.logs[f"kube-flannel/{p.name}/kube-flannel"] = flannel_log(n, nodes)
    for p in kp_pods:
        c.logs[f"kube-system/{p.name}/kube-proxy"] = kube_proxy_log(c, p.node)
    for p in coredns:
        c.logs[f"kube-system/{p.name}/coredns"] = coredns_log(29)
    c.probes["tcp-master-nodeport-30309"] = {
        "from": {"node": "k8s-master1"},
        "to": {"ip": "192.168.56.102", "port": 30309, "protocol": "TCP"},
        "kind": "tcp",
        "attempts": 3,
        "succeeded": 0,
        "result": "timeout",
        "detail": "curl: (28) Failed to connect to 192.168.56.102 port 30309 after 10001 ms: "
        "Timeout was reached",
        "rttMs": None,
        "at": "2026-02-14T09:31:15Z",
    }

    svcs = [
        SvcPort(
            "default", "kubernetes", "https", "TCP", "10.96.0.1", 443, [(c.node_ip[master], 6443)]
        ),
        SvcPort(
            "kube-system",
            "kube-dns",
            "dns",
            "UDP",
            "10.96.0.10",
            53,
            [("10.244.0.2", 53), ("10.244.0.3", 53)],
        ),
        SvcPort(
            "kube-system",
            "kube-dns",
            "dns-tcp",
            "TCP",
            "10.96.0.10",
            53,
            [("10.244.0.2", 53), ("10.244.0.3", 53)],
        ),
        SvcPort(
            "kube-system",
            "kube-dns",
            "metrics",
            "TCP",
            "10.96.0.10",
            9153,
            [("10.244.0.2", 9153), ("10.244.0.3", 9153)],
        ),
        SvcPort(
            "default",
            "nginx-svc",
            "",
            "TCP",
            "10.105.38.214",
            80,
            [("10.244.1.2", 80)],
            node_port=30309,
        ),
    ]
    for n in nodes:
        other = next(o for o in nodes if o.name != n.name)
        nat_mac, host_mac = VBOX_MAC[n.name]
        sub = n.pod_cidr
        gw = str(ipaddress.ip_network(sub).network_address + 1)
        links = [
            Link("enp0s3", "nic", mac=nat_mac, addrs=["10.0.2.15/24"], pci="0000:00:03.0"),
            Link("enp0s8", "nic", mac=host_mac, addrs=[f"{n.ip}/24"], pci="0000:00:08.0"),
            Link(
                "flannel.1",
                "vxlan",
                mac=VTEP_MAC[n.name],
                mtu=1450,
                addrs=[f"{ipaddress.ip_network(sub).network_address}/32"],
                vxlan=[
                    "id",
                    "1",
                    "local",
                    "10.0.2.15",
                    "dev",
                    "enp0s3",
                    "dstport",
                    "8472",
                    "nolearning",
                ],
            ),
            Link(
                "cni0",
                "bridge",
                mac="b2:4e:" + ":".join(hexid("cni0", n.name)[i : i + 2] for i in range(0, 8, 2)),
                mtu=1450,
                addrs=[f"{gw}/24"],
            ),
        ]
        node_pods = []
        local = [
            o
            for o in pod_objs
            if o["spec"]["nodeName"] == n.name and not o["spec"].get("hostNetwork")
        ]
        for o in local:
            pname = o["metadata"]["name"]
            node_pods.append(
                PodNet(
                    namespace=o["metadata"]["namespace"],
                    name=pname,
                    ip=o["status"]["podIP"],
                    prefixlen=24,
                    host_if="veth" + hexid("veth", pname)[:8],
                    host_mac="4e:"
                    + ":".join(hexid("hm", pname)[i : i + 2] for i in range(0, 10, 2)),
                    pod_mac="0a:"
                    + ":".join(hexid("pm", pname)[i : i + 2] for i in range(0, 10, 2)),
                    mtu=1450,
                    gateway=gw,
                    bridge="cni0",
                    pod_routes=[f"10.244.0.0/16 via {gw} dev eth0", f"default via {gw} dev eth0"],
                    capture=pname == nginx.name,
                )
            )
        osub = other.pod_cidr
        onet = str(ipaddress.ip_network(osub).network_address)
        routes = [
            "default via 10.0.2.2 dev enp0s3 proto dhcp src 10.0.2.15 metric 100",
            "10.0.2.2 dev enp0s3 proto dhcp scope link src 10.0.2.15 metric 100",
            f"{osub} via {onet} dev flannel.1 onlink",
        ]
        neigh = [
            f"{onet} lladdr {VTEP_MAC[other.name]} dev flannel.1 nud permanent",
            "10.0.2.2 lladdr 52:54:00:12:35:02 dev enp0s3 nud stale",
            f"{other.ip} lladdr {VBOX_MAC[other.name][1]} dev enp0s8 nud stale",
            "192.168.56.1 lladdr 0a:00:27:00:00:00 dev enp0s8 nud stale",
        ]
        for pn in node_pods:
            neigh.append(f"{pn.ip} lladdr {pn.pod_mac} dev cni0 nud stale")
        fdb = [f"{VTEP_MAC[other.name]} dev flannel.1 dst 10.0.2.15 self permanent"]
        sysctls = {
            "net.ipv4.ip_forward": "1",
            "net.ipv4.conf.default.rp_filter": "2",
            "net.ipv4.conf.all.rp_filter": "2",
            "net.ipv4.conf.all.route_localnet": "1",
            "net.bridge.bridge-nf-call-iptables": "1",
            "net.bridge.bridge-nf-call-ip6tables": "1",
        }
        ipt = (
            kubelet_rules()
            + kube_proxy_rules(svcs, "10.244.0.0/16")
            + flannel_rules("10.244.0.0/16", sub)
        )
        cni = {"10-flannel.conflist": FLANNEL_CNI_CONF}
        c.nets.append(NodeNet(n.name, links, node_pods, routes, neigh, fdb, sysctls, [], ipt, cni))
    return c


def flannel_log(n: NodeDef, nodes: list[NodeDef]) -> str:
    d = "I0214 08:11:0"
    lines = [
        f"{d}5.212604       1 main.go:210] CLI flags config: {{etcdEndpoints:http://127.0.0.1:"
        "4001,http://127.0.0.1:2379 etcdPrefix:/coreos.com/network etcdKeyfile: etcdCertfile: "
        "etcdCAFile: etcdUsername: etcdPassword: version:false kubeSubnetMgr:true kubeApiUrl: "
        "kubeAnnotationPrefix:flannel.alpha.coreos.com kubeConfigFile: iface:[] ifaceRegex:[] "
        "ipMasq:true ifaceCanReach: subnetFile:/run/flannel/subnet.env publicIP: publicIPv6: "
        "subnetLeaseRenewMargin:60 healthzIP:0.0.0.0 healthzPort:0 iptablesResyncSeconds:5 "
        "iptablesForwardRules:true netConfPath:/etc/kube-flannel/net-conf.json "
        "setNodeNetworkUnavailable:true}",
        "W0214 08:11:05.212781       1 client_config.go:618] Neither --kubeconfig nor --master "
        "was specified.  Using the inClusterConfig.  This might not work.",
        f"{d}5.227306       1 kube.go:139] Waiting 10m0s for node controller to sync",
        f"{d}5.227440       1 kube.go:455] Starting kube subnet manager",
    ]
    for o in nodes:
        lines.append(
            f"{d}5.231874       1 kube.go:476] Creating the node lease for IPv4. "
            f"This is the n.Spec.PodCIDRs: [{o.pod_cidr}]"
        )
    lines += [
        f"{d}6.227593       1 kube.go:146] Node controller sync successful",
        f"{d}6.227621       1 main.go:230] Created subnet manager: Kubernetes Subnet Manager - "
        f"{n.name}",
        f"{d}6.227627       1 main.go:233] Installing signal handlers",
        f"{d}6.227763       1 main.go:542] Found network config - Backend type: vxlan",
        f"{d}6.227789       1 match.go:206] Determining IP address of default interface",
        f"{d}6.228231       1 match.go:259] Using interface with name enp0s3 and address 10.0.2.15",
        f"{d}6.228262       1 match.go:281] Defaulting external address to interface address "
        "(10.0.2.15)",
        f"{d}6.228330       1 vxlan.go:141] VXLAN config: VNI=1 Port=0 GBP=false "
        "Learning=false DirectRouting=false",
        f"{d}6.231017       1 kube.go:621] List of node({n.name}) annotation: "
        'map[string]string{"flannel.alpha.coreos.com/backend-data":"{\\"VNI\\":1,'
        f'\\"VtepMAC\\":\\"{VTEP_MAC[n.name]}\\"}}", '
        '"flannel.alpha.coreos.com/backend-type":"vxlan", '
        '"flannel.alpha.coreos.com/kube-subnet-manager":"true", '
        '"flannel.alpha.coreos.com/public-ip":"10.0.2.15", '
        '"kubeadm.alpha.kubernetes.io/cri-socket":"unix:///var/run/containerd/containerd.sock", '
        '"node.alpha.kubernetes.io/ttl":"0", '
        '"volumes.kubernetes.io/controller-managed-attach-detach":"true"}',
        f"{d}6.231104       1 main.go:355] Setting up masking rules",
        f"{d}6.233617       1 main.go:406] Changing default FORWARD chain policy to ACCEPT",
        f"{d}6.234201       1 iptables.go:290] generated 7 rules",
        f"{d}6.235944       1 main.go:434] Wrote subnet file to /run/flannel/subnet.env",
        f"{d}6.235961       1 main.go:438] Running backend.",
        f"{d}6.236075       1 iptables.go:290] generated 3 rules",
        f"{d}6.236218       1 vxlan_network.go:65] watching for new subnet leases",
        d + "6.236243       1 subnet.go:160] Batch elem [0] is { lease.Event{Type:0, "
        "Lease:lease.Lease{EnableIPv4:true, EnableIPv6:false, Subnet:ip.IP4Net{IP:"
        + ("0xaf40100" if n.name == "k8s-master1" else "0xaf40000")
        + ", PrefixLen:0x18}, IPv6Subnet:ip.IP6Net{IP:(*ip.IP6)(nil), PrefixLen:0x0}, "
        "Attrs:lease.LeaseAttrs{PublicIP:0xa00020f, PublicIPv6:(*ip.IP6)(nil), "
        'BackendType:"vxlan", BackendData:json.RawMessage{0x7b, 0x22, 0x56, 0x4e, 0x49, 0x22, '
        "0x3a, 0x31, 0x7d}, BackendV6Data:json.RawMessage(nil)}, Expiration:time.Date(1, "
        "time.January, 1, 0, 0, 0, 0, time.UTC), Asof:0}} }",
        f"{d}6.236312       1 vxlan_network.go:100] Received Subnet Event with VxLan: "
        "BackendType: vxlan, PublicIP: 10.0.2.15, PublicIPv6: (nil), BackendData: "
        '{"VNI":1,"VtepMAC":"'
        f'{VTEP_MAC[next(o.name for o in nodes if o.name != n.name)]}"}}, BackendV6Data: (nil)',
        f"{d}6.264781       1 main.go:459] Waiting for all goroutines to exit",
        f"{d}6.266702       1 iptables.go:283] bootstrap done",
        f"{d}6.277943       1 iptables.go:283] bootstrap done",
    ]
    return "\n".join(lines) + "\n"
