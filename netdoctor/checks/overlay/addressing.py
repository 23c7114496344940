"""The address plan behind the overlay: NET-209 node-pod-cidr-missing (every node has
``spec.podCIDR`` when the CNI needs it), NET-208 pod-ip-conflict (no two running pods, and no pod
and node, hold the same IP) and NET-207 pod-cidr-overlap (the pod network does not overlap the
nodes, the Services or other networks on the nodes).

Checks layer: pure functions over the Snapshot. The cluster's pod and Service CIDRs come from
where they are written (the controller-manager's and apiserver's flags, kubeadm's
ClusterConfiguration, flannel's net-conf.json, Calico's IPPools); a fix proposes a free range.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from netdoctor.checks._support.common import (
    IPNet,
    iface_evidence,
    internal_ip_evidence,
    ippool_evidence,
    last_log_match,
    pod_evidence,
)
from netdoctor.checks._support.registry import Context, NotApplicable, Skip, Yielded, check
from netdoctor.checks.overlay._common import (
    CNI_IFACE,
    agent_pod,
    cni_conf_files,
    flannel_net_conf,
    node_pod_cidrs,
    parse_net,
    podcidr_evidence,
    restart_agent,
    routing_cni,
)
from netdoctor.model.cni import FLANNEL_KSM
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.k8s import Pod
from netdoctor.model.snapshot import Snapshot

__all__ = ["pod_cidr_missing", "pod_cidr_overlap", "pod_ip_conflict"]


# --- NET-209: nodes without spec.podCIDR -----------------------------------------------------


_NO_CIDR_LOG = re.compile(
    r"(pod cidr not assign|podCIDR.{0,40}(empty|not set|missing)|failed to get pod CIDR"
    r"|node \S+ pod cidr not assigned)",
    re.IGNORECASE,
)


def _flag(pod: Pod | None, flag: str) -> tuple[str, int] | None:
    """(value, container index) of ``--flag=value`` in a pod's command or args."""
    for i, c in enumerate(pod.spec.containers if pod else ()):
        for arg in (*c.command, *c.args):
            if arg.startswith(f"{flag}="):
                return arg.split("=", 1)[1], i
    return None


def _static_pod(snap: Snapshot, prefix: str) -> Pod | None:
    for p in snap.pods_by_namespace.get("kube-system", ()):
        if p.metadata.name.startswith(prefix) or p.metadata.labels.get("component") == prefix:
            return p
    return None


def _kubeadm_networking(snap: Snapshot) -> dict[str, str]:
    """``podSubnet`` / ``serviceSubnet`` from the kubeadm-config ConfigMap, when present."""
    import yaml  # the ConfigMap value is YAML text

    for cm in snap.configmaps or ():
        if cm.metadata.name != "kubeadm-config" or "ClusterConfiguration" not in cm.data:
            continue
        try:
            data = yaml.safe_load(cm.data["ClusterConfiguration"])
        except yaml.YAMLError:
            return {}
        net = data.get("networking") if isinstance(data, dict) else None
        if isinstance(net, dict):
            return {k: str(v) for k, v in net.items() if isinstance(v, str)}
    return {}


@dataclass(frozen=True)
class _Known:
    """A network the cluster is configured with, and where that is written."""

    net: IPNet
    evidence: Evidence


def _flag_cidr(snap: Snapshot, component: str, flag: str) -> _Known | None:
    """The first CIDR of a control-plane static pod's ``flag`` (``--cluster-cidr``...)."""
    pod = _static_pod(snap, component)
    found = _flag(pod, flag)
    if pod is None or found is None or (net := parse_net(found[0].split(",")[0])) is None:
        return None
    return _Known(net, pod_evidence(snap, pod, "spec.containers[].command", f"{flag}={found[0]}"))


def _kubeadm_cidr(snap: Snapshot, key: str) -> _Known | None:
    """The first CIDR of kubeadm-config's ClusterConfiguration ``networking.<key>``."""
    sub = _kubeadm_networking(snap).get(key)
    if not sub or (net := parse_net(sub.split(",")[0])) is None:
        return None
    cm = next(c for c in snap.configmaps or () if c.metadata.name == "kubeadm-config")
    return _Known(
        net,
        Evidence(
            source=snap.source("k8s.configmaps"),
            object=f"ConfigMap/{cm.metadata.namespace}/kubeadm-config",
            field=f"data.ClusterConfiguration.networking.{key}",
            value=sub,
        ),
    )


def _cluster_cidr(snap: Snapshot, ctx: Context) -> _Known | None:
    known = _flag_cidr(snap, "kube-controller-manager", "--cluster-cidr") or _kubeadm_cidr(
        snap, "podSubnet"
    )
    if known is not None:
        return known
    conf = flannel_net_conf(ctx)
    if conf and isinstance(conf.get("Network"), str) and (net := parse_net(conf["Network"])):
        cm = next(c for c in snap.configmaps or () if "net-conf.json" in c.data)
        return _Known(
            net,
            Evidence(
                source=snap.source("k8s.configmaps"),
                object=f"ConfigMap/{cm.metadata.namespace}/{cm.metadata.name}",
                field="data[net-conf.json].Network",
                value=conf["Network"],
            ),
        )
    return None


def _needs_pod_cidr(ctx: Context) -> bool:
    cni = routing_cni(ctx)
    if cni == "flannel":
        # Only the Kubernetes subnet manager takes subnets from spec.podCIDR (not etcd).
        agent = ctx.cni.agent("flannel")
        c = agent.container if agent else None
        args = [*c.command, *c.args] if c else []
        nodes = ctx.snapshot.nodes or ()
        return "--kube-subnet-mgr" in args or any(
            n.metadata.annotations.get(FLANNEL_KSM) == "true" for n in nodes
        )
    if cni == "calico":
        for facts in ctx.snapshot.node_facts.values():
            for f in cni_conf_files(facts):
                if "usePodCidr" in (facts.cni_files or {}).get(f, ""):
                    return True
    return False


@check("node-pod-cidr-missing", code="NET-209", needs=("k8s.nodes",), cni=("flannel", "calico"))
def pod_cidr_missing(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if not _needs_pod_cidr(ctx):
        yield NotApplicable()
        return
    cni = routing_cni(ctx) or ""
    agent = ctx.cni.agent(cni)
    container = agent.agent.container if agent else ""
    cluster = _cluster_cidr(snap, ctx)
    used = [n for node in snap.nodes or () for n in node_pod_cidrs(node)]
    size = used[0].prefixlen if used else (24 if cluster and cluster.net.version == 4 else 64)
    cm_pod = _static_pod(snap, "kube-controller-manager")
    allocate = _flag(cm_pod, "--allocate-node-cidrs")
    taken: list[IPNet] = list(used)
    for node in sorted(snap.nodes or (), key=lambda n: n.metadata.name):
        name = node.metadata.name
        if node_pod_cidrs(node):
            continue
        ev = [podcidr_evidence(snap, node)]
        ns, ds, pod_name = agent_pod(ctx, cni, name)
        pod = snap.pod_by_ref.get(f"{ns}/{pod_name}") if pod_name else None
        found = last_log_match(snap, pod, container, _NO_CIDR_LOG) if container else None
        if found is not None:
            ev.append(found[1])
        if pod is not None and pod.restarts:
            ev.append(
                pod_evidence(
                    snap, pod, "status.containerStatuses[].restartCount", str(pod.restarts)
                )
            )
        if cm_pod is not None:
            ev.append(
                pod_evidence(
                    snap,
                    cm_pod,
                    "spec.containers[].command --allocate-node-cidrs",
                    allocate[0] if allocate else "(not set: false)",
                )
            )
        if cluster is not None:
            ev.append(cluster.evidence)
        fix: list[Action] = []
        free = _free_subnet(cluster.net, size, taken) if cluster else None
        if free is not None:
            taken.append(free)
            patch = json.dumps(
                {"spec": {"podCIDR": str(free), "podCIDRs": [str(free)]}}, separators=(",", ":")
            )
            fix.append(
                Action(
                    message=Message("fix.overlay.podcidr_patch", {"node": name, "cidr": str(free)}),
                    command=f"kubectl patch node {name} -p '{patch}'",
                )
            )
        cidr_text = str(cluster.net) if cluster else "<pod network CIDR>"
        fix.append(
            Action(
                message=Message("fix.overlay.podcidr_allocate", {"cidr": cidr_text}),
                command=(
                    "kubeadm init phase control-plane controller-manager"
                    f" --pod-network-cidr={cidr_text}"
                ),
            )
        )
        fix.append(restart_agent(ctx, cni, name))
        yield Finding(
            id="node-pod-cidr-missing",
            subject=Subject(kind="Node", name=name),
            variant="from_log" if found is not None else "default",
            params={"node": name, "agent": ds, "cidr": cidr_text},
            evidence=tuple(ev),
            fix=tuple(fix),
            verify=(
                Action(
                    message=Message("verify.overlay.podcidr", {"node": name}),
                    command=f"kubectl get node {name} -o jsonpath='{{.spec.podCIDR}}'",
                ),
            ),
            nodes=(name,),
        )


def _subnets(net: IPNet, prefixlen: int, limit: int) -> Iterator[IPNet]:
    """The first ``limit`` subnets of ``net`` of length ``prefixlen``, in order."""
    if prefixlen < net.prefixlen:
        return
    cls: type[IPNet] = type(net)
    step = 1 << (net.max_prefixlen - prefixlen)
    base = int(net.network_address)
    for k in range(min(1 << (prefixlen - net.prefixlen), limit)):
        yield cls((base + k * step, prefixlen))


def _free_subnet(cluster: IPNet, size: int, taken: Iterable[IPNet]) -> IPNet | None:
    """The first /size inside the cluster network that no node holds."""
    held = list(taken)
    for sub in _subnets(cluster, size, 65536):
        if not any(sub.version == h.version and sub.overlaps(h) for h in held):
            return sub
    return None


# --- NET-208: one IP held twice ---------------------------------------------------------------


_DONE = ("Succeeded", "Failed")


def _kubeovn_ip_objects(snap: Snapshot) -> dict[str, list[tuple[str, str]]]:
    """IP -> [(ips.kubeovn.io name, the pod it names as ns/pod)]."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for obj in snap.custom.get("k8s.kubeovn_ips", ()):
        spec = obj.spec
        pod = f"{spec.get('namespace', '')}/{spec.get('podName', '')}"
        for key in ("v4IpAddress", "v6IpAddress", "ipAddress"):
            for ip in str(spec.get(key) or "").split(","):
                if ip and (obj.metadata.name, pod) not in out[ip]:
                    out[ip].append((obj.metadata.name, pod))
    return out


@check("pod-ip-conflict", code="NET-208", needs=("k8s.pods",))
def pod_ip_conflict(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    ovn = _kubeovn_ip_objects(snap)
    for ip, holders in sorted(snap.pods_by_ip.items()):
        live = [
            p for p in holders if p.status.phase not in _DONE and not p.metadata.deletion_timestamp
        ]
        nodes = list(snap.node_by_address.get(ip, []))
        if len(live) + (1 if nodes and live else 0) < 2:
            continue
        ordered = sorted(live, key=lambda p: (p.metadata.creation_timestamp or "", p.ref))
        ev = [pod_evidence(snap, p, "status.podIPs", ip) for p in ordered]
        ev += [internal_ip_evidence(snap, n) for n in nodes]
        for name, pod_ref in ovn.get(ip, []):
            ev.append(
                Evidence(
                    source=snap.source("k8s.kubeovn_ips"),
                    object=f"IP/{name}",
                    field="spec.namespace/spec.podName",
                    value=pod_ref,
                )
            )
        stale_ovn = [name for name, ref in ovn.get(ip, []) if ref not in {p.ref for p in ordered}]
        newest = ordered[-1]
        fix = [
            Action(
                message=Message("fix.overlay.ip_conflict_delete", {"pod": newest.ref}),
                command=f"kubectl -n {newest.metadata.namespace} delete pod {newest.metadata.name}",
            )
        ]
        if stale_ovn:
            fix.insert(
                0,
                Action(
                    message=Message("fix.overlay.ip_conflict_kubeovn", {"ip": ip}),
                    command=f"kubectl delete ip {' '.join(stale_ovn)}",
                ),
            )
        if routing_cni(ctx) == "calico":
            fix.append(
                Action(
                    message=Message("fix.overlay.ip_conflict_calico", {}),
                    command="calicoctl ipam check --show-problem-ips",
                )
            )
        variant = "node" if nodes else "pods"
        yield Finding(
            id="pod-ip-conflict",
            subject=Subject(
                kind="Pod", name=newest.metadata.name, namespace=newest.metadata.namespace
            ),
            variant=variant,
            params={
                "ip": ip,
                "pods": ", ".join(p.ref for p in ordered),
                "node": ", ".join(n.metadata.name for n in nodes),
            },
            evidence=tuple(ev),
            fix=tuple(fix),
            verify=(
                Action(
                    message=Message("verify.overlay.ip_conflict", {"ip": ip}),
                    command=f"kubectl get pods -A -o wide | grep -w {ip}",
                ),
            ),
            nodes=tuple(dict.fromkeys(p.spec.node_name for p in ordered if p.spec.node_name)),
            pods=tuple(p.ref for p in ordered),
        )


# --- NET-207: the pod network overlaps another network ----------------------------------------


def _pod_networks(ctx: Context) -> list[_Known]:
    """The pod address ranges, from what configures them (pools, net-conf, cluster CIDR)."""
    snap = ctx.snapshot
    out: list[_Known] = []
    if routing_cni(ctx) == "calico":
        for pool in snap.ippools or ():
            net = parse_net(pool.spec.cidr)
            if net is not None and not pool.spec.disabled:
                out.append(_Known(net, ippool_evidence(snap, pool)))
        if out:
            return out
    cluster = _cluster_cidr(snap, ctx)
    return [cluster] if cluster is not None else []


def _service_cidr(snap: Snapshot) -> _Known | None:
    known = _flag_cidr(snap, "kube-apiserver", "--service-cluster-ip-range")
    return known or _kubeadm_cidr(snap, "serviceSubnet")


def _others(ctx: Context, pools: list[_Known]) -> list[tuple[str, _Known]]:
    """Other networks the pod ranges must not overlap: (kind, network)."""
    snap = ctx.snapshot
    out: list[tuple[str, _Known]] = []
    svc = _service_cidr(snap)
    if svc is not None:
        out.append(("service", svc))
    for node in sorted(snap.nodes or (), key=lambda n: n.metadata.name):
        name = node.metadata.name
        for ip in node.internal_ips:
            net = parse_net(ip)
            if net is not None:
                out.append(("node_ip", _Known(net, internal_ip_evidence(snap, node))))
        facts = snap.node_facts.get(name)
        for i in (facts.interfaces or ()) if facts else ():
            if CNI_IFACE.match(i.ifname) or i.ifname == "lo":
                continue
            for a in i.addr_info:
                if a.scope not in ("", "global") or not a.local:
                    continue
                try:
                    net = a.interface.network
                except ValueError:
                    continue
                if net.prefixlen == net.max_prefixlen:
                    continue  # a lone /32: the node-address case above covers addresses
                out.append(("iface", _Known(net, iface_evidence(snap, name, i, a))))
    return out


@check("pod-cidr-overlap", code="NET-207", needs=("k8s.nodes",))
def pod_cidr_overlap(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    pools = _pod_networks(ctx)
    if not pools:
        yield Skip(
            Message(
                "skip.missing",
                {
                    "path": snap.source("k8s.ippools")
                    if routing_cni(ctx) == "calico"
                    else snap.source("k8s.configmaps")
                },
            )
        )
        return
    others = _others(ctx, pools)
    reported: set[tuple[str, str, str]] = set()
    for pool in pools:
        hits: dict[tuple[str, str], list[_Known]] = defaultdict(list)
        for kind, other in others:
            if other.net.version != pool.net.version or not other.net.overlaps(pool.net):
                continue
            hits[(kind, str(other.net))].append(other)
        for (kind, net_text), group in sorted(hits.items()):
            key = (str(pool.net), kind, net_text)
            if key in reported:
                continue
            reported.add(key)
            nodes = tuple(dict.fromkeys(e.evidence.node for e in group if e.evidence.node))
            iface = group[0].evidence.object.removeprefix("Interface/") if kind == "iface" else ""
            taken = [o.net for _, o in others] + [p.net for p in pools]
            free = _free_range(pool.net.prefixlen, taken) if pool.net.version == 4 else None
            bip = _free_range(24, [*taken, *([free] if free else [])])
            yield Finding(
                id="pod-cidr-overlap",
                subject=Subject(kind="Node", name=nodes[0])
                if nodes
                else Subject(kind="Network", name=str(pool.net)),
                variant=kind,
                params={
                    "pool": str(pool.net),
                    "other": net_text,
                    "iface": iface,
                    "nodes": ", ".join(nodes),
                    "free": str(free) if free else "",
                },
                evidence=(pool.evidence, *(e.evidence for e in group)),
                fix=tuple(_overlap_fix(ctx, pool, kind, iface, nodes, free, bip)),
                verify=(
                    Action(
                        message=Message("verify.overlay.overlap", {"pool": str(free or pool.net)}),
                        command="ip -4 route show; ip -4 -o addr show",
                    ),
                ),
                nodes=nodes,
            )


def _free_range(prefixlen: int, taken: list[IPNet]) -> IPNet | None:
    """A private IPv4 range of that length overlapping nothing known (RFC 1918 order)."""
    for space in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"):
        for sub in _subnets(ipaddress.IPv4Network(space), prefixlen, 4096):
            if not any(sub.version == t.version and sub.overlaps(t) for t in taken):
                return sub
    return None


def _overlap_fix(
    ctx: Context,
    pool: _Known,
    kind: str,
    iface: str,
    nodes: tuple[str, ...],
    free: IPNet | None,
    bip: IPNet | None,
) -> list[Action]:
    out: list[Action] = []
    if kind == "iface" and iface == "docker0" and bip is not None:
        gw = f"{bip.network_address + 1}/{bip.prefixlen}"
        conf = json.dumps({"bip": gw})
        out.append(
            Action(
                message=Message(
                    "fix.overlay.overlap_docker",
                    {"iface": iface, "nodes": ", ".join(nodes), "bip": gw},
                ),
                command=f"echo '{conf}' > /etc/docker/daemon.json && systemctl restart docker",
            )
        )
    elif kind == "iface" and iface.startswith("br-"):
        out.append(
            Action(
                message=Message(
                    "fix.overlay.overlap_docker_network",
                    {"iface": iface, "nodes": ", ".join(nodes)},
                ),
                command=f"docker network ls --filter id={iface.removeprefix('br-')}",
            )
        )
    target = str(free) if free else "<a free range>"
    old = pool.evidence.object.removeprefix("IPPool/")
    ippool = next((p for p in ctx.snapshot.ippools or () if p.metadata.name == old), None)
    if ippool is not None:
        spec: dict[str, Any] = {
            "cidr": target,
            "ipipMode": ippool.spec.ipip_mode,
            "vxlanMode": ippool.spec.vxlan_mode,
            "natOutgoing": ippool.spec.nat_outgoing,
            "nodeSelector": ippool.spec.node_selector or "all()",
        }
        if ippool.spec.block_size:
            spec["blockSize"] = ippool.spec.block_size
        new = {
            "apiVersion": "projectcalico.org/v3",
            "kind": "IPPool",
            "metadata": {"name": f"{old}-moved"},
            "spec": spec,
        }
        disable = json.dumps({"spec": {"disabled": True}}, separators=(",", ":"))
        out.append(
            Action(
                message=Message("fix.overlay.overlap_calico_pool", {"free": target, "pool": old}),
                command=(
                    f"echo '{json.dumps(new, separators=(',', ':'))}' | calicoctl create -f -"
                    f" && calicoctl patch ippool {old} -p '{disable}'"
                ),
            )
        )
    else:
        out.append(
            Action(
                message=Message("fix.overlay.overlap_cluster_cidr", {"free": target}),
                command=f"kubeadm init --pod-network-cidr={target}",
            )
        )
    return out
