"""Example 2: flannel v0.24 on two VirtualBox VMs that both picked the NAT adapter, from its plan.

The plan is examples/plans/flannel-virtualbox-nat.yaml; this module adds what kube-flannel.yml
v0.24 and kubeadm v1.29 would have written (objects, logs, flannel.1, cni0, the rules).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from netdoctor.lab.examples.netns import Link, NodeNet, PodNet
from netdoctor.lab.examples.plan import ExamplePlan, NodeSpec
from netdoctor.lab.objects.cluster import RV, Cluster
from netdoctor.lab.objects.configs import (
    FLANNEL_CNI_CONF,
    FLANNEL_NET_CONF,
)
from netdoctor.lab.objects.ids import hexid, rs_hash, suffix5
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
from netdoctor.lab.rules.kube_proxy import SvcPort, kube_proxy_rules, kubeadm_service_ports
from netdoctor.lab.rules.kubelet import kubelet_rules

__all__ = ["FLANNEL_VER", "flannel_cluster", "flannel_log"]

FLANNEL_VER = "v0.24.2"


def flannel_cluster(plan: ExamplePlan) -> Cluster:
    """flannel v0.24 (``--ip-masq --kube-subnet-mgr``, vxlan) on kubeadm, from the plan."""
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
        fdb=True,
    )
    c.question = dict(plan.question)
    cidr = plan.cluster_cidr
    master = plan.master
    pods = kube_system_pods(c, master, cidr, plan.service_cidr)
    coredns = [
        coredns_pod(c, plan.pods[f"coredns-{i}"].node, plan.pods[f"coredns-{i}"].ip, i, {})
        for i in range(2)
    ]
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
        node=plan.pods["nginx"].node,
        ip=plan.pods["nginx"].ip,
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
                {"VNI": 1, "VtepMAC": plan.node(n.name).vtep_mac}, separators=(",", ":")
            ),
            "flannel.alpha.coreos.com/backend-type": "vxlan",
            "flannel.alpha.coreos.com/kube-subnet-manager": "true",
            "flannel.alpha.coreos.com/public-ip": plan.node(n.name).cni_ip,
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

    svc_k, svc_dns = kubeadm_services(
        c, plan.service_ip, ("2026-01-20T11:01:33Z", "2026-01-20T11:01:35Z")
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
        *kubeadm_endpointslices(
            c, svc_k, svc_dns, c.node_ip[master], [by_name[p.name] for p in coredns]
        ),
        endpointslice(
            c, svc_ng, [by_name[nginx.name]], [{"name": "", "port": 80, "protocol": "TCP"}]
        ),
    ]
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
    ds_kp = kube_proxy_daemonset(c, kp_pods[0], "2026-01-20T11:01:36Z")
    dep_dns = coredns_deployment(c, coredns[0], "2026-01-20T11:01:36Z")
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
        *kubeadm_configmaps(
            c,
            cidr,
            plan.service_cidr,
            c.node_ip[master],
            ("2026-01-20T11:01:35Z", "2026-01-20T11:01:36Z", "2026-01-20T11:01:34Z"),
        ),
    ]
    evs = [
        event(
            c,
            "default",
            "Pod",
            nginx.name,
            "Scheduled",
            f"Successfully assigned default/{nginx.name} to {nginx.node}",
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
            nginx.node,
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
            nginx.node,
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
        c.logs[f"kube-flannel/{p.name}/kube-flannel"] = flannel_log(plan.node(n.name), plan.nodes)
    for p in kp_pods:
        c.logs[f"kube-system/{p.name}/kube-proxy"] = kube_proxy_log(c, p.node)
    for p in coredns:
        c.logs[f"kube-system/{p.name}/coredns"] = coredns_log(29)
    c.probes = dict(plan.probes)

    nginx_ip = plan.pods["nginx"].ip
    dns = (plan.pods["coredns-0"].ip, plan.pods["coredns-1"].ip)
    svcs = [
        *kubeadm_service_ports(plan.service_ip, c.node_ip[master], dns),
        SvcPort("default", "nginx-svc", "", "TCP", "10.105.38.214", 80, [(nginx_ip, 80)], 30309),
    ]
    captured = {nginx.name} if plan.pods["nginx"].capture else set()
    c.nets = [_node_net(plan, spec, pod_objs, captured, svcs) for spec in plan.nodes]
    return c


def _node_net(
    plan: ExamplePlan,
    spec: NodeSpec,
    pod_objs: list[dict[str, Any]],
    captured: set[str],
    svcs: list[SvcPort],
) -> NodeNet:
    """flannel.1, cni0, the pods' veths, the peer's route/neighbour/FDB entry, the rules."""
    n = spec
    cidr = plan.cluster_cidr
    other = next(o for o in plan.nodes if o.name != n.name)
    sub = n.pod_cidr
    gw = str(ipaddress.ip_network(sub).network_address + 1)
    links = [lk.link() for lk in n.links]
    links += [
        Link(
            "flannel.1",
            "vxlan",
            mac=n.vtep_mac,
            mtu=1450,
            addrs=[f"{ipaddress.ip_network(sub).network_address}/32"],
            vxlan=[
                "id",
                "1",
                "local",
                n.cni_ip,
                "dev",
                n.cni_iface,
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
        o for o in pod_objs if o["spec"]["nodeName"] == n.name and not o["spec"].get("hostNetwork")
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
                host_mac="4e:" + ":".join(hexid("hm", pname)[i : i + 2] for i in range(0, 10, 2)),
                pod_mac="0a:" + ":".join(hexid("pm", pname)[i : i + 2] for i in range(0, 10, 2)),
                mtu=1450,
                gateway=gw,
                bridge="cni0",
                pod_routes=[f"{cidr} via {gw} dev eth0", f"default via {gw} dev eth0"],
                capture=pname in captured,
            )
        )
    osub = other.pod_cidr
    onet = str(ipaddress.ip_network(osub).network_address)
    routes = [*plan.underlay_routes, f"{osub} via {onet} dev flannel.1 onlink"]
    other_link = other.link_with(other.ip)
    neigh = [
        f"{onet} lladdr {other.vtep_mac} dev flannel.1 nud permanent",
        *plan.underlay_neighbours,
        f"{other.ip} lladdr {other_link.mac} dev {other_link.name} nud stale",
    ]
    for pn in node_pods:
        neigh.append(f"{pn.ip} lladdr {pn.pod_mac} dev cni0 nud stale")
    fdb = [f"{other.vtep_mac} dev flannel.1 dst {other.cni_ip} self permanent"]
    sysctls = {
        "net.ipv4.ip_forward": "1",
        "net.ipv4.conf.default.rp_filter": "2",
        "net.ipv4.conf.all.rp_filter": "2",
        "net.ipv4.conf.all.route_localnet": "1",
        "net.bridge.bridge-nf-call-iptables": "1",
        "net.bridge.bridge-nf-call-ip6tables": "1",
    }
    ipt = kubelet_rules() + kube_proxy_rules(svcs, cidr) + flannel_rules(cidr, sub)
    cni = {"10-flannel.conflist": FLANNEL_CNI_CONF}
    return NodeNet(n.name, links, node_pods, routes, neigh, fdb, sysctls, [], ipt, cni)


def flannel_log(n: NodeSpec, nodes: tuple[NodeSpec, ...]) -> str:
    """kube-flannel's log on node ``n``: it found ``n.cni_iface`` and learnt the peer's lease."""
    d = "I0214 08:11:0"
    peer = next(o for o in nodes if o.name != n.name)
    peer_net = int(ipaddress.ip_network(peer.pod_cidr).network_address)
    peer_ip = int(ipaddress.ip_address(peer.cni_ip))
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
        f"{d}6.228231       1 match.go:259] Using interface with name {n.cni_iface} and address "
        f"{n.cni_ip}",
        f"{d}6.228262       1 match.go:281] Defaulting external address to interface address "
        f"({n.cni_ip})",
        f"{d}6.228330       1 vxlan.go:141] VXLAN config: VNI=1 Port=0 GBP=false "
        "Learning=false DirectRouting=false",
        f"{d}6.231017       1 kube.go:621] List of node({n.name}) annotation: "
        'map[string]string{"flannel.alpha.coreos.com/backend-data":"{\\"VNI\\":1,'
        f'\\"VtepMAC\\":\\"{n.vtep_mac}\\"}}", '
        '"flannel.alpha.coreos.com/backend-type":"vxlan", '
        '"flannel.alpha.coreos.com/kube-subnet-manager":"true", '
        f'"flannel.alpha.coreos.com/public-ip":"{n.cni_ip}", '
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
        + hex(peer_net)
        + ", PrefixLen:0x18}, IPv6Subnet:ip.IP6Net{IP:(*ip.IP6)(nil), PrefixLen:0x0}, "
        f"Attrs:lease.LeaseAttrs{{PublicIP:{hex(peer_ip)}, PublicIPv6:(*ip.IP6)(nil), "
        'BackendType:"vxlan", BackendData:json.RawMessage{0x7b, 0x22, 0x56, 0x4e, 0x49, 0x22, '
        "0x3a, 0x31, 0x7d}, BackendV6Data:json.RawMessage(nil)}, Expiration:time.Date(1, "
        "time.January, 1, 0, 0, 0, 0, time.UTC), Asof:0}} }",
        f"{d}6.236312       1 vxlan_network.go:100] Received Subnet Event with VxLan: "
        f"BackendType: vxlan, PublicIP: {peer.cni_ip}, PublicIPv6: (nil), BackendData: "
        '{"VNI":1,"VtepMAC":"'
        f'{peer.vtep_mac}"}}, BackendV6Data: (nil)',
        f"{d}6.264781       1 main.go:459] Waiting for all goroutines to exit",
        f"{d}6.266702       1 iptables.go:283] bootstrap done",
        f"{d}6.277943       1 iptables.go:283] bootstrap done",
    ]
    return "\n".join(lines) + "\n"
