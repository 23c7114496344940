"""Cilium root causes (NET-6xx): the overlay each node's agent actually runs vs cilium-config.

Checks layer: pure functions over the Snapshot. Cilium's configuration is the ``cilium-config``
ConfigMap (``CniInfo.cilium``, read in checks/detect.py); what an agent really set up is its
tunnel device in the node's ``ip -d addr`` output: ``cilium_vxlan`` (kind vxlan) or
``cilium_geneve`` (kind geneve), both in external (collect-metadata) mode, with the UDP port in
``linkinfo.info_data.port``. Agent pods that are missing or not Ready are NET-202's; this family
judges only nodes whose agent is Ready.
"""

from __future__ import annotations

from collections.abc import Iterator

from netdoctor.checks._support.detect import CiliumConfig
from netdoctor.checks._support.registry import Context, NotApplicable, Skip, Yielded, check
from netdoctor.model.findings import Action, Evidence, Finding, Message, Subject
from netdoctor.model.nodefacts import Interface

__all__ = ["TUNNEL_DEVICES", "overlay_port", "tunnel_device"]

TUNNEL_DEVICES = {"cilium_vxlan": "vxlan", "cilium_geneve": "geneve"}


def overlay_port(cilium: CiliumConfig | None) -> tuple[str, int] | None:
    """The UDP port Cilium's overlay uses (``("udp", 8472)``), or None in native routing.
    For the firewall checks (NET-203): this is the port the nodes must accept from each other."""
    if cilium is None or cilium.tunnel_port is None:
        return None
    return "udp", cilium.tunnel_port


def tunnel_device(interfaces: tuple[Interface, ...]) -> list[tuple[Interface, str, int | None]]:
    """The node's Cilium tunnel devices: (interface, protocol, UDP port)."""
    out = []
    for i in interfaces:
        proto = TUNNEL_DEVICES.get(i.ifname)
        if proto is None or i.kind != proto:
            continue
        data = i.linkinfo.info_data if i.linkinfo and i.linkinfo.info_data else {}
        port = data.get("port")
        out.append((i, proto, port if isinstance(port, int) else None))
    return out


def _config_evidence(ctx: Context, cfg: CiliumConfig) -> list[Evidence]:
    src = ctx.snapshot.source("k8s.configmaps")
    obj = f"ConfigMap/{cfg.namespace}/cilium-config"
    ev = []
    for key in ("routing-mode", "tunnel", "tunnel-protocol"):
        if key in cfg.data:
            ev.append(Evidence(source=src, object=obj, field=f"data[{key}]", value=cfg.data[key]))
    ev.append(
        Evidence(
            source=src,
            object=obj,
            field="data[tunnel-port]",
            value=cfg.data["tunnel-port"]
            if cfg.tunnel_port_set
            else f"(unset: default {cfg.tunnel_port})",
        )
    )
    return ev


@check("cilium-tunnel-mismatch", code="NET-602", needs=("k8s.configmaps",), cni=("cilium",))
def tunnel_mismatch(ctx: Context) -> Iterator[Yielded]:
    snap = ctx.snapshot
    if not ctx.cni.has("cilium"):
        yield NotApplicable()
        return
    cfg = ctx.cni.cilium
    if cfg is None:
        yield Skip(
            Message("skip.missing_object", {"object": "ConfigMap/kube-system/cilium-config"})
        )
        return
    want_proto, want_port = cfg.tunnel_protocol, cfg.tunnel_port
    if want_proto is None or want_port is None:
        yield NotApplicable()  # native routing: no overlay to agree on
        return
    agent = ctx.cni.agent("cilium")
    pods = {p.spec.node_name: p for p in agent.pods} if agent else {}
    ns = agent.namespace if agent else cfg.namespace
    container = agent.agent.container if agent else "cilium-agent"
    seen = False
    for name in sorted(snap.node_by_name):
        facts = snap.node_facts.get(name)
        if facts is None or facts.interfaces is None:
            continue
        pod = pods.get(name)
        if pod is None or not pod.ready:
            continue  # NET-202 reports the agent itself
        seen = True
        devices = tunnel_device(facts.interfaces)
        wrong = [(i, p, port) for i, p, port in devices if p != want_proto or port != want_port]
        if (
            not devices
            or (not wrong)
            or any(p == want_proto and port == want_port for _, p, port in devices)
        ):
            continue
        iface, proto, port = wrong[0]
        variant = "protocol" if proto != want_proto else "default"
        ev = _config_evidence(ctx, cfg)
        ev.append(
            Evidence(
                source=snap.node_source(name, "ip_addr"),
                object=f"Interface/{iface.ifname}",
                field="linkinfo.info_kind / info_data.port",
                value=f"{iface.kind} / {port if port is not None else '?'}",
                node=name,
            )
        )
        yield Finding(
            id="cilium-tunnel-mismatch",
            subject=Subject(kind="Node", name=name),
            variant=variant,
            params={
                "node": name,
                "device": iface.ifname,
                "protocol": proto,
                "port": str(port) if port is not None else "?",
                "want_protocol": want_proto,
                "want_port": str(want_port),
                "pod": pod.metadata.name,
            },
            evidence=tuple(ev),
            fix=(
                Action(
                    message=Message(
                        "fix.cilium_restart_agent", {"pod": pod.metadata.name, "node": name}
                    ),
                    command=f"kubectl -n {ns} delete pod {pod.metadata.name}",
                ),
            ),
            verify=(
                Action(
                    message=Message(
                        "verify.cilium_tunnel_device",
                        {"node": name, "protocol": want_proto, "port": str(want_port)},
                    ),
                    command=(
                        f"kubectl -n {ns} exec {pod.metadata.name} -c {container} --"
                        f" ip -d link show cilium_{want_proto}"
                    ),
                ),
            ),
            nodes=(name,),
        )
    if not seen:
        yield Skip(Message("skip.missing", {"path": "nodes/<node>/ip-addr.json"}))
