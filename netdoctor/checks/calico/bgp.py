"""Calico root cause NET-303: a BGP session between two nodes is not established.

Checks layer: pure functions over the Snapshot. The down sessions come from calico-node's
readiness message and events (``BGP not established with A,B``) and from each node's BGP status
capture (``NetFacts.bgp_status``); the cause from the peers' Calico addresses (NET-301) and the
INPUT chains that may drop TCP 179.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from netdoctor.checks._support.common import (
    internal_ip_evidence,
    ip_only,
    node_holding,
    parse_ip,
    pod_events,
    pod_evidence,
)
from netdoctor.checks._support.registry import Context, NotApplicable, Yielded, check
from netdoctor.checks.calico._common import (
    STATUS_FILES,
    autodetect_cidrs,
    calico_backend,
    fix_actions,
    peer_captures,
)
from netdoctor.checks.calico.address import calico_claims
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject
from netdoctor.netfilter import Packet, evaluate

__all__ = ["bgp_not_established"]

_BGP_DOWN = re.compile(r"BGP not established with[ \t]*([0-9A-Fa-f:.,\t ]+)")


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
        peers, path = peer_captures(ctx, node)
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
                fix_actions(ctx, autodetect_cidrs(ctx)),
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
