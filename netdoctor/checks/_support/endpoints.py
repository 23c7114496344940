"""Resolve the question's endpoints (``--from``/``--to``) against the Snapshot's indexes.

Checks layer: the engine resolves the question once and checks see the result on their
Context as ``ctx.source`` / ``ctx.target``. A pod (``NS/POD``), a node (``node/NAME``), a
Service (``svc/NS/NAME``), or an address: an IP resolves to the pod, Service or node holding
it, else stays an external IP. A DNS name resolves as a pod's resolver would: ``name`` (in the
asking pod's namespace), ``name.ns``, ``name.ns.svc`` and ``name.ns.svc.<cluster domain>``
(the domain from the CoreDNS Corefile's ``kubernetes`` block, else ``cluster.local``) name a
Service; anything else stays a DNS name.
A name that does not exist where the data says it should is a usage error, said in one line.
A Service endpoint knows its backends (``Endpoint.backend_pods``): the pods its selector
picks, plus those its EndpointSlices point at by ``targetRef``.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import weakref
from dataclasses import dataclass

from netdoctor.errors import UsageError
from netdoctor.model.k8s import EndpointSlice, Node, Pod, Service
from netdoctor.model.snapshot import Probe, Snapshot, parse_port

__all__ = [
    "DEFAULT_CLUSTER_DOMAIN",
    "SERVICE_NAME_LABEL",
    "Endpoint",
    "backend_port",
    "cluster_domain",
    "corefile",
    "nodeport_service",
    "parse_port",
    "probes_for",
    "resolve_endpoint",
    "selector_matches",
    "service_backends",
    "service_ip",
    "service_pods",
    "service_slices",
]

DEFAULT_CLUSTER_DOMAIN = "cluster.local"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # EndpointSlice -> its Service


@dataclass(frozen=True)
class Endpoint:
    raw: str
    kind: str  # "pod" | "service" | "node" | "ip" | "dns" | "unresolved"
    pod: Pod | None = None
    service: Service | None = None
    node: Node | None = None
    ip: str | None = None
    dns_name: str | None = None  # the name asked for, when the target was given as a DNS name

    @property
    def node_name(self) -> str | None:
        if self.pod is not None:
            return self.pod.spec.node_name or None
        if self.node is not None:
            return self.node.metadata.name
        return None

    @property
    def label(self) -> str:
        return self.raw

    def backend_pods(self, snap: Snapshot) -> tuple[Pod, ...]:
        """A Service's backends: the pods its selector picks, then any other pod its
        EndpointSlices name by ``targetRef``. A pod endpoint is its own backend; others have none.
        """
        if self.pod is not None:
            return (self.pod,)
        if self.service is None:
            return ()
        return service_backends(snap, self.service)


def backend_port(svc: Service, pod: Pod, port: int | None) -> int | None:
    """The port a packet sent to ``svc`` on ``port`` (its port or nodePort) has at ``pod``
    after kube-proxy's DNAT: the targetPort, a named one looked up in the pod's containers
    (None when the pod declares no such name). A port the Service does not list is kept."""
    if port is None:
        return None
    for sp in svc.spec.ports:
        if port not in (sp.port, sp.node_port):
            continue
        tp = sp.target_port if sp.target_port is not None else sp.port
        if isinstance(tp, int):
            return tp
        named = [cp.container_port for c in pod.spec.containers for cp in c.ports if cp.name == tp]
        return named[0] if named else None
    return port


def service_ip(svc: Service) -> str | None:
    """The ClusterIP, or None for a headless (``None``) or ExternalName Service."""
    ip = svc.spec.cluster_ip
    return ip if ip and ip != "None" else None


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A Service selector (equality only) matches labels holding every key with its value."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# Pods of one namespace grouped by identical labels (a ReplicaSet's pods share theirs), so a
# selector is matched once per label set, not once per pod. Kept per Snapshot, built once.
_LabelGroups = dict[str, list[tuple[dict[str, str], list[Pod]]]]
_GROUPS: weakref.WeakKeyDictionary[Snapshot, _LabelGroups] = weakref.WeakKeyDictionary()


def _label_groups(snap: Snapshot) -> _LabelGroups:
    groups = _GROUPS.get(snap)
    if groups is None:
        by_key: dict[tuple[str, tuple[tuple[str, str], ...]], list[Pod]] = {}
        for p in snap.pods or ():
            key = (p.metadata.namespace, tuple(sorted(p.metadata.labels.items())))
            by_key.setdefault(key, []).append(p)
        groups = {}
        for (ns, labels), pods in by_key.items():
            groups.setdefault(ns, []).append((dict(labels), pods))
        _GROUPS[snap] = groups
    return groups


def service_pods(snap: Snapshot, svc: Service) -> list[Pod]:
    """Pods of the Service's namespace its selector matches (none without a selector)."""
    sel = svc.spec.selector
    if not sel:
        return []
    out: list[Pod] = []
    for labels, pods in _label_groups(snap).get(svc.metadata.namespace, ()):
        if selector_matches(sel, labels):
            out += pods
    return out


_SLICES: weakref.WeakKeyDictionary[Snapshot, dict[str, list[EndpointSlice]]] = (
    weakref.WeakKeyDictionary()
)


def service_slices(snap: Snapshot, svc: Service) -> list[EndpointSlice]:
    """The EndpointSlices of a Service (label ``kubernetes.io/service-name``)."""
    index = _SLICES.get(snap)
    if index is None:
        index = {}
        for sl in snap.endpointslices or ():
            name = sl.metadata.labels.get(SERVICE_NAME_LABEL)
            if name:
                index.setdefault(f"{sl.metadata.namespace}/{name}", []).append(sl)
        _SLICES[snap] = index
    return index.get(svc.ref, [])


def service_backends(snap: Snapshot, svc: Service) -> tuple[Pod, ...]:
    out = {p.ref: p for p in service_pods(snap, svc)}
    for sl in service_slices(snap, svc):
        for ep in sl.endpoints or ():
            ref = ep.target_ref
            if ref is None or ref.kind != "Pod":
                continue
            key = f"{ref.namespace or svc.metadata.namespace}/{ref.name}"
            pod = snap.pod_by_ref.get(key)
            if pod is not None and key not in out:
                out[key] = pod
    return tuple(out.values())


def nodeport_service(snap: Snapshot, port: int | None, protocol: str = "TCP") -> Service | None:
    """The Service exposing ``port`` as a NodePort (types NodePort and LoadBalancer) on every
    node, so a question to a node's address on that port is a question about that Service."""
    if port is None:
        return None
    for svc in snap.services or ():
        if svc.spec.type not in ("NodePort", "LoadBalancer"):
            continue
        for sp in svc.spec.ports:
            if sp.node_port == port and (sp.protocol or "TCP") == protocol:
                return svc
    return None


def corefile(snap: Snapshot) -> tuple[str, str] | None:
    """(ConfigMap ref, Corefile text) of the cluster DNS, as kubeadm installs it."""
    for ref in ("kube-system/coredns", "kube-system/rke2-coredns-rke2-coredns"):
        cm = snap.configmap_by_ref.get(ref)
        if cm is not None and "Corefile" in cm.data:
            return ref, cm.data["Corefile"]
    return None


_KUBERNETES_PLUGIN = re.compile(r"^\s*kubernetes\s+([^{\n]*)", re.M)


def cluster_domain(snap: Snapshot) -> str:
    """The first zone of the Corefile's ``kubernetes`` plugin that is not a reverse zone."""
    found = corefile(snap)
    if found is not None:
        m = _KUBERNETES_PLUGIN.search(found[1])
        if m:
            for zone in m.group(1).split():
                zone = zone.strip(".")
                if zone and not zone.endswith(("in-addr.arpa", "ip6.arpa")):
                    return zone
    return DEFAULT_CLUSTER_DOMAIN


def resolve_endpoint(
    snap: Snapshot, text: str, flag: str, *, namespace: str | None = None
) -> Endpoint:
    """Resolve a ``--from``/``--to`` value. ``namespace`` is the asking pod's, for a bare name."""
    raw = text.strip()
    if not raw:
        raise UsageError(key="error.empty", params={"flag": flag})
    kind, _, rest = raw.partition("/")
    if kind in ("node", "nodes", "no") and rest:
        return _node(snap, raw, rest, flag)
    if kind in ("svc", "service", "services") and rest:
        return _service(snap, raw, rest, flag)
    if kind in ("pod", "pods", "po") and rest.count("/") == 1:
        return _pod(snap, raw, rest, flag)
    try:
        ip = str(ipaddress.ip_address(raw))
    except ValueError:
        ip = None
    if ip is not None:
        return _ip(snap, raw, ip)
    if raw.count("/") == 1:
        return _pod(snap, raw, raw, flag)
    if "/" in raw or " " in raw:
        raise UsageError(key="error.endpoint", params={"flag": flag, "value": raw})
    if "." not in raw:
        bare = _bare_name(snap, raw, flag, namespace or "default")
        if bare is not None:
            return bare
    return _dns(snap, raw, flag, namespace or "default")


def _bare_name(snap: Snapshot, raw: str, flag: str, namespace: str) -> Endpoint | None:
    """A name without a namespace, as kubectl reads one: in ``namespace`` (``default``).

    ``--from`` names a pod (a Service or a DNS name sends nothing). ``--to`` names a Service
    first, as the pod's resolver would, then a pod. A name that is neither is refused with
    the closest pods, rather than taken silently as a name outside the cluster. None: leave
    it to the DNS path (the Service exists, or the bundle lacks the objects to tell)."""
    ref = f"{namespace}/{raw}"
    if flag == "--to" and (snap.services is None or ref in snap.service_by_ref):
        return None
    if snap.pods is None:
        return Endpoint(raw=raw, kind="unresolved") if flag == "--from" else None
    if ref in snap.pod_by_ref:
        return _pod(snap, raw, ref, flag)
    names = sorted({p.ref for p in snap.pods})
    close = difflib.get_close_matches(raw, [r.split("/", 1)[1] for r in names], n=3, cutoff=0.6)
    closest = [r for r in names if r.split("/", 1)[1] in close][:3]
    raise UsageError(
        key="error.no_such_bare",
        params={
            "flag": flag,
            "value": raw,
            "ref": ref,
            "file": snap.source("k8s.pods"),
            "closest": ", ".join(closest) if closest else "-",
        },
    )


def _no_such(snap: Snapshot, flag: str, raw: str, kind: str, dataset: str) -> UsageError:
    """The error for an endpoint naming a ``kind`` object the snapshot's ``dataset`` lacks."""
    file = snap.source(dataset)
    return UsageError(
        key="error.no_such",
        params={"flag": flag, "value": raw, "kind": kind, "file": file},
    )


def _pod(snap: Snapshot, raw: str, ref: str, flag: str) -> Endpoint:
    if snap.pods is None:
        return Endpoint(raw=raw, kind="unresolved")
    pod = snap.pod_by_ref.get(ref)
    if pod is None:
        raise _no_such(snap, flag, raw, "Pod", "k8s.pods")
    node = snap.node_by_name.get(pod.spec.node_name)
    return Endpoint(raw=raw, kind="pod", pod=pod, node=node, ip=pod.ips[0] if pod.ips else None)


def _node(snap: Snapshot, raw: str, name: str, flag: str) -> Endpoint:
    if snap.nodes is None:
        return Endpoint(raw=raw, kind="unresolved")
    node = snap.node_by_name.get(name)
    if node is None:
        raise _no_such(snap, flag, raw, "Node", "k8s.nodes")
    ips = node.internal_ips
    return Endpoint(raw=raw, kind="node", node=node, ip=ips[0] if ips else None)


def _service(snap: Snapshot, raw: str, ref: str, flag: str) -> Endpoint:
    if snap.services is None:
        return Endpoint(raw=raw, kind="unresolved")
    if ref.count("/") != 1:
        raise UsageError(key="error.endpoint", params={"flag": flag, "value": raw})
    svc = snap.service_by_ref.get(ref)
    if svc is None:
        raise _no_such(snap, flag, raw, "Service", "k8s.services")
    return Endpoint(raw=raw, kind="service", service=svc, ip=service_ip(svc))


def _ip(snap: Snapshot, raw: str, ip: str) -> Endpoint:
    pods = snap.pods_by_ip.get(ip)
    if pods:
        pod = pods[0]
        node = snap.node_by_name.get(pod.spec.node_name)
        return Endpoint(raw=raw, kind="pod", pod=pod, node=node, ip=ip)
    for svc in snap.services or ():
        if ip in (svc.spec.cluster_ip, *svc.spec.cluster_ips):
            return Endpoint(raw=raw, kind="service", service=svc, ip=ip)
    nodes = snap.node_by_address.get(ip)
    if nodes:
        return Endpoint(raw=raw, kind="node", node=nodes[0], ip=ip)
    return Endpoint(raw=raw, kind="ip", ip=ip)


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _dns(snap: Snapshot, raw: str, flag: str, namespace: str) -> Endpoint:
    """A DNS name as a pod's resolver searches it (``<ns>.svc.<domain>``, ``svc.<domain>``,
    ``<domain>``): the Service it names, or a name outside the cluster."""
    name = raw.lower().rstrip(".")
    labels = name.split(".")
    if not all(_DNS_LABEL.match(label) for label in labels):
        raise UsageError(key="error.endpoint", params={"flag": flag, "value": raw})
    domain = cluster_domain(snap).split(".")
    ref: str | None = None
    full = False  # the name spells out <svc>.<ns>.svc.<domain>: it must exist
    if len(labels) == 1:
        ref = f"{namespace}/{labels[0]}"
    elif len(labels) == 2:
        ref = f"{labels[1]}/{labels[0]}"
    elif len(labels) >= 3 and labels[2] == "svc" and labels[3:] in ([], domain):
        ref, full = f"{labels[1]}/{labels[0]}", True
    if ref is None or snap.services is None:
        return Endpoint(raw=raw, kind="dns", dns_name=name)
    svc = snap.service_by_ref.get(ref)
    if svc is None:
        if full:
            raise _no_such(snap, flag, raw, "Service", "k8s.services")
        return Endpoint(raw=raw, kind="dns", dns_name=name)
    return Endpoint(raw=raw, kind="service", service=svc, ip=service_ip(svc), dns_name=name)


def probes_for(snap: Snapshot, src: Endpoint | None, dst: Endpoint | None) -> tuple[Probe, ...]:
    """The probes that measured the question's flow (all of them when there is no question)."""
    probes = snap.probes or ()
    if src is None and dst is None:
        return tuple(probes)

    def matches(p: Probe) -> bool:
        if src is not None:
            if src.pod is not None and p.from_.pod not in (None, src.pod.ref):
                return False
            if src.kind == "node" and src.node and p.from_.node not in (None, src.node.name):
                return False
        if dst is not None:
            targets = {dst.raw, dst.ip, dst.pod.ref if dst.pod else None}
            targets.add(dst.service.ref if dst.service else None)
            named = {p.to.ip, p.to.pod, p.to.service} - {None}
            if named and not named & (targets - {None}):
                return False
        return True

    return tuple(p for p in probes if matches(p))
