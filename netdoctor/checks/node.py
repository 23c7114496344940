"""Node-level root causes (NET-1xx): forwarding, addresses, and other host settings.

Checks layer: pure functions over the Snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from netdoctor.checks.common import internal_ip_evidence, shared_subnet_address
from netdoctor.checks.registry import Context, Note, Yielded, check
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject

IP_FORWARD = "net.ipv4.ip_forward"


@check("node-ip-forward-disabled", code="NET-101", needs=("k8s.nodes", "node.sysctl"))
def ip_forward_disabled(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    off: list[tuple[str, Evidence]] = []
    on: list[str] = []
    for node in snap.node_by_name:
        facts = snap.node_facts.get(node)
        if facts is None or facts.sysctl is None:
            yield Note(
                Message(
                    "note.node_file_missing",
                    {"node": node, "path": snap.node_source(node, "sysctl")},
                )
            )
            continue
        value = facts.sysctl.get(IP_FORWARD)
        if value is None:
            yield Note(
                Message(
                    "note.sysctl_key_missing",
                    {"node": node, "key": IP_FORWARD, "path": snap.node_source(node, "sysctl")},
                )
            )
            continue
        if value.strip() == "0":
            off.append(
                (
                    node,
                    Evidence(
                        source=snap.node_source(node, "sysctl"),
                        object=f"Node/{node}",
                        field=IP_FORWARD,
                        value=value.strip(),
                        node=node,
                    ),
                )
            )
        else:
            on.append(node)
    for node, ev in off:
        params = {"node": node, "others": ", ".join(on), "count_on": str(len(on))}
        yield Finding(
            id="node-ip-forward-disabled",
            subject=Subject(kind="Node", name=node),
            params=params,
            variant="odd_one_out" if on else "default",
            evidence=(ev,),
            fix=(
                Action(
                    message=Message("fix.ip_forward_now", {"node": node}),
                    command="sysctl -w net.ipv4.ip_forward=1",
                ),
                Action(
                    message=Message("fix.ip_forward_persist", {"node": node}),
                    command=(
                        "echo 'net.ipv4.ip_forward = 1'"
                        " > /etc/sysctl.d/99-kubernetes-ip-forward.conf"
                        " && sysctl --system"
                    ),
                ),
            ),
            verify=(
                Action(
                    message=Message("verify.ip_forward", {"node": node}),
                    command="sysctl net.ipv4.ip_forward",
                ),
            ),
            nodes=(node,),
        )


@check("node-internal-ip-duplicate", code="NET-105", needs=("k8s.nodes",))
def internal_ip_duplicate(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    by_ip: dict[str, list[str]] = defaultdict(list)
    for node in snap.nodes or ():
        for ip in node.internal_ips:
            by_ip[ip].append(node.metadata.name)
    for ip, names in sorted(by_ip.items()):
        if len(names) < 2:
            continue
        fixes = []
        for name in names:
            candidate = shared_subnet_address(snap, name, ip, names)
            node_ip = candidate or f"<address of {name}>"
            fixes.append(
                Action(
                    message=Message(
                        "fix.kubelet_node_ip" if candidate else "fix.kubelet_node_ip_unknown",
                        {"node": name, "address": candidate or ""},
                    ),
                    command=(
                        f"echo 'KUBELET_EXTRA_ARGS=--node-ip={node_ip}'"
                        " >> /etc/default/kubelet && systemctl restart kubelet"
                    ),
                )
            )
        yield Finding(
            id="node-internal-ip-duplicate",
            subject=Subject(kind="Node", name=names[0]),
            params={"address": ip, "nodes": ", ".join(names)},
            evidence=tuple(internal_ip_evidence(snap, snap.node_by_name[n]) for n in names),
            fix=tuple(fixes),
            verify=(
                Action(
                    message=Message("verify.internal_ips", {}),
                    command="kubectl get nodes -o wide",
                ),
            ),
            nodes=tuple(names),
        )
