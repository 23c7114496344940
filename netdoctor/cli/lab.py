"""``netdoctor lab``: build real kernel networks that reproduce CNI layouts and faults.

CLI layer, the front of ``netdoctor.lab`` (a source that builds real networks and writes
bundles). Imported by ``netdoctor.cli`` at start, so it imports only typer and the plan's
enums; everything that runs commands is imported inside the command that needs it.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from netdoctor.lab.plan import FaultName, LayoutName

__all__ = ["app"]

app = typer.Typer(
    name="lab",
    help=(
        "Real kernel networks (network namespaces, veth, bridges, VXLAN, iptables) that "
        "reproduce CNI layouts and faults, probe them, and write bundles. Needs root.\n\n"
        "Layouts: flannel-vxlan, flannel-host-gw, calico-vxlan, calico-routed. This kernel has "
        "no ipip module: Calico IPIP's behaviour (peer routes via the peer's node address, outer "
        "destination = that address) is covered by calico-routed and calico-vxlan.\n\n"
        "Faults: wrong-tunnel-address, duplicate-public-ip, ip-forward-off, forward-drop, "
        "overlay-port-blocked, mtu-too-large, missing-route, policy-drop, rp-filter-strict."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


class ProbeOutput(StrEnum):
    text = "text"
    json = "json"


def _root() -> None:
    from netdoctor.lab.run import require_root

    require_root()


@app.command()
def up(
    layout: Annotated[LayoutName, typer.Argument(help="The CNI layout to build.")],
    nodes: Annotated[int, typer.Option("--nodes", help="Number of nodes.")] = 2,
    pods_per_node: Annotated[int, typer.Option("--pods-per-node", help="Pods per node.")] = 2,
    fault: Annotated[
        list[FaultName] | None, typer.Option("--fault", help="Inject a fault; repeatable.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name of the lab.")] = None,
) -> None:
    """Build a lab and print its name."""
    _root()
    from netdoctor.lab.build import Lab

    lab = Lab.create(layout, nodes, pods_per_node, tuple(fault or ()), name)
    sys.stdout.write(f"{lab.name}\n")


@app.command()
def probe(
    name: Annotated[str | None, typer.Argument(help="The lab (default: the only one).")] = None,
    output: Annotated[
        ProbeOutput, typer.Option("--output", "-o", help="text or json.")
    ] = ProbeOutput.text,
    size: Annotated[
        int | None,
        typer.Option("--size", help="IP size of the don't-fragment ping (default: pod MTU)."),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per attempt.")] = 1.0,
) -> None:
    """Ping and TCP-connect between every pair of pods (in parallel)."""
    _root()
    from netdoctor.lab.build import Lab
    from netdoctor.lab.probe import probe_lab

    lab = Lab.load(name)
    records = probe_lab(lab.plan, size=size, timeout=timeout)
    lab.probes_path(lab.name).write_text(json.dumps(records))
    if output is ProbeOutput.json:
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
        return
    ok = sum(1 for r in records if r["result"] == "ok")
    for r in records:
        if r["result"] != "ok":
            sys.stdout.write(
                f"{r['from']['pod']} -> {r['to']['pod']} {r['kind']}: {r['result']}"
                f" ({r['detail']})\n"
            )
    sys.stdout.write(f"{ok} of {len(records)} probes ok\n")


@app.command()
def collect(
    name_or_out: Annotated[str, typer.Argument(metavar="[NAME] OUT", help="Lab name, folder.")],
    out: Annotated[str | None, typer.Argument(hidden=True)] = None,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Do not run probes when none were run.")
    ] = False,
) -> None:
    """Write the lab as a bundle folder (the documented bundle format)."""
    _root()
    from netdoctor.lab.build import Lab
    from netdoctor.lab.collect import collect as write_bundle

    name, folder = (name_or_out, out) if out is not None else (None, name_or_out)
    lab = Lab.load(name)
    sys.stdout.write(f"{write_bundle(lab, Path(folder), probe=not no_probe)}\n")


@app.command()
def down(
    name: Annotated[str | None, typer.Argument(help="The lab (default: the only one).")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Remove every ndl* namespace and helper process.")
    ] = False,
) -> None:
    """Remove a lab: its processes, namespaces and state."""
    _root()
    from netdoctor.lab.build import Lab, remove_all

    if all_:
        removed = remove_all()
        sys.stdout.write(f"removed {len(removed)} namespaces\n")
        return
    lab = Lab.load(name)
    lab.down()
    sys.stdout.write(f"removed {lab.name}\n")


@app.command(name="list")
def list_labs() -> None:
    """List running labs."""
    _root()
    from netdoctor.lab.build import Lab

    for name in Lab.names():
        st = Lab.load(name).state
        faults = ",".join(st.faults) or "-"
        sys.stdout.write(
            f"{st.name}\t{st.layout}\t{st.nodes}x{st.pods_per_node}\t{faults}\t{st.created_at}\n"
        )
