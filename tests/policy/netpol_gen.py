"""A seeded generator of namespaces, pods and NetworkPolicies in ``kubectl get -o json`` shapes,
for the differential test against network-config-analyzer and for bench/reach.py.

Every feature of networking.k8s.io/v1 appears: matchLabels and matchExpressions (In, NotIn,
Exists, DoesNotExist) on pods and namespaces, both in one peer, ipBlock with except, ports by
number, by name and with endPort, TCP/UDP/SCTP, rules without peers or ports, policies with and
without policyTypes. ipBlocks are drawn outside the pod network (192.168.0.0/16): whether an
ipBlock matches pod IPs is left to implementations by the API (nca never matches them; Calico
does), so the differential compares only what the API defines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

APPS = ("web", "api", "db", "cache", "queue", "auth")
TIERS = ("fe", "be", "data")
TEAMS = ("a", "b", "c")
ENVS = ("prod", "dev")
NAMED = (
    ("http", 80, "TCP"),
    ("http-alt", 8080, "TCP"),
    ("dns", 53, "UDP"),
    ("metrics", 9090, "TCP"),
    ("sctp", 9999, "SCTP"),
)
APP_PORTS = {
    "web": 0b00011,
    "api": 0b01011,
    "db": 0b01000,
    "cache": 0b00001,
    "queue": 0b10101,
    "auth": 0b00110,
}
PROBE_PORTS: tuple[tuple[int, str], ...] = (
    (80, "TCP"), (83, "TCP"), (8080, "TCP"), (53, "UDP"),
    (9090, "TCP"), (9999, "SCTP"), (5432, "TCP"),
)  # fmt: skip


@dataclass(frozen=True)
class World:
    namespaces: list[Obj]
    pods: list[Obj]
    policies: list[Obj]


def _ns(i: int, rng: random.Random) -> Obj:
    name = f"ns{i}"
    labels = {"kubernetes.io/metadata.name": name}
    if rng.random() < 0.8:
        labels["team"] = rng.choice(TEAMS)
    if rng.random() < 0.7:
        labels["env"] = rng.choice(ENVS)
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _pod(i: int, ns: str, rng: random.Random) -> Obj:
    labels = {"app": rng.choice(APPS)}
    if rng.random() < 0.7:
        labels["tier"] = rng.choice(TIERS)
    if rng.random() < 0.3:
        labels["canary"] = "true"
    # Pods of one app come from one template: the same named ports.
    ports = [
        {"containerPort": port, "name": name, "protocol": proto}
        for name, port, proto in NAMED
        if APP_PORTS[labels["app"]] >> NAMED.index((name, port, proto)) & 1
    ]
    ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"p{i}", "namespace": ns, "labels": labels},
        "spec": {
            "nodeName": "node1",
            "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.9", "ports": ports}],
        },
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "192.0.2.1"},
    }


def _pod_selector(rng: random.Random, *, key_ops: bool = True) -> Obj:
    r = rng.random()
    if r < 0.15:
        return {}
    if r < 0.55:
        sel: Obj = {"matchLabels": {"app": rng.choice(APPS)}}
        if rng.random() < 0.3:
            sel["matchLabels"]["tier"] = rng.choice(TIERS)
        return sel
    op = rng.choice(("In", "NotIn", "Exists", "DoesNotExist") if key_ops else ("In", "NotIn"))
    key = rng.choice(("app", "tier", "canary"))
    values = {"app": APPS, "tier": TIERS, "canary": ("true",)}[key]
    expr: Obj = {"key": key, "operator": op}
    if op in ("In", "NotIn"):
        expr["values"] = rng.sample(list(values), k=min(len(values), rng.randint(1, 2)))
    return {"matchExpressions": [expr]}


def _ns_selector(rng: random.Random) -> Obj:
    r = rng.random()
    if r < 0.2:
        return {}
    if r < 0.5:
        return {"matchLabels": {"team": rng.choice(TEAMS)}}
    if r < 0.7:
        return {"matchLabels": {"kubernetes.io/metadata.name": f"ns{rng.randint(0, 3)}"}}
    op = rng.choice(("In", "NotIn", "Exists", "DoesNotExist"))
    key = rng.choice(("team", "env"))
    expr: Obj = {"key": key, "operator": op}
    if op in ("In", "NotIn"):
        expr["values"] = [rng.choice(TEAMS if key == "team" else ENVS)]
    return {"matchExpressions": [expr]}


def _peer(rng: random.Random) -> Obj:
    r = rng.random()
    if r < 0.35:
        return {"podSelector": _pod_selector(rng)}
    if r < 0.6:
        return {"namespaceSelector": _ns_selector(rng)}
    if r < 0.9:
        # nca 0.x resolves Exists/DoesNotExist of a peer's podSelector in the policy's own
        # namespace even beside a namespaceSelector (PeerContainer.get_peers_with_key called
        # with self.namespace in K8sPolicyYamlParser.parse_requirement), unlike the API's
        # semantics, so the differential leaves that one combination out.
        return {
            "namespaceSelector": _ns_selector(rng),
            "podSelector": _pod_selector(rng, key_ops=False),
        }
    third = rng.randint(0, 255)
    block: Obj = {"cidr": f"192.168.{third}.0/24"}
    if rng.random() < 0.5:
        block["except"] = [f"192.168.{third}.128/25"]
    return {"ipBlock": block}


def _port(rng: random.Random) -> Obj:
    r = rng.random()
    if r < 0.3:
        return {"protocol": "TCP", "port": rng.choice((80, 8080, 5432))}
    if r < 0.45:
        return {"protocol": "TCP", "port": 80, "endPort": rng.choice((83, 90))}
    if r < 0.7:
        name, _, proto = rng.choice(NAMED)
        return {"protocol": proto, "port": name}
    if r < 0.85:
        return {"protocol": "UDP", "port": 53}
    return {"protocol": rng.choice(("TCP", "UDP", "SCTP"))}


def _rule(rng: random.Random, key: str) -> Obj:
    rule: Obj = {}
    n_peers = rng.choice((0, 1, 1, 2))
    if n_peers:
        rule[key] = [_peer(rng) for _ in range(n_peers)]
    n_ports = rng.choice((0, 1, 1, 2))
    if n_ports:
        rule["ports"] = [_port(rng) for _ in range(n_ports)]
    return rule


def _policy(i: int, ns: str, rng: random.Random) -> Obj:
    spec: Obj = {"podSelector": _pod_selector(rng)}
    kind = rng.choice(("in", "eg", "both", "default"))
    if kind in ("in", "both", "default"):
        spec["ingress"] = [_rule(rng, "from") for _ in range(rng.choice((0, 1, 1, 2)))]
    if kind in ("eg", "both") or (kind == "default" and rng.random() < 0.5):
        spec["egress"] = [_rule(rng, "to") for _ in range(rng.choice((0, 1, 1, 2)))]
    types = {"in": ["Ingress"], "eg": ["Egress"], "both": ["Ingress", "Egress"]}
    if kind != "default":
        spec["policyTypes"] = types[kind]
    else:
        # What `kubectl get -o json` prints: the API server has defaulted policyTypes
        # (SetDefaults_NetworkPolicy: Ingress, plus Egress when len(egress) != 0). nca instead
        # reads a present-but-empty `egress: []` as Egress, so both get the stored shape.
        spec["policyTypes"] = types["both"] if spec.get("egress") else types["in"]
        if not spec.get("egress"):
            spec.pop("egress", None)  # nca refuses `egress: []` without Egress; same policy
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"np{i}", "namespace": ns},
        "spec": spec,
    }


def generate(seed: int, *, namespaces: int, pods: int, policies: int, host_pods: int = 0) -> World:
    """``host_pods`` hostNetwork pods (holding their node's address) join the ``pods``."""
    rng = random.Random(seed)
    nss = [_ns(i, rng) for i in range(namespaces)]
    names = [n["metadata"]["name"] for n in nss]
    all_pods = [_pod(i + 1, rng.choice(names), rng) for i in range(pods)]
    for j in range(host_pods):
        hp = _pod(pods + j + 1, rng.choice(names), rng)
        ip = f"192.0.2.{j + 10}"
        hp["spec"]["hostNetwork"] = True
        hp["status"].update(podIP=ip, podIPs=[{"ip": ip}], hostIP=ip)
        all_pods.append(hp)
    return World(
        namespaces=nss,
        pods=all_pods,
        policies=[_policy(i, rng.choice(names), rng) for i in range(policies)],
    )


def as_list(kind: str, items: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": ""}, "items": items}
