"""Open vSwitch and OVN command output as typed facts: ``ovs-vsctl show`` and ``ovn-trace``.

Model layer. A bundle carries them as ``nodes/<node>/extra/ovs-vsctl-show.txt`` and
``nodes/<node>/extra/ovn-trace-<label>.txt``; ``netdoctor.parsers.ovn`` decodes them at load
time so the Kube-OVN checks read structures, never text.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "TUNNEL_TYPES",
    "OvnTrace",
    "OvsBridge",
    "OvsInterface",
    "OvsPort",
    "OvsShow",
    "TracePipeline",
    "TraceStep",
    "stage_kind",
]

TUNNEL_TYPES = frozenset({"geneve", "vxlan", "stt", "gre"})


class _O(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    pass


class OvsInterface(_O, frozen=True):
    name: str
    type: str = ""  # "" (system), internal, geneve, vxlan, patch, ...
    options: dict[str, str] = msgspec.field(default_factory=dict)
    error: str | None = None  # the `error: "..."` line ovs-vsctl prints for a broken port
    line: int = 0  # 1-based line of the Interface in the file
    options_line: int = 0  # 1-based line of its options (remote_ip), when it has them
    error_line: int = 0  # 1-based line of its error, when it has one

    @property
    def remote_ip(self) -> str | None:
        return self.options.get("remote_ip")


class OvsPort(_O, frozen=True):
    name: str
    interfaces: tuple[OvsInterface, ...] = ()
    tag: str | None = None


class OvsBridge(_O, frozen=True):
    name: str
    ports: tuple[OvsPort, ...] = ()
    fail_mode: str | None = None


class OvsShow(_O, frozen=True):
    """One ``ovs-vsctl show``: the Open_vSwitch uuid, bridges, version."""

    uuid: str = ""
    bridges: tuple[OvsBridge, ...] = ()
    ovs_version: str | None = None
    error: str | None = None  # "ovs-vsctl: ... database connection failed (...)" instead

    def bridge(self, name: str) -> OvsBridge | None:
        for b in self.bridges:
            if b.name == name:
                return b
        return None

    def tunnels(self) -> list[tuple[OvsBridge, OvsPort, OvsInterface]]:
        """Every tunnel interface (geneve, vxlan, stt, gre), in file order."""
        return [
            (b, p, i)
            for b in self.bridges
            for p in b.ports
            for i in p.interfaces
            if i.type in TUNNEL_TYPES
        ]


class TraceStep(_O, frozen=True):
    """One logical flow the packet matched (or an implicit drop where none matched)."""

    table: int
    stage: str  # ls_in_port_sec_l2, ls_out_acl_eval, lr_in_ip_routing, ...
    match: str = ""  # the flow's match, as printed; "" for "no match"
    priority: int | None = None
    uuid: str | None = None
    actions: tuple[str, ...] = ()  # the action lines under it, comments included
    line: int = 0  # 1-based line in the file
    implicit_drop: bool = False

    @property
    def drops(self) -> bool:
        return self.implicit_drop or any(
            a.startswith(("drop;", "reject", "tcp_reset")) for a in self.actions
        )


class TracePipeline(_O, frozen=True):
    direction: str  # "ingress" | "egress"
    datapath: str
    inport: str = ""
    outport: str = ""
    steps: tuple[TraceStep, ...] = ()
    line: int = 0


class OvnTrace(_O, frozen=True):
    """One ``ovn-trace`` output (detailed, ``--summary`` or ``--minimal``).

    ``verdict`` is ``drop`` (a drop action or an implicit drop ended it), ``output`` (it left
    through ``output_port``) or ``unknown`` (the file shows neither).
    """

    microflow: dict[str, str] = msgspec.field(default_factory=dict)  # the "# ..." header
    form: str = "detailed"  # detailed | summary | minimal
    pipelines: tuple[TracePipeline, ...] = ()
    verdict: str = "unknown"
    output_port: str | None = None
    drop_step: TraceStep | None = None  # the step that dropped it (detailed form)
    drop_line: int = 0
    drop_text: str = ""  # the dropping line, as written

    @property
    def inport(self) -> str:
        return self.pipelines[0].inport if self.pipelines else ""

    @property
    def drop_pipeline(self) -> TracePipeline | None:
        if self.drop_step is None:
            return None
        for p in self.pipelines:
            if self.drop_step in p.steps:
                return p
        return None


def stage_kind(stage: str) -> str:
    """What an OVN logical pipeline stage does, as a fix needs it: ``acl``,
    ``port_security``, ``routing`` or ``other``.

    Stage names are ovn-northd's (``ovn-northd(8)``: ``ls_in_port_sec_l2``,
    ``ls_in_check_port_sec``, ``ls_out_acl_eval``, ``lr_in_ip_routing``, ...).
    """
    if "port_sec" in stage:
        return "port_security"
    if "_acl" in stage or "network_function" in stage:
        return "acl"
    if stage.startswith("lr_") or stage in ("ls_in_l2_lkup", "ls_in_l2_unknown"):
        return "routing"
    return "other"
