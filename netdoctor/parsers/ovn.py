"""``ovs-vsctl show`` and ``ovn-trace`` text -> ``netdoctor.model.ovn`` (parsers layer).

Formats, as Open vSwitch and OVN print them (``ovs-vsctl(8)``, ``ovn-trace(8)``, and the
expected outputs in the ovn-org/ovn test suite):

``ovs-vsctl show`` is the Open_vSwitch row's uuid at column 0, then indented records: ``Bridge
br-int`` (4 spaces), its ``Port`` and ``fail_mode:`` (8), each port's ``Interface`` (12), and
the interface's ``type:``, ``options: {csum="true", key=flow, remote_ip="10.0.0.2"}`` and
``error: "..."`` (16); ``ovs_version: "3.1.3"`` closes it. Names with odd characters are quoted.
When ovsdb-server is down the command prints ``ovs-vsctl: unix:...: database connection failed
(...)`` instead: kept as ``OvsShow.error``, it is evidence too.

``ovn-trace`` (default ``--detailed``): an optional ``# <microflow>`` line, then per logical
pipeline a header ``ingress(dp="ls", inport="p")`` underlined with dashes, and numbered flows
``  0. ls_in_port_sec_l2 (northd.c:5655): inport == "p", priority 50, uuid 0123abcd`` each
followed by its indented actions (``next;``, ``outport = "q";``, ``output;``, ``drop;``,
``/* output to "q", type "" */;``); a stage with no matching flow prints ``N. stage: no match
(implicit drop)``. ``--summary`` nests the same actions in ``ingress(...) {`` ... ``};``
blocks; ``--minimal`` prints only the actions that change the packet and ``output("q");``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from netdoctor.errors import ParseError
from netdoctor.model.ovn import (
    OvnTrace,
    OvsBridge,
    OvsInterface,
    OvsPort,
    OvsShow,
    TracePipeline,
    TraceStep,
)
from netdoctor.parsers._text import decode_text, split_lines

__all__ = ["parse_options", "parse_ovn_trace", "parse_ovs_vsctl_show"]


@dataclass
class _Open:
    """A record of ``ovs-vsctl show`` still being read."""

    name: str
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    children: list[OvsInterface | OvsPort] = field(default_factory=list)


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_OPTION = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[^=,\s]+)=("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)')
_RECORD = re.compile(r"^( *)(\S+?):? (.*)$")


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def parse_options(text: str) -> dict[str, str]:
    """``{csum="true", key=flow, remote_ip="10.0.0.2"}`` -> a dict (quotes removed)."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out: dict[str, str] = {}
    for m in _OPTION.finditer(body):
        out[_unquote(m.group(1))] = _unquote(m.group(2))
    return out


def parse_ovs_vsctl_show(data: bytes, file: str) -> OvsShow:
    text = decode_text(data, file)
    lines = split_lines(text)
    content = [(n, ln) for n, ln in enumerate(lines, 1) if ln.strip()]
    if not content:
        raise ParseError(file, "empty file; expected `ovs-vsctl show` output")
    first_n, first = content[0]
    if first.startswith("ovs-vsctl:"):
        return OvsShow(error=first.strip())
    if not _UUID.match(first.strip()):
        raise ParseError(
            file, f"line {first_n}: expected the Open_vSwitch uuid, got {first.strip()[:60]!r}"
        )
    bridges: list[OvsBridge] = []
    version: str | None = None
    # The records being read; each is closed (frozen into its struct) when the next one opens.
    bridge: _Open | None = None
    port: _Open | None = None
    iface: _Open | None = None

    def close_iface() -> None:
        nonlocal iface
        if iface is not None and port is not None:
            port.children.append(
                OvsInterface(
                    name=iface.name,
                    type=iface.fields.get("type", ""),
                    options=iface.options,
                    error=iface.fields.get("error"),
                    line=iface.line,
                    options_line=int(iface.fields.get("options_line", "0")),
                    error_line=int(iface.fields.get("error_line", "0")),
                )
            )
        iface = None

    def close_port() -> None:
        nonlocal port
        close_iface()
        if port is not None and bridge is not None:
            ifaces = tuple(c for c in port.children if isinstance(c, OvsInterface))
            bridge.children.append(
                OvsPort(name=port.name, interfaces=ifaces, tag=port.fields.get("tag"))
            )
        port = None

    def close_bridge() -> None:
        nonlocal bridge
        close_port()
        if bridge is not None:
            ports = tuple(c for c in bridge.children if isinstance(c, OvsPort))
            bridges.append(
                OvsBridge(name=bridge.name, ports=ports, fail_mode=bridge.fields.get("fail_mode"))
            )
        bridge = None

    for n, line in content[1:]:
        m = _RECORD.match(line)
        if m is None:
            continue
        indent, key, value = len(m.group(1)), m.group(2), m.group(3)
        if indent <= 4:
            if key == "Bridge":
                close_bridge()
                bridge = _Open(_unquote(value), n)
            elif key == "ovs_version":
                close_bridge()
                version = _unquote(value)
        elif indent <= 8:
            if bridge is None:
                continue
            if key == "Port":
                close_port()
                port = _Open(_unquote(value), n)
            elif key == "fail_mode":
                bridge.fields["fail_mode"] = value.strip()
        elif indent <= 12:
            if port is None:
                continue
            if key == "Interface":
                close_iface()
                iface = _Open(_unquote(value), n)
            elif key == "tag":
                port.fields["tag"] = value.strip()
        elif iface is not None:
            if key == "options":
                iface.options = parse_options(value)
                iface.fields["options_line"] = str(n)
            elif key in ("type", "error"):
                iface.fields[key] = _unquote(value)
                if key == "error":
                    iface.fields["error_line"] = str(n)
    close_bridge()
    return OvsShow(uuid=first.strip(), bridges=tuple(bridges), ovs_version=version)


# --- ovn-trace ----------------------------------------------------------------------------------

_PIPELINE = re.compile(r"^\s*(ingress|egress)\((.*)\)\s*(\{)?\s*$")
_ARG = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_STEP = re.compile(r"^\s*(\d+)\. (\S+?)(?: \(([^)]*)\))?: (.*)$")
_STEP_TAIL = re.compile(r"^(.*), priority (\d+), uuid ([0-9a-fA-F-]+)$")
_OUTPUT_COMMENT = re.compile(r'^/\* output to "((?:[^"\\]|\\.)*)", type "([^"]*)" \*/;?$')
_OUTPUT_MINIMAL = re.compile(r'^output\("((?:[^"\\]|\\.)*)"\);$')


def parse_ovn_trace(data: bytes, file: str) -> OvnTrace:
    text = decode_text(data, file)
    lines = split_lines(text)
    if not any(ln.strip() for ln in lines):
        raise ParseError(file, "empty file; expected ovn-trace output")
    first = next(ln.strip() for ln in lines if ln.strip())
    if first.startswith("ovn-trace:"):
        raise ParseError(file, f"ovn-trace failed: {first[:200]}")
    microflow: dict[str, str] = {}
    pipelines: list[TracePipeline] = []
    form = "minimal"
    pipe: dict[str, object] | None = None
    steps: list[TraceStep] = []
    step: dict[str, object] | None = None
    actions: list[str] = []
    events: list[tuple[str, str | None, int]] = []  # (drop|output, port, line)

    def close_step() -> None:
        nonlocal step, actions
        if step is not None:
            done = TraceStep(
                table=int(step["table"]),  # type: ignore[call-overload]
                stage=str(step["stage"]),
                match=str(step.get("match", "")),
                priority=step.get("priority"),  # type: ignore[arg-type]
                uuid=step.get("uuid"),  # type: ignore[arg-type]
                actions=tuple(actions),
                line=int(step["line"]),  # type: ignore[call-overload]
                implicit_drop=bool(step.get("implicit", False)),
            )
            steps.append(done)
        step, actions = None, []

    def close_pipe() -> None:
        nonlocal pipe, steps
        close_step()
        if pipe is not None:
            pipelines.append(
                TracePipeline(
                    direction=str(pipe["direction"]),
                    datapath=str(pipe.get("dp", "")),
                    inport=str(pipe.get("inport", "")),
                    outport=str(pipe.get("outport", "")),
                    steps=tuple(steps),
                    line=int(pipe["line"]),  # type: ignore[call-overload]
                )
            )
        pipe, steps = None, []

    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or set(line) == {"-"} or line.startswith("cookie="):
            continue
        if line.startswith("#") and not microflow and not pipelines and pipe is None:
            body = line.lstrip("#").strip()
            for tok in body.split(","):
                key, eq, value = tok.partition("=")
                microflow[key.strip()] = value.strip() if eq else ""
            continue
        pm = _PIPELINE.match(raw)
        if pm is not None:
            close_pipe()
            if pm.group(3):
                form = "summary"
            elif form != "summary":
                form = "detailed"
            pipe = {"direction": pm.group(1), "line": n}
            for key, value in _ARG.findall(pm.group(2)):
                pipe[key] = value
            continue
        sm = _STEP.match(raw)
        if sm is not None and pipe is not None:
            close_step()
            rest = sm.group(4)
            step = {"table": int(sm.group(1)), "stage": sm.group(2), "line": n}
            if rest.startswith("no match"):
                step["implicit"] = True
                events.append(("drop", None, n))
            else:
                tail = _STEP_TAIL.match(rest)
                if tail is not None:
                    step["match"] = tail.group(1)
                    step["priority"] = int(tail.group(2))
                    step["uuid"] = tail.group(3)
                else:
                    step["match"] = rest
            continue
        if step is not None:
            actions.append(line)
        om = _OUTPUT_COMMENT.match(line)
        if om is not None:
            if om.group(2) != "patch":  # a patch port leads into the next datapath
                events.append(("output", _unquote('"' + om.group(1) + '"'), n))
            continue
        om = _OUTPUT_MINIMAL.match(line)
        if om is not None:
            events.append(("output", om.group(1), n))
            continue
        if line.startswith(("drop;", "drop {")) or line in ("drop", "reject;", "tcp_reset;"):
            events.append(("drop", None, n))
    close_pipe()
    if not pipelines and not events:
        raise ParseError(
            file, "no ingress(...) pipeline and no output or drop: not ovn-trace output"
        )

    verdict, output_port, drop_step, drop_line, drop_text = "unknown", None, None, 0, ""
    if events:
        kind, port, n = events[-1]
        if kind == "output":
            verdict, output_port = "output", port
        else:
            verdict, drop_line = "drop", n
            drop_step = _step_at(pipelines, n)
            drop_text = lines[n - 1].strip()
    return OvnTrace(
        microflow=microflow,
        form=form,
        pipelines=tuple(pipelines),
        verdict=verdict,
        output_port=output_port,
        drop_step=drop_step,
        drop_line=drop_line,
        drop_text=drop_text,
    )


def _step_at(pipelines: list[TracePipeline], line: int) -> TraceStep | None:
    """The step whose block holds ``line`` (the last step starting at or before it)."""
    best: TraceStep | None = None
    for p in pipelines:
        for s in p.steps:
            if s.line <= line and (best is None or s.line > best.line):
                best = s
    return best
