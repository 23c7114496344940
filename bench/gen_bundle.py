"""Write a large synthetic Calico bundle for benchmarks.

    python bench/gen_bundle.py OUT --nodes 1000 --pods 30000 [--seed 1]

Deterministic for a given seed. Kubernetes objects are shaped like ``kubectl get -A -o json``
items of realistic size; node facts are templated from the real command output captured for
``examples/healthy-calico`` (run ``scripts/make-examples`` first), so the JSON shapes match what
``ip``/``sysctl``/``iptables-save`` print. The templated iptables-save keeps the example's
kube-proxy part (a few Services) plus one Felix chain pair per local workload, so it is a few
hundred lines, not a full 300-Service kube-proxy ruleset.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import ipaddress
import json
import random
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "examples" / "healthy-calico"
TPL_NODE = "l20-gpu-04"
TPL_CALI = "cali106e175b7d0"  # the netdebug04 veth in the template node
UID_NS = uuid.UUID("0c8f0d4e-3a51-4f7e-9d5c-3e2b1a0f9e77")
POOL = ipaddress.ip_network("10.128.0.0/12")
NODE_NET = ipaddress.ip_network("10.64.0.0/16")
N_SERVICES = 300
N_NAMESPACES = 30
SLICE_MAX = 100
MANAGED_BY = "endpointslice-controller.k8s.io"


def uid(*parts: object) -> str:
    return str(uuid.uuid5(UID_NS, "/".join(map(str, parts))))


def hx(*parts: object, n: int = 64) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:n]


def cali(ns: str, pod: str) -> str:
    return "cali" + hashlib.sha1(f"{ns}.{pod}".encode()).hexdigest()[:11]


def dump(path: Path, data: Any) -> int:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    path.write_text(text)
    return len(text.encode())


def klist(items: list[Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def load_templates() -> dict[str, Any]:
    if not (TEMPLATE / "nodes" / TPL_NODE).is_dir():
        sys.exit(f"gen_bundle: {TEMPLATE} is missing; run scripts/make-examples first")
    d = TEMPLATE / "nodes" / TPL_NODE
    t: dict[str, Any] = {
        "addr": json.loads((d / "ip-addr.json").read_text()),
        "route": json.loads((d / "ip-route.json").read_text()),
        "rule": json.loads((d / "ip-rule.json").read_text()),
        "neigh": json.loads((d / "ip-neigh.json").read_text()),
        "sysctl": (d / "sysctl.txt").read_text().splitlines(),
        "ipt": (d / "iptables-save.txt").read_text().splitlines(),
        "cni": {p.name: p.read_text() for p in sorted((d / "cni").iterdir())},
    }
    k = TEMPLATE / "k8s"
    for name in (
        "nodes",
        "pods",
        "services",
        "configmaps",
        "ippools.crd.projectcalico.org",
        "endpointslices.discovery.k8s.io",
    ):
        t[name] = json.loads((k / f"{name}.json").read_text())["items"]
    t["daemonsets"] = json.loads((k / "daemonsets.apps.json").read_text())["items"]
    t["deployments"] = json.loads((k / "deployments.apps.json").read_text())["items"]
    t["cnodes"] = json.loads((k / "nodes.crd.projectcalico.org.json").read_text())["items"]
    t["version"] = json.loads((k / "version.json").read_text())
    return t


class Gen:
    def __init__(self, out: Path, nodes: int, pods: int, seed: int, tpl: dict[str, Any]) -> None:
        self.out, self.n_nodes, self.n_pods, self.tpl = out, nodes, pods, tpl
        self.rng = random.Random(seed)
        self.seed = seed
        self.bytes = 0
        self.rv = 5_000_000
        self.nodes = [f"worker-{i:04d}" for i in range(nodes)]
        hosts = NODE_NET.hosts()
        next(hosts)  # .1 is the gateway
        self.node_ip = {n: str(next(hosts)) for n in self.nodes}
        blocks = POOL.subnets(new_prefix=26)
        self.block = {n: next(blocks) for n in self.nodes}
        self.pods_on: dict[str, list[tuple[str, str, str]]] = {n: [] for n in self.nodes}

    def next_rv(self) -> str:
        self.rv += 3
        return str(self.rv)

    def write(self, rel: str, data: Any) -> None:
        p = self.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        self.bytes += dump(p, data)

    def write_text(self, rel: str, text: str) -> None:
        p = self.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        self.bytes += len(text.encode())

    # --- Kubernetes objects ----------------------------------------------------------------

    def node_objects(self) -> list[dict[str, Any]]:
        base = next(n for n in self.tpl["nodes"] if n["metadata"]["name"] == TPL_NODE)
        images = [
            {
                "names": [
                    f"registry.example.com/team-{i % 17}/svc-{i}@sha256:{hx('img', i)}",
                    f"registry.example.com/team-{i % 17}/svc-{i}:v1.{i % 9}.{i % 5}",
                ],
                "sizeBytes": 20_000_000 + i * 7_919_111 % 400_000_000,
            }
            for i in range(24)
        ]
        out = []
        for i, name in enumerate(self.nodes):
            n = copy.deepcopy(base)
            md = n["metadata"]
            md["name"] = name
            md["uid"] = uid("node", name)
            md["resourceVersion"] = self.next_rv()
            md["labels"]["kubernetes.io/hostname"] = name
            md["labels"]["topology.kubernetes.io/zone"] = f"zone-{i % 3}"
            md["labels"]["node.kubernetes.io/instance-type"] = "gpu-8x-l20"
            ann = md["annotations"]
            ann["projectcalico.org/IPv4Address"] = f"{self.node_ip[name]}/16"
            ann["projectcalico.org/IPv4IPIPTunnelAddr"] = str(self.block[name][0])
            ann["csi.volume.kubernetes.io/nodeid"] = json.dumps(
                {"rbd.csi.ceph.com": name, "cephfs.csi.ceph.com": name}
            )
            ann["nfd.node.kubernetes.io/feature-labels"] = ",".join(
                f"cpu-cpuid.{f}" for f in ("AVX", "AVX2", "AVX512F", "AMXBF16", "FMA3", "VAES")
            )
            cidr = f"10.{32 + i // 256}.{i % 256}.0/24"
            n["spec"] = {"podCIDR": cidr, "podCIDRs": [cidr]}
            st = n["status"]
            st["addresses"] = [
                {"address": self.node_ip[name], "type": "InternalIP"},
                {"address": name, "type": "Hostname"},
            ]
            st["images"] = st["images"] + images
            st["nodeInfo"]["bootID"] = uid("boot", name)
            st["nodeInfo"]["machineID"] = hx("machine", name, n=32)
            st["nodeInfo"]["systemUUID"] = uid("sys", name)
            out.append(n)
        return out

    def app_pod(self, ns: str, app: int, idx: int, node: str, ip: str) -> dict[str, Any]:
        rng = self.rng
        rs = hx("rs", ns, app, n=10)
        name = f"app-{app:03d}-{rs}-{hx('pod', idx, n=5)}"
        containers = []
        statuses = []
        for ci in range(rng.choice((1, 1, 2, 3))):
            cname = "main" if ci == 0 else f"sidecar-{ci}"
            image = f"registry.example.com/team-{app % 17}/app-{app}:v2.{app % 7}.{ci}"
            env = [
                {"name": f"APP_SETTING_{k}", "value": f"value-{hx(app, k, n=12)}"}
                for k in range(rng.randint(6, 12))
            ]
            env.append(
                {
                    "name": "POD_IP",
                    "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
                }
            )
            containers.append(
                {
                    "env": env,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "livenessProbe": {
                        "failureThreshold": 3,
                        "httpGet": {"path": "/healthz", "port": 8080 + ci, "scheme": "HTTP"},
                        "initialDelaySeconds": 15,
                        "periodSeconds": 10,
                        "successThreshold": 1,
                        "timeoutSeconds": 2,
                    },
                    "name": cname,
                    "ports": [
                        {"containerPort": 8080 + ci, "name": f"http-{ci}", "protocol": "TCP"},
                        {"containerPort": 9090 + ci, "name": f"metrics-{ci}", "protocol": "TCP"},
                    ],
                    "readinessProbe": {
                        "failureThreshold": 3,
                        "httpGet": {"path": "/ready", "port": 8080 + ci, "scheme": "HTTP"},
                        "periodSeconds": 5,
                        "successThreshold": 1,
                        "timeoutSeconds": 1,
                    },
                    "resources": {
                        "limits": {"cpu": "2", "memory": "2Gi"},
                        "requests": {"cpu": "250m", "memory": "512Mi"},
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "volumeMounts": [
                        {"mountPath": "/etc/app", "name": "config", "readOnly": True},
                        {"mountPath": "/var/cache/app", "name": "cache"},
                        {
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                            "name": f"kube-api-access-{hx('sa', idx, n=5)}",
                            "readOnly": True,
                        },
                    ],
                }
            )
            statuses.append(
                {
                    "containerID": f"containerd://{hx('c', idx, ci)}",
                    "image": image,
                    "imageID": f"{image.rsplit(':', 1)[0]}@sha256:{hx('i', image)}",
                    "lastState": {},
                    "name": cname,
                    "ready": True,
                    "restartCount": 0,
                    "started": True,
                    "state": {"running": {"startedAt": "2026-02-10T04:12:33Z"}},
                }
            )
        ts = "2026-02-10T04:12:30Z"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "annotations": {
                    "cni.projectcalico.org/containerID": hx("sandbox", idx),
                    "cni.projectcalico.org/podIP": f"{ip}/32",
                    "cni.projectcalico.org/podIPs": f"{ip}/32",
                    "kubectl.kubernetes.io/restartedAt": "2026-02-09T22:01:07+08:00",
                    "prometheus.io/port": "9090",
                    "prometheus.io/scrape": "true",
                },
                "creationTimestamp": ts,
                "generateName": f"app-{app:03d}-{rs}-",
                "labels": {
                    "app": f"app-{app:03d}",
                    "app.kubernetes.io/part-of": f"product-{app % 23}",
                    "pod-template-hash": rs,
                    "version": f"v2.{app % 7}",
                },
                "name": name,
                "namespace": ns,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "blockOwnerDeletion": True,
                        "controller": True,
                        "kind": "ReplicaSet",
                        "name": f"app-{app:03d}-{rs}",
                        "uid": uid("rs", ns, app),
                    }
                ],
                "resourceVersion": self.next_rv(),
                "uid": uid("pod", ns, name),
            },
            "spec": {
                "containers": containers,
                "dnsPolicy": "ClusterFirst",
                "enableServiceLinks": True,
                "nodeName": node,
                "preemptionPolicy": "PreemptLowerPriority",
                "priority": 0,
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "serviceAccount": "default",
                "serviceAccountName": "default",
                "terminationGracePeriodSeconds": 30,
                "tolerations": [
                    {
                        "effect": "NoExecute",
                        "key": "node.kubernetes.io/not-ready",
                        "operator": "Exists",
                        "tolerationSeconds": 300,
                    },
                    {
                        "effect": "NoExecute",
                        "key": "node.kubernetes.io/unreachable",
                        "operator": "Exists",
                        "tolerationSeconds": 300,
                    },
                ],
                "volumes": [
                    {
                        "configMap": {"defaultMode": 420, "name": f"app-{app:03d}-config"},
                        "name": "config",
                    },
                    {"emptyDir": {}, "name": "cache"},
                    {
                        "name": f"kube-api-access-{hx('sa', idx, n=5)}",
                        "projected": {
                            "defaultMode": 420,
                            "sources": [
                                {
                                    "serviceAccountToken": {
                                        "expirationSeconds": 3607,
                                        "path": "token",
                                    }
                                },
                                {
                                    "configMap": {
                                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                        "name": "kube-root-ca.crt",
                                    }
                                },
                            ],
                        },
                    },
                ],
            },
            "status": {
                "conditions": [
                    {"lastProbeTime": None, "lastTransitionTime": ts, "status": "True", "type": t}
                    for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
                ],
                "containerStatuses": statuses,
                "hostIP": self.node_ip[node],
                "phase": "Running",
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "qosClass": "Burstable",
                "startTime": ts,
            },
        }

    def agent_pods(self) -> list[dict[str, Any]]:
        out = []
        tpls = {
            p["metadata"]["name"].rsplit("-", 1)[0]: p
            for p in self.tpl["pods"]
            if p["spec"].get("nodeName") == TPL_NODE and p["spec"].get("hostNetwork")
        }
        for name in self.nodes:
            for prefix, tp in tpls.items():
                p = copy.deepcopy(tp)
                pname = f"{prefix}-{hx(prefix, name, n=5)}"
                p["metadata"]["name"] = pname
                p["metadata"]["uid"] = uid("pod", "kube-system", pname)
                p["metadata"]["resourceVersion"] = self.next_rv()
                p["spec"]["nodeName"] = name
                ip = self.node_ip[name]
                p["status"].update(hostIP=ip, podIP=ip, podIPs=[{"ip": ip}])
                aff = p["spec"].get("affinity", {}).get("nodeAffinity")
                if aff:
                    terms = aff["requiredDuringSchedulingIgnoredDuringExecution"][
                        "nodeSelectorTerms"
                    ]
                    terms[0]["matchFields"][0]["values"] = [name]
                out.append(p)
        return out

    def coredns_pods(self) -> list[dict[str, Any]]:
        """The template's CoreDNS pods, moved onto the first nodes (the last address of their
        blocks, which app pods never take), so the cluster's DNS is healthy as in a real one."""
        out = []
        tpls = [p for p in self.tpl["pods"] if p["metadata"]["name"].startswith("coredns-")]
        for tp, node in zip(tpls, self.nodes, strict=False):
            p = copy.deepcopy(tp)
            ip = str(self.block[node][63])
            p["spec"]["nodeName"] = node
            p["metadata"]["resourceVersion"] = self.next_rv()
            p["status"].update(hostIP=self.node_ip[node], podIP=ip, podIPs=[{"ip": ip}])
            out.append(p)
        return out

    def kube_dns_slice(self, dns: list[dict[str, Any]]) -> dict[str, Any]:
        """The template's kube-dns EndpointSlice, pointing at the moved CoreDNS pods."""
        tpl = next(
            s
            for s in self.tpl["endpointslices.discovery.k8s.io"]
            if s["metadata"]["labels"].get("kubernetes.io/service-name") == "kube-dns"
        )
        s = copy.deepcopy(tpl)
        by_name = {p["metadata"]["name"]: p for p in dns}
        for e in s["endpoints"]:
            pod = by_name[e["targetRef"]["name"]]
            e["addresses"] = [pod["status"]["podIP"]]
            e["nodeName"] = pod["spec"]["nodeName"]
        s["metadata"]["resourceVersion"] = self.next_rv()
        return s

    def k8s(self) -> None:
        nodes = self.node_objects()
        self.write("k8s/nodes.json", klist(nodes))
        pods = self.agent_pods()
        by_app: dict[int, list[dict[str, Any]]] = {}
        for i in range(self.n_pods):
            node = self.nodes[i % self.n_nodes]
            k = len(self.pods_on[node])
            ip = str(self.block[node][1 + k % 62])
            app = i % N_SERVICES
            ns = f"team-{app % N_NAMESPACES:02d}"
            p = self.app_pod(ns, app, i, node, ip)
            pods.append(p)
            by_app.setdefault(app, []).append(p)
            self.pods_on[node].append((ns, p["metadata"]["name"], ip))
        dns = self.coredns_pods()
        pods.extend(dns)
        self.write("k8s/pods.json", klist(pods))
        del pods
        svcs, slices = list(self.tpl["services"]), []
        for app in range(N_SERVICES):
            ns = f"team-{app % N_NAMESPACES:02d}"
            name = f"app-{app:03d}"
            ip = str(ipaddress.ip_address("10.96.0.0") + 1000 + app)
            ts = "2026-01-20T10:00:00Z"
            svc = {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "annotations": {
                        "meta.helm.sh/release-name": name,
                        "meta.helm.sh/release-namespace": ns,
                    },
                    "creationTimestamp": ts,
                    "labels": {"app": name, "app.kubernetes.io/managed-by": "Helm"},
                    "name": name,
                    "namespace": ns,
                    "resourceVersion": self.next_rv(),
                    "uid": uid("svc", ns, name),
                },
                "spec": {
                    "clusterIP": ip,
                    "clusterIPs": [ip],
                    "internalTrafficPolicy": "Cluster",
                    "ipFamilies": ["IPv4"],
                    "ipFamilyPolicy": "SingleStack",
                    "ports": [
                        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http-0"},
                        {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090},
                    ],
                    "selector": {"app": name},
                    "sessionAffinity": "None",
                    "type": "ClusterIP",
                },
                "status": {"loadBalancer": {}},
            }
            svcs.append(svc)
            members = by_app.get(app, [])
            for s in range(0, max(len(members), 1), SLICE_MAX):
                chunk = members[s : s + SLICE_MAX]
                sname = f"{name}-{hx('eps', ns, name, s, n=5)}"
                slices.append(
                    {
                        "addressType": "IPv4",
                        "apiVersion": "discovery.k8s.io/v1",
                        "endpoints": [
                            {
                                "addresses": [p["status"]["podIP"]],
                                "conditions": {
                                    "ready": True,
                                    "serving": True,
                                    "terminating": False,
                                },
                                "nodeName": p["spec"]["nodeName"],
                                "targetRef": {
                                    "kind": "Pod",
                                    "name": p["metadata"]["name"],
                                    "namespace": ns,
                                    "uid": p["metadata"]["uid"],
                                },
                            }
                            for p in chunk
                        ],
                        "kind": "EndpointSlice",
                        "metadata": {
                            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": ts},
                            "creationTimestamp": ts,
                            "generateName": f"{name}-",
                            "generation": 1,
                            "labels": {
                                "app": name,
                                "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
                                "kubernetes.io/service-name": name,
                            },
                            "name": sname,
                            "namespace": ns,
                            "ownerReferences": [
                                {
                                    "apiVersion": "v1",
                                    "blockOwnerDeletion": True,
                                    "controller": True,
                                    "kind": "Service",
                                    "name": name,
                                    "uid": svc["metadata"]["uid"],
                                }
                            ],
                            "resourceVersion": self.next_rv(),
                            "uid": uid("eps", ns, sname),
                        },
                        "ports": [
                            {"name": "http", "port": 8080, "protocol": "TCP"},
                            {"name": "metrics", "port": 9090, "protocol": "TCP"},
                        ],
                    }
                )
        slices.append(self.kube_dns_slice(dns))
        self.write("k8s/services.json", klist(svcs))
        self.write("k8s/endpointslices.discovery.k8s.io.json", klist(slices))
        for ds in self.tpl["daemonsets"]:
            st = ds["status"]
            for k in list(st):
                if (
                    k.startswith(("current", "desired", "number", "updated"))
                    and k != "numberMisscheduled"
                ):
                    st[k] = self.n_nodes
        self.write("k8s/daemonsets.apps.json", klist(self.tpl["daemonsets"]))
        self.write("k8s/deployments.apps.json", klist(self.tpl["deployments"]))
        self.write("k8s/configmaps.json", klist(self.tpl["configmaps"]))
        self.write("k8s/events.json", klist([]))
        self.write("k8s/networkpolicies.networking.k8s.io.json", klist([]))
        self.write(
            "k8s/ippools.crd.projectcalico.org.json",
            klist(self.tpl["ippools.crd.projectcalico.org"]),
        )
        base = self.tpl["cnodes"][0]
        cnodes = []
        for n in nodes:
            cn = copy.deepcopy(base)
            name = n["metadata"]["name"]
            ip = self.node_ip[name]
            cn["metadata"].update(name=name, uid=uid("cnode", name), resourceVersion=self.next_rv())
            cn["metadata"]["labels"] = n["metadata"]["labels"]
            cn["spec"]["addresses"] = [
                {"address": f"{ip}/16", "type": "CalicoNodeIP"},
                {"address": ip, "type": "InternalIP"},
            ]
            cn["spec"]["bgp"] = {
                "ipv4Address": f"{ip}/16",
                "ipv4IPIPTunnelAddr": str(self.block[name][0]),
            }
            cn["spec"]["orchRefs"] = [{"nodeName": name, "orchestrator": "k8s"}]
            cn["status"] = {"podCIDRs": n["spec"]["podCIDRs"]}
            cnodes.append(cn)
        self.write("k8s/nodes.crd.projectcalico.org.json", klist(cnodes))
        self.write("k8s/version.json", self.tpl["version"])

    # --- node facts ------------------------------------------------------------------------

    def node_facts(self) -> None:
        tpl = self.tpl
        addr_base = [e for e in tpl["addr"] if not e["ifname"].startswith("cali")]
        cali_tpl = next(e for e in tpl["addr"] if e["ifname"].startswith("cali"))
        sys_base = [ln for ln in tpl["sysctl"] if TPL_CALI not in ln]
        sys_cali = [ln for ln in tpl["sysctl"] if TPL_CALI in ln]
        ipt = "\n".join(tpl["ipt"]) + "\n"
        peer_routes_cache: list[dict[str, Any]] = [
            {
                "dst": str(self.block[o]),
                "gateway": self.node_ip[o],
                "dev": "tunl0",
                "protocol": "bird",
                "flags": ["onlink"],
            }
            for o in self.nodes
        ]
        tpl_ip = next(e for e in tpl["addr"] if e["ifname"] == "eno1")["addr_info"][0]["local"]
        for ni, name in enumerate(self.nodes):
            ip = self.node_ip[name]
            block = self.block[name]
            local = self.pods_on[name][:62]
            d = f"nodes/{name}"
            addrs = copy.deepcopy(addr_base)
            for e in addrs:
                if e["ifname"] == "eno1":
                    e["address"] = (
                        f"3c:ec:ef:{ni >> 16 & 255:02x}:{ni >> 8 & 255:02x}:{ni & 255:02x}"
                    )
                    e["addr_info"][0].update(local=ip, prefixlen=16, broadcast="10.64.255.255")
                if e["ifname"] == "tunl0":
                    e["addr_info"][0]["local"] = str(block[0])
            for k, (ns, pod, _pip) in enumerate(local):
                e = copy.deepcopy(cali_tpl)
                e["ifindex"] = len(addr_base) + 1 + k
                e["ifname"] = cali(ns, pod)
                e["link_netnsid"] = k
                addrs.append(e)
            self.write(f"{d}/ip-addr.json", addrs)
            routes = [
                {
                    "dst": "default",
                    "gateway": "10.64.0.1",
                    "dev": "eno1",
                    "protocol": "static",
                    "flags": [],
                },
                {
                    "dst": "10.64.0.0/16",
                    "dev": "eno1",
                    "protocol": "kernel",
                    "scope": "link",
                    "prefsrc": ip,
                    "flags": [],
                },
                {"type": "blackhole", "dst": str(block), "protocol": "bird", "flags": []},
            ]
            routes += [
                {"dst": pip, "dev": cali(ns, pod), "scope": "link", "flags": []}
                for ns, pod, pip in local
            ]
            routes += [r for o, r in zip(self.nodes, peer_routes_cache, strict=True) if o != name]
            routes += [
                {
                    "type": "local",
                    "dst": ip,
                    "dev": "eno1",
                    "table": "local",
                    "protocol": "kernel",
                    "scope": "host",
                    "prefsrc": ip,
                    "flags": [],
                },
                {
                    "type": "local",
                    "dst": str(block[0]),
                    "dev": "tunl0",
                    "table": "local",
                    "protocol": "kernel",
                    "scope": "host",
                    "prefsrc": str(block[0]),
                    "flags": [],
                },
            ]
            self.write(f"{d}/ip-route.json", routes)
            self.write(f"{d}/ip-rule.json", tpl["rule"])
            neigh = [
                {
                    "dst": "10.64.0.1",
                    "dev": "eno1",
                    "lladdr": "00:1c:73:8e:41:01",
                    "state": ["STALE"],
                }
            ]
            neigh += [
                {
                    "dst": pip,
                    "dev": cali(ns, pod),
                    "lladdr": "0a:58:" + ":".join(hx(pod, n=8)[i : i + 2] for i in range(0, 8, 2)),
                    "state": ["PERMANENT"],
                }
                for ns, pod, pip in local
            ]
            self.write(f"{d}/ip-neigh.json", neigh)
            lines = [
                ln.replace("l20-gpu-04", name) if ln.startswith("kernel.hostname") else ln
                for ln in sys_base
            ]
            for ns, pod, _ in local:
                c = cali(ns, pod)
                lines += [ln.replace(TPL_CALI, c) for ln in sys_cali]
            self.write_text(f"{d}/sysctl.txt", "\n".join(lines) + "\n")
            self.write_text(f"{d}/iptables-save.txt", self.iptables(ipt, local, ip, tpl_ip))
            for fname, text in tpl["cni"].items():
                self.write_text(f"{d}/cni/{fname}", text.replace("l20-gpu-04", name))

    @staticmethod
    def iptables(text: str, local: list[tuple[str, str, str]], ip: str, tpl_ip: str) -> str:
        """Replicate each run of template-workload lines (Felix chains) for every local pod."""
        names = [cali(ns, pod) for ns, pod, _ in local]
        result: list[str] = []
        run: list[str] = []

        def flush() -> None:
            for c in names:
                result.extend(r.replace(TPL_CALI, c) for r in run)
            run.clear()

        for line in text.splitlines():
            if TPL_CALI in line:
                run.append(line)
                continue
            if run:
                flush()
            result.append(line.replace(tpl_ip, ip))
        flush()
        return "\n".join(result) + "\n"

    def rest(self) -> None:
        self.write_text(
            "bundle.yaml",
            'formatVersion: 1\ncollectedAt: "2026-02-14T09:30:00Z"\n'
            'collector: "bench/gen_bundle.py"\n'
            f'cluster: "bench-{self.n_nodes}n-{self.n_pods}p-seed{self.seed}"\nredacted: true\n',
        )
        for p in (TEMPLATE / "logs").rglob("*.log"):
            rel = p.relative_to(TEMPLATE)
            self.write_text(str(rel), p.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    if a.out.exists():
        shutil.rmtree(a.out)
    a.out.mkdir(parents=True)
    t0 = time.monotonic()
    g = Gen(a.out, a.nodes, a.pods, a.seed, load_templates())
    g.k8s()
    g.node_facts()
    g.rest()
    print(f"{a.out}: {g.bytes} bytes ({g.bytes / 1e6:.1f} MB) in {time.monotonic() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
