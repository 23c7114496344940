"""Calico root causes (NET-3xx): the node address calico-node picked, BGP, pools, versions.

Checks layer: pure functions over the Snapshot. Calico's address for a node comes from the node
annotation ``projectcalico.org/IPv4Address``, the Calico Node resource, or calico-node's own log
line ``Using autodetected IPv4 address on interface X: A/len`` (any of them).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec

from netdoctor.catalog.compat import calico_release, minor_of
from netdoctor.checks._support.common import (
    AddressClaim,
    annotation_evidence,
    iface_evidence,
    internal_ip_evidence,
    ip_only,
    last_log_match,
    node_holding,
    parse_ip,
    peer_path_evidence,
    peers_reach,
    pod_events,
    pod_evidence,
    smallest_supernet,
)
from netdoctor.checks._support.oddone import odd_one_out
from netdoctor.checks._support.registry import Context, NotApplicable, Note, Skip, Yielded, check
from netdoctor.checks.bgpstatus import (
    BgpPeer,
    parse_birdcl_protocols,
    parse_calicoctl_node_status,
)
from netdoctor.model.cni import CALICO_ADDRESS
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.model.k8s import Container
from netdoctor.netfilter import Packet, evaluate

AUTODETECT_ENV = "IP_AUTODETECTION_METHOD"
_AUTODETECT_LOG = re.compile(
    r"Using autodetected IPv4 address on interface (\S+): (\S+?)(?:,|\s|$)"
)
_AUTODETECT_FIELDS = ("firstFound", "kubernetes", "interface", "skipInterface", "canReach", "cidrs")


def calico_claims(ctx: Context) -> dict[str, AddressClaim]:
    """The IPv4 address Calico uses for each node, with every source that says so."""
    snap = ctx.snapshot
    agent = ctx.cni.agent("calico")
    pods_by_node = {p.spec.node_name: p for p in agent.pods} if agent else {}
    container = agent.agent.container if agent else "calico-node"
    claims: dict[str, AddressClaim] = {}
    for node in snap.nodes or ():
        name = node.metadata.name
        address: str | None = None
        iface: str | None = None
        ev: list[Evidence] = []
        ann = node.metadata.annotations.get(CALICO_ADDRESS)
        if ann:
            address = ann
            ev.append(annotation_evidence(snap, node, CALICO_ADDRESS))
        cnode = snap.calico_node_by_node.get(name)
        if cnode is not None and cnode.spec.bgp and cnode.spec.bgp.ipv4_address:
            address = address or cnode.spec.bgp.ipv4_address
            ev.append(
                Evidence(
                    source=snap.source("k8s.calico_nodes"),
                    object=f"Node.crd.projectcalico.org/{cnode.metadata.name}",
                    field="spec.bgp.ipv4Address",
                    value=cnode.spec.bgp.ipv4_address,
                    node=name,
                )
            )
        found = last_log_match(snap, pods_by_node.get(name), container, _AUTODETECT_LOG)
        if found is not None:
            m, log_ev = found
            iface = m.group(1)
            address = address or m.group(2)
            ev.append(log_ev)
        if address:
            claims[name] = AddressClaim(node=name, address=address, evidence=tuple(ev), iface=iface)
    return claims


@dataclass(frozen=True)
class _CidrFix:
    cidrs: tuple[str, ...]
    from_facts: bool  # True: the subnets of the interfaces holding the InternalIPs
    evidence: tuple[Evidence, ...]


def _autodetect_cidrs(ctx: Context) -> _CidrFix | None:
    """Subnets holding every node's InternalIP: from node facts, else the smallest supernet."""
    snap = ctx.snapshot
    nets: list[str] = []
    ev: list[Evidence] = []
    unresolved: list[str] = []
    for node in snap.nodes or ():
        for ip in node.internal_ips[:1]:
            held = node_holding(snap, node.metadata.name, ip)
            if held is not None:
                net = str(held[1].interface.network)
                if net not in nets:
                    nets.append(net)
                    ev.append(iface_evidence(snap, node.metadata.name, *held))
            else:
                unresolved.append(ip)

    rest = [
        ip
        for ip in unresolved
        if not any(ipaddress.ip_address(ip) in ipaddress.ip_network(n) for n in nets)
    ]
    if rest:
        sup = smallest_supernet(rest)
        if sup is None:
            return None
        nets.append(str(sup))
    if not nets:
        return None
    return _CidrFix(cidrs=tuple(nets), from_facts=not rest, evidence=tuple(ev))


def _fix_actions(ctx: Context, cidr: _CidrFix | None) -> tuple[Action, ...]:
    snap = ctx.snapshot
    agent = ctx.cni.agent("calico")
    ns = (
        agent.namespace
        if agent
        else ("calico-system" if ctx.cni.calico_operator else "kube-system")
    )
    ds = agent.name if agent else "calico-node"
    cidrs = ",".join(cidr.cidrs) if cidr else "<node subnet>"
    how = "fix.calico_cidr_from_facts" if cidr and cidr.from_facts else "fix.calico_cidr_supernet"
    params = {"cidrs": cidrs, "namespace": ns, "daemonset": ds}
    if ctx.cni.calico_operator:
        inst = (snap.installations or ())[0].metadata.name if snap.installations else "default"
        current: dict[str, object] = {}
        if snap.installations:
            spec = snap.installations[0].spec.get("calicoNetwork") or {}
            current = spec.get("nodeAddressAutodetectionV4") or {}
        # Only one autodetection method may be set: null the others in the same merge patch.
        nulls = {k: None for k in _AUTODETECT_FIELDS if k in current}

        def patch(method: dict[str, object]) -> str:
            body = {"spec": {"calicoNetwork": {"nodeAddressAutodetectionV4": {**nulls, **method}}}}
            doc = json.dumps(body, separators=(",", ":"))
            return f"kubectl patch installation.operator.tigera.io {inst} --type=merge -p '{doc}'"

        cidr_list = list(cidr.cidrs) if cidr else ["<node subnet>"]
        return (
            Action(message=Message(how, params), command=patch({"cidrs": cidr_list})),
            Action(
                message=Message("fix.calico_internal_ip_alt", params),
                command=patch({"kubernetes": "NodeInternalIP"}),
            ),
        )
    return (
        Action(
            message=Message(how, params),
            command=f"kubectl set env daemonset/{ds} -n {ns} {AUTODETECT_ENV}=cidr={cidrs}",
        ),
        Action(
            message=Message("fix.calico_internal_ip_alt", params),
            command=(
                f"kubectl set env daemonset/{ds} -n {ns} {AUTODETECT_ENV}=kubernetes-internal-ip"
            ),
        ),
    )


def _verify_actions(ctx: Context, node: str, want: str) -> tuple[Action, ...]:
    agent = ctx.cni.agent("calico")
    ns = agent.namespace if agent else "kube-system"
    ds = agent.name if agent else "calico-node"
    out = [
        Action(
            message=Message("verify.calico_rollout", {"daemonset": ds}),
            command=f"kubectl -n {ns} rollout status daemonset/{ds}",
        ),
        Action(
            message=Message("verify.calico_address", {"node": node, "address": want}),
            command=(
                f"kubectl get node {node} -o "
                "jsonpath='{.metadata.annotations.projectcalico\\.org/IPv4Address}'"
            ),
        ),
    ]
    q = ctx.question
    snap = ctx.snapshot
    if q and q.from_ and q.to:
        src = snap.pod_by_ref.get(q.from_)
        dst = snap.pod_by_ref.get(q.to)
        if src and dst and dst.ips:
            out.append(
                Action(
                    message=Message("verify.ping", {"from": src.ref, "to": dst.ips[0]}),
                    command=(
                        f"kubectl exec -n {src.metadata.namespace} {src.metadata.name}"
                        f" -- ping -c 3 {dst.ips[0]}"
                    ),
                )
            )
    return tuple(out)


def _current_method(ctx: Context) -> Evidence | None:
    agent = ctx.cni.agent("calico")
    if agent is None or agent.daemonset is None:
        return None
    c = agent.container
    if not isinstance(c, Container):
        return None
    value = c.env_value(AUTODETECT_ENV)
    return Evidence(
        source=ctx.snapshot.source("k8s.daemonsets"),
        object=f"DaemonSet/{agent.namespace}/{agent.name}",
        field=f"spec.template.spec.containers[{c.name}].env[{AUTODETECT_ENV}]",
        value=value if value is not None else "(unset: first-found)",
    )


@check("calico-node-address-mismatch", code="NET-301", needs=("k8s.nodes",), cni=("calico",))
def address_mismatch(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    claims = calico_claims(ctx)
    on_internal = {
        n for n, c in claims.items() if ip_only(c.address) in snap.node_by_name[n].internal_ips
    }
    cidr = None
    for name, claim in sorted(claims.items()):
        node = snap.node_by_name[name]
        internal = node.internal_ips
        addr = ip_only(claim.address)
        if not internal or addr in internal:
            continue
        peers = [n for n in snap.node_by_name if n != name]
        view = peers_reach(snap, addr, peers)
        unreachable = [p for p in view.known if p not in view.reaching]
        if view.known and not unreachable:
            continue  # every peer we can see has a way to it: a deliberate, working choice
        if not view.known:
            # No peer facts: only an odd one out (the others use their InternalIP) is a finding.
            if not on_internal:
                continue
            severity, confidence, variant = Severity.WARNING, 0.6, "unconfirmed"
        else:
            severity, confidence, variant = Severity.CRITICAL, 1.0, "default"
        held = node_holding(snap, name, addr)
        iface = held[0].ifname if held else claim.iface
        internal_held = node_holding(snap, name, internal[0])
        ev = list(claim.evidence)
        ev.append(internal_ip_evidence(snap, node))
        if held is not None:
            ev.append(iface_evidence(snap, name, *held))
        if internal_held is not None:
            ev.append(iface_evidence(snap, name, *internal_held))
        ev.extend(peer_path_evidence(snap, peer, addr) for peer in unreachable)
        method = _current_method(ctx)
        if method is not None:
            ev.append(method)
        if cidr is None:
            cidr = _autodetect_cidrs(ctx)
        if iface is None:
            variant = "no_iface" if variant == "default" else variant
        yield Finding(
            id="calico-node-address-mismatch",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={
                "node": name,
                "calico_ip": claim.address,
                "iface": iface or "",
                "internal_ip": internal[0],
                "internal_iface": internal_held[0].ifname if internal_held else "",
                "peers": ", ".join(unreachable),
            },
            evidence=tuple(ev) + (cidr.evidence if cidr else ()),
            fix=_fix_actions(ctx, cidr),
            verify=_verify_actions(ctx, name, internal[0]),
            nodes=(name, *unreachable),
            severity=severity,
            confidence=confidence,
        )


@check("calico-duplicate-node-address", code="NET-302", needs=("k8s.nodes",), cni=("calico",))
def duplicate_address(ctx: Context) -> Iterator[Yielded]:
    claims = calico_claims(ctx)
    by_ip: dict[str, list[AddressClaim]] = defaultdict(list)
    for c in claims.values():
        by_ip[ip_only(c.address)].append(c)
    cidr = None
    for ip, group in sorted(by_ip.items()):
        if len(group) < 2:
            continue
        names = [c.node for c in group]
        if cidr is None:
            cidr = _autodetect_cidrs(ctx)
        ifaces = sorted({c.iface for c in group if c.iface})
        yield Finding(
            id="calico-duplicate-node-address",
            subject=Subject(kind="Node", name=names[0]),
            params={"address": ip, "nodes": ", ".join(names), "ifaces": ", ".join(ifaces)},
            evidence=tuple(e for c in group for e in c.evidence),
            fix=_fix_actions(ctx, cidr),
            verify=_verify_actions(ctx, names[0], "")[:1],
            nodes=tuple(names),
        )


# --- NET-303 .. NET-305: BGP, encapsulation across subnets, release vs Kubernetes -------------

_BGP_DOWN = re.compile(r"BGP not established with[ \t]*([0-9A-Fa-f:.,\t ]+)")
STATUS_FILES = ("calicoctl-node-status", "birdcl-show-protocols")


def calico_backend(ctx: Context) -> tuple[str | None, Evidence | None]:
    """How Calico routes between nodes: ``bird`` (BGP), ``vxlan`` or ``none``; None unknown.

    Manifest installs say it in the ``calico-config`` ConfigMap (``calico_backend``); the
    operator in ``Installation.spec.calicoNetwork.bgp`` (Enabled unless Disabled).
    """
    snap = ctx.snapshot
    agent = ctx.cni.agent("calico")
    if ctx.cni.calico_operator and snap.installations:
        inst = snap.installations[0]
        bgp = (inst.spec.get("calicoNetwork") or {}).get("bgp") or "Enabled"
        ev = Evidence(
            source=snap.source("k8s.installations"),
            object=f"Installation/{inst.metadata.name}",
            field="spec.calicoNetwork.bgp",
            value=str(bgp),
        )
        return ("bird" if bgp == "Enabled" else "none"), ev
    for ns in dict.fromkeys((agent.namespace if agent else "kube-system", "kube-system")):
        cm = snap.configmap_by_ref.get(f"{ns}/calico-config")
        if cm is not None and "calico_backend" in cm.data:
            value = cm.data["calico_backend"].strip()
            ev = Evidence(
                source=snap.source("k8s.configmaps"),
                object=f"ConfigMap/{ns}/calico-config",
                field="data.calico_backend",
                value=value,
            )
            return value, ev
    # A manifest edited to set the backend inline rather than through the ConfigMap.
    c = agent.container if agent else None
    inline = c.env_value("CALICO_NETWORKING_BACKEND") if isinstance(c, Container) else None
    if agent is not None and c is not None and inline:
        ev = Evidence(
            source=snap.source("k8s.daemonsets"),
            object=f"DaemonSet/{agent.namespace}/{agent.name}",
            field=f"spec.template.spec.containers[{c.name}].env[CALICO_NETWORKING_BACKEND]",
            value=inline,
        )
        return inline, ev
    return None, None


def _peer_captures(ctx: Context, node: str) -> tuple[list[BgpPeer], str | None]:
    """The BGP sessions a node's capture lists, and the capture's bundle path."""
    facts = ctx.snapshot.node_facts.get(node)
    extra = facts.extra if facts is not None else {}
    for name in STATUS_FILES:
        text = extra.get(name)
        if text:
            peers = (
                parse_calicoctl_node_status(text)
                if name == STATUS_FILES[0]
                else parse_birdcl_protocols(text)
            )
            return list(peers), f"nodes/{node}/extra/{name}.txt"
    return [], None


def _addresses(text: str) -> list[str]:
    out = []
    for word in re.split(r"[,\s]+", text):
        ip = parse_ip(word)
        if ip is not None and str(ip) not in out:
            out.append(str(ip))
    return out


def _bgp_down(ctx: Context) -> dict[str, dict[str, list[Evidence]]]:
    """node -> peer address -> the evidence that its session is down."""
    snap = ctx.snapshot
    agent = ctx.cni.agent("calico")
    down: dict[str, dict[str, list[Evidence]]] = defaultdict(lambda: defaultdict(list))
    for pod in agent.pods if agent else ():
        node = pod.spec.node_name
        if not node or pod.ready:
            continue  # a Ready calico-node passes its BIRD readiness check now
        for cond in pod.status.conditions:
            m = _BGP_DOWN.search(cond.message) if cond.type == "Ready" else None
            if m:
                ev = pod_evidence(
                    snap,
                    pod,
                    "status.conditions[Ready].message",
                    _line_of(cond.message, m.start())[:300],
                )
                for peer in _addresses(m.group(1)):
                    down[node][peer].append(ev)
        for e in pod_events(snap, pod):
            m = _BGP_DOWN.search(e.message)
            if m:
                ev = Evidence(
                    source=snap.source("k8s.events"),
                    object=f"Event/{e.metadata.namespace}/{e.metadata.name}",
                    field=f"reason {e.reason}",
                    value=_line_of(e.message, m.start())[:300],
                    node=node,
                )
                for peer in _addresses(m.group(1)):
                    down[node][peer].append(ev)
    for node in sorted(snap.node_by_name):
        peers, path = _peer_captures(ctx, node)
        for p in peers:
            if path and not p.established:
                down[node][p.address].append(
                    Evidence(
                        source=path,
                        object=f"BGPPeer/{p.address}",
                        field=f"line {p.line}",
                        value=p.text,
                        node=node,
                    )
                )
    return down


def _line_of(text: str, at: int) -> str:
    """The line of a multi-line message holding position ``at`` (probe output spans lines)."""
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    return text[start : end if end >= 0 else len(text)].strip()


def _claimant(ctx: Context, address: str) -> str | None:
    """The node whose Calico address is ``address`` (a wrong one: not its InternalIP)."""
    for name, claim in calico_claims(ctx).items():
        if ip_only(claim.address) == address:
            return name
    return None


@check("calico-bgp-not-established", code="NET-303", needs=("k8s.pods",), cni=("calico",))
def bgp_not_established(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    backend, backend_ev = calico_backend(ctx)
    if backend in ("vxlan", "none"):
        yield NotApplicable()  # no BIRD, no BGP sessions to be down
        return
    # One finding per session: both ends usually report the same broken pair.
    claims = calico_claims(ctx)
    sessions: dict[tuple[str, str], list[Evidence]] = {}
    for node, peers in sorted(_bgp_down(ctx).items()):
        for peer, ev in sorted(peers.items()):
            other = _node_of(ctx, peer)
            key = tuple(sorted((node, other))) if other and other != node else (node, peer)
            sessions.setdefault((key[0], key[1]), []).extend(ev)
    for (a, b), ev in sessions.items():
        evidence = list(dict.fromkeys(ev))
        if backend_ev is not None:
            evidence.append(backend_ev)
        if b not in snap.node_by_name:  # a peer that is no node: a router, or unknown
            yield _bgp_finding(
                ctx, a, b, "", "undetermined", 0.6, evidence, (), {"files": _more_data(ctx, a)}
            )
            continue
        wrong = [
            n
            for n in (a, b)
            if n in claims and ip_only(claims[n].address) not in snap.node_by_name[n].internal_ips
        ]
        if wrong:
            # The session targets a node's wrong Calico address: NET-301 is the cause.
            bad = wrong[0]
            other = b if bad == a else a
            cnode = snap.node_by_name[bad]
            evidence.append(internal_ip_evidence(snap, cnode))
            yield _bgp_finding(
                ctx,
                other,
                _calico_ip(ctx, bad),
                bad,
                "wrong_peer",
                0.5,
                evidence,
                _fix_actions(ctx, _autodetect_cidrs(ctx)),
                {"internal_ip": ", ".join(cnode.internal_ips)},
            )
            continue
        # BIRD's mesh connects from one end only: look at both ends' INPUT chains.
        for src, dst in ((a, b), (b, a)):
            blocked = _bgp_blocked(ctx, src, dst, _calico_ip(ctx, dst))
            if blocked is not None:
                rule_ev, rule_text = blocked
                evidence.append(rule_ev)
                yield _bgp_finding(
                    ctx,
                    src,
                    _calico_ip(ctx, dst),
                    dst,
                    "default",
                    0.9,
                    evidence,
                    (_unblock_action(dst, rule_text),),
                    {"rule": rule_text},
                )
                break
        else:
            missing = [
                snap.node_source(n, "iptables") for n in (a, b) if not snap.node_has(n, "iptables")
            ]
            files = ", ".join(missing) or _more_data(ctx, a)
            yield _bgp_finding(
                ctx,
                a,
                _calico_ip(ctx, b),
                b,
                "undetermined",
                0.6,
                evidence,
                (),
                {"files": files},
            )


def _more_data(ctx: Context, node: str) -> str:
    """What would tell why a session is down: the BGP status capture, else calico-node's log,
    else BIRD's own account (``show protocols all``), which no bundle file holds."""
    snap = ctx.snapshot
    facts = snap.node_facts.get(node)
    if facts is None or not any(name in facts.extra for name in STATUS_FILES):
        return f"nodes/{node}/extra/{STATUS_FILES[0]}.txt"
    agent = ctx.cni.agent("calico")
    pod = agent.pod_on(node) if agent else None
    if agent is not None and pod is not None and snap.log(pod, agent.agent.container) is None:
        return snap.log_source(pod.ref, agent.agent.container)
    return f"nodes/{node}/extra/birdcl-show-protocols-all.txt"


def _node_of(ctx: Context, address: str) -> str | None:
    """The node a BGP peer address belongs to: by InternalIP, else by its Calico address."""
    owner = ctx.snapshot.node_by_address.get(address)
    if owner:
        return owner[0].metadata.name
    return _claimant(ctx, address)


def _bgp_finding(
    ctx: Context,
    node: str,
    peer: str,
    peer_node: str,
    variant: str,
    confidence: float,
    evidence: list[Evidence],
    fix: tuple[Action, ...],
    extra: dict[str, str],
) -> Finding:
    return Finding(
        id="calico-bgp-not-established",
        subject=Subject(kind="Node", name=node),
        variant=variant,
        params={"node": node, "peer": peer, "peer_node": peer_node, "internal_ip": "", **extra},
        evidence=tuple(evidence),
        fix=fix,
        verify=_bgp_verify(ctx, node),
        nodes=(node, peer_node) if peer_node else (node,),
        severity=None if variant == "default" else Severity.WARNING,
        confidence=confidence,
    )


def _calico_ip(ctx: Context, node: str) -> str:
    """The address BIRD peers with on ``node``: its Calico address, else its InternalIP."""
    claim = calico_claims(ctx).get(node)
    if claim is not None:
        return ip_only(claim.address)
    n = ctx.snapshot.node_by_name.get(node)
    return n.internal_ips[0] if n and n.internal_ips else ""


def _bgp_blocked(ctx: Context, node: str, peer_node: str, peer: str) -> tuple[Evidence, str] | None:
    """The rule (or policy) of ``peer_node``'s INPUT chain that drops a BGP SYN from ``node``;
    None when the rules accept it, cannot tell, or were not collected."""
    snap = ctx.snapshot
    facts = snap.node_facts.get(peer_node)
    if facts is None or facts.iptables is None:
        return None
    src = _calico_ip(ctx, node)
    if not src or not peer:
        return None
    local = frozenset(a.local for i in facts.interfaces or () for a in i.addr_info if a.local)
    held = node_holding(snap, peer_node, peer)
    d = evaluate(
        facts.iptables,
        "filter",
        "INPUT",
        Packet(
            src=src,
            dst=peer,
            proto="tcp",
            sport=40000,
            dport=179,
            in_iface=held[0].ifname if held else None,
            local_addresses=local | {peer},
        ),
    )
    if d.verdict != "drop":
        return None
    source = snap.node_source(peer_node, "iptables")
    if d.deciding is not None:
        ev = Evidence(
            source=source,
            object=f"Chain/filter/{d.deciding.chain}",
            field=f"line {d.deciding.line}",
            value=d.deciding.text,
            node=peer_node,
        )
        return ev, d.deciding.text
    ev = Evidence(
        source=source,
        object=f"Chain/filter/{d.chain}",
        field="policy",
        value=d.policy or "DROP",
        node=peer_node,
    )
    return ev, f":{d.chain} {d.policy or 'DROP'}"


def _unblock_action(peer_node: str, rule: str) -> Action:
    if rule.startswith("-A "):
        command = "iptables " + rule.replace("-A ", "-D ", 1)
    else:
        command = "iptables -I INPUT -p tcp --dport 179 -j ACCEPT"
    return Action(
        message=Message("fix.calico_bgp_unblock", {"node": peer_node, "rule": rule}),
        command=command,
    )


def _bgp_verify(ctx: Context, node: str) -> tuple[Action, ...]:
    agent = ctx.cni.agent("calico")
    ns = agent.namespace if agent else "kube-system"
    pod = agent.pod_on(node) if agent else None
    name = pod.metadata.name if pod else "<calico-node pod on " + node + ">"
    return (
        Action(
            message=Message("verify.calico_bgp_sessions", {"node": node}),
            command=(
                f"kubectl -n {ns} exec {name} -c calico-node --"
                " birdcl -s /var/run/calico/bird.ctl show protocols"
            ),
        ),
    )


@dataclass(frozen=True)
class _Pool:
    name: str
    cidr: str
    ipip: str
    vxlan: str
    evidence: Evidence
    operator_index: int | None = None  # position in Installation.spec.calicoNetwork.ipPools


_OPERATOR_ENCAP = {
    "None": ("Never", "Never"),
    "IPIP": ("Always", "Never"),
    "IPIPCrossSubnet": ("CrossSubnet", "Never"),
    "VXLAN": ("Never", "Always"),
    "VXLANCrossSubnet": ("Never", "CrossSubnet"),
}


def _pools(ctx: Context) -> list[_Pool]:
    """The enabled IPv4 pools: IPPool resources, else the operator's Installation pools."""
    snap = ctx.snapshot
    out = []
    for p in snap.ippools or ():
        if p.spec.disabled or ":" in p.spec.cidr:
            continue
        out.append(
            _Pool(
                name=p.metadata.name,
                cidr=p.spec.cidr,
                ipip=p.spec.ipip_mode or "Never",
                vxlan=p.spec.vxlan_mode or "Never",
                evidence=Evidence(
                    source=snap.source("k8s.ippools"),
                    object=f"IPPool/{p.metadata.name}",
                    field="spec.ipipMode/vxlanMode",
                    value=f"{p.spec.ipip_mode or 'Never'}/{p.spec.vxlan_mode or 'Never'}",
                ),
            )
        )
    if out or snap.ippools is not None or not snap.installations:
        return out
    inst = snap.installations[0]
    for i, raw in enumerate((inst.spec.get("calicoNetwork") or {}).get("ipPools") or []):
        cidr = str(raw.get("cidr", ""))
        encap = str(raw.get("encapsulation") or "IPIP")  # the operator's default
        if ":" in cidr or raw.get("disabled") or encap not in _OPERATOR_ENCAP:
            continue
        ipip, vxlan = _OPERATOR_ENCAP[encap]
        out.append(
            _Pool(
                name=str(raw.get("name") or cidr),
                cidr=cidr,
                ipip=ipip,
                vxlan=vxlan,
                evidence=Evidence(
                    source=snap.source("k8s.installations"),
                    object=f"Installation/{inst.metadata.name}",
                    field=f"spec.calicoNetwork.ipPools[{i}].encapsulation",
                    value=encap,
                ),
                operator_index=i,
            )
        )
    return out


def _router_peers(ctx: Context) -> bool | None:
    """Whether BIRD peers with routers (global / node-specific BGPPeers), from the captures.

    True: some node has such a session (routers learn the pod routes); False: captures exist
    and list only the node-to-node mesh; None: no capture, so netdoctor cannot tell.
    """
    seen = False
    for node in sorted(ctx.snapshot.node_by_name):
        peers, path = _peer_captures(ctx, node)
        if path is None:
            continue
        seen = True
        if any(not p.mesh for p in peers):
            return True
    return False if seen else None


@check(
    "calico-encapsulation-cross-subnet",
    code="NET-304",
    needs=("k8s.nodes", "node.ip_addr"),
    cni=("calico",),
)
def encapsulation_cross_subnet(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    pools = _pools(ctx)
    bare = [p for p in pools if p.ipip == "Never" and p.vxlan == "Never"]
    if pools and not bare:
        return  # every pool tunnels: subnets do not matter
    subnets: dict[str, list[str]] = defaultdict(list)
    ev: list[Evidence] = []
    unknown: list[Note] = []
    for node in snap.nodes or ():
        name = node.metadata.name
        ip = node.internal_ips[0] if node.internal_ips else None
        held = node_holding(snap, name, ip) if ip else None
        if held is None:
            path = snap.node_source(name, "ip_addr")
            unknown.append(
                Note(Message("note.calico_subnet_unknown", {"node": name, "path": path}))
            )
            continue
        subnets[str(held[1].interface.network)].append(name)
        ev.append(iface_evidence(snap, name, *held))
    if not pools:
        if len(subnets) > 1:  # the pools' encapsulation decides: name the file to collect
            yield Skip(Message("skip.missing", {"path": snap.source("k8s.ippools")}))
        return
    yield from unknown
    if len(subnets) < 2:
        return  # one L2 subnet (as far as the facts go): no router between the nodes
    backend, backend_ev = calico_backend(ctx)
    routers = _router_peers(ctx) if backend != "vxlan" else False
    if routers:
        return  # the routers learn every node's pod routes over BGP: no tunnel needed
    confidence, variant = (1.0, "default") if routers is False else (0.7, "peering_unknown")
    groups = sorted(subnets.items())
    mode = "vxlanMode" if backend == "vxlan" else "ipipMode"
    for pool in bare:
        yield Finding(
            id="calico-encapsulation-cross-subnet",
            subject=Subject(kind="IPPool", name=pool.name),
            variant=variant,
            params={
                "pool": pool.name,
                "cidr": pool.cidr,
                "subnets": "; ".join(f"{net}: {', '.join(sorted(ns))}" for net, ns in groups),
                "mode": mode,
                "files": f"nodes/<node>/extra/{STATUS_FILES[0]}.txt",
            },
            evidence=(pool.evidence, *ev, *([backend_ev] if backend_ev else [])),
            fix=_encap_fix(ctx, pool, mode),
            verify=(
                Action(
                    message=Message("verify.calico_pool_mode", {"pool": pool.name}),
                    command=(
                        f"kubectl get ippools.crd.projectcalico.org {pool.name}"
                        " -o jsonpath='{.spec.ipipMode}/{.spec.vxlanMode}'"
                    ),
                ),
            ),
            nodes=tuple(n for _, ns in groups for n in ns),
            confidence=confidence,
        )


def _operator_pool_index(ctx: Context, cidr: str) -> int | None:
    """Where the operator's Installation declares the pool with this CIDR: the operator owns
    such a pool and puts back whatever is edited on the IPPool itself."""
    snap = ctx.snapshot
    if not (ctx.cni.calico_operator and snap.installations):
        return None
    pools = (snap.installations[0].spec.get("calicoNetwork") or {}).get("ipPools") or []
    for i, raw in enumerate(pools):
        if str(raw.get("cidr", "")) == cidr:
            return i
    return None


def _encap_fix(ctx: Context, pool: _Pool, mode: str) -> tuple[Action, ...]:
    params = {"pool": pool.name, "mode": mode}
    if pool.operator_index is None:
        pool = dataclasses.replace(pool, operator_index=_operator_pool_index(ctx, pool.cidr))
    if pool.operator_index is not None:
        snap = ctx.snapshot
        inst = snap.installations[0].metadata.name if snap.installations else "default"
        value = "VXLANCrossSubnet" if mode == "vxlanMode" else "IPIPCrossSubnet"
        op = [
            {
                "op": "replace",
                "path": f"/spec/calicoNetwork/ipPools/{pool.operator_index}/encapsulation",
                "value": value,
            }
        ]
        doc = json.dumps(op, separators=(",", ":"))
        return (
            Action(
                message=Message("fix.calico_encap_operator", {**params, "value": value}),
                command=(
                    f"kubectl patch installation.operator.tigera.io {inst} --type=json -p '{doc}'"
                ),
            ),
        )
    body = json.dumps({"spec": {mode: "CrossSubnet"}}, separators=(",", ":"))
    return (
        Action(
            message=Message("fix.calico_encap_cross_subnet", params),
            command=f"kubectl patch ippool {pool.name} --type merge -p '{body}'",
        ),
    )


def _node_images(ctx: Context) -> dict[str, str]:
    agent = ctx.cni.agent("calico")
    out: dict[str, str] = {}
    if agent is None:
        return out
    for pod in agent.pods:
        for c in pod.spec.containers:
            if c.name == agent.agent.container and pod.spec.node_name:
                out[pod.spec.node_name] = c.image
    return out


@check("calico-version-unsupported", code="NET-305", cni=("calico",))
def version_unsupported(ctx: Context) -> Iterator[Yielded]:
    # Advisory: a missing version is a note, not a skip, so it never makes a reachability
    # answer inconclusive on its own. A node whose calico-node runs another image than its
    # peers is always said: on the finding when there is one, else as a note of its own.
    agent = ctx.cni.agent("calico")
    odd = odd_one_out(_node_images(ctx))
    odd_note = odd.note("agent_image", agent=agent.name) if odd and agent else None
    finding = None
    for item in _version_verdict(ctx):
        if isinstance(item, Finding):
            finding = item
        else:
            yield item
    if finding is not None:
        yield msgspec.structs.replace(finding, notes=(odd_note,) if odd_note else ())
    elif odd_note is not None:
        yield Note(odd_note)


def _version_verdict(ctx: Context) -> Iterator[Finding | Note]:
    snap = ctx.snapshot
    agent = ctx.cni.agent("calico")
    server = snap.version.server_version if snap.version else None
    k8s = minor_of(server.git_version) if server and server.git_version else None
    if agent is None or agent.version is None or k8s is None:
        what = snap.source("k8s.version") if k8s is None else snap.source("k8s.daemonsets")
        yield Note(Message("note.calico_version_unknown", {"path": what}))
        return
    version = agent.version
    row = calico_release(version)
    kube = f"{k8s[0]}.{k8s[1]}"
    if row is None:
        yield Note(Message("note.calico_release_unknown", {"version": version, "k8s": kube}))
        return
    tested = ", ".join(f"{a}.{b}" for a, b in row.tested)
    params = {"version": version, "k8s": kube, "tested": tested, "url": row.url}
    lo, hi = row.tested[0], row.tested[-1]
    if lo <= k8s <= hi:
        return
    if row.broken_at_or_below is not None and k8s <= row.broken_at_or_below:
        variant, severity = "will_not_work", Severity.CRITICAL
    elif k8s < lo:
        variant, severity = "older", Severity.WARNING
    elif k8s[1] - hi[1] >= 3 and k8s[0] == hi[0]:
        # Kubernetes removes beta APIs three minors after deprecating them: past the tested
        # window by three or more, the APIs the release was built against may be gone.
        variant, severity = "default", Severity.WARNING
    else:
        yield Note(Message("note.calico_release_untested", params))
        return
    c = agent.container
    image = c.image if c is not None else version
    ev = [
        Evidence(
            source=snap.source("k8s.daemonsets" if agent.daemonset else "k8s.pods"),
            object=f"DaemonSet/{agent.namespace}/{agent.name}",
            field=f"spec.template.spec.containers[{agent.agent.container}].image",
            value=image,
        ),
        Evidence(
            source=snap.source("k8s.version"),
            object="Version/server",
            field="serverVersion.gitVersion",
            value=server.git_version if server else "",
        ),
        Evidence(source=row.url, object=f"Calico/{row.release}", field="tested", value=tested),
    ]
    target = _release_for(k8s)
    fix = _upgrade_fix(ctx, params, target)
    yield Finding(
        id="calico-version-unsupported",
        subject=Subject(kind="DaemonSet", name=agent.name, namespace=agent.namespace),
        variant=variant,
        params={**params, "target": target or ""},
        evidence=tuple(ev),
        fix=fix,
        verify=(
            Action(
                message=Message("verify.calico_version", {"k8s": kube, "daemonset": agent.name}),
                command=f"kubectl -n {agent.namespace} rollout status daemonset/{agent.name}",
            ),
        ),
        severity=severity,
    )


def _upgrade_fix(ctx: Context, params: dict[str, str], target: str | None) -> tuple[Action, ...]:
    agent = ctx.cni.agent("calico")
    if target is None or agent is None:
        ns = agent.namespace if agent else "kube-system"
        name = agent.name if agent else "calico-node"
        return (
            Action(
                message=Message("fix.calico_upgrade_unknown", params),
                command=(
                    f"kubectl -n {ns} get daemonset {name}"
                    " -o jsonpath='{.spec.template.spec.containers[*].image}'"
                ),
            ),
        )
    manifest = "tigera-operator.yaml" if ctx.cni.calico_operator else "calico.yaml"
    url = f"https://raw.githubusercontent.com/projectcalico/calico/{target}.0/manifests/{manifest}"
    return (
        Action(
            message=Message(
                "fix.calico_upgrade_operator" if ctx.cni.calico_operator else "fix.calico_upgrade",
                {**params, "target": target},
            ),
            command=f"curl -fLO {url}",
        ),
    )


def _release_for(k8s: tuple[int, int]) -> str | None:
    """The newest Calico release in the table tested against this Kubernetes minor."""
    best = None
    for minor in range(40, 10, -1):
        row = calico_release(f"3.{minor}")
        if row is not None and k8s in row.tested:
            best = f"v{row.release}"
            break
    return best
