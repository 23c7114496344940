"""Run network-config-analyzer (nca, PyPI ``network-config-analyzer``) on generated files and
read its per-pod-pair connectivity (``-o txt_no_fw_rules --output_endpoints pods``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from netpol_gen import World, as_list

NCA = Path(sys.executable).with_name("nca")
_LINE = re.compile(r"^(\S+) => (\S+) : (.+)$")
_CONN = re.compile(r"\{protocols:([A-Z]+(?:, ?[A-Z]+)*)(?:,dst_ports:([\d, \-]+))?\}")

Conns = dict[tuple[str, str], list[tuple[frozenset[str], list[tuple[int, int]] | None]]]


def write_world(world: World, folder: Path) -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    ns, pods, pol = folder / "namespaces.json", folder / "pods.json", folder / "policies.json"
    ns.write_text(json.dumps(as_list("NamespaceList", world.namespaces)))
    pods.write_text(json.dumps(as_list("PodList", world.pods)))
    pol.write_text(json.dumps(as_list("NetworkPolicyList", world.policies)))
    return ns, pods, pol


def run_nca(ns: Path, pods: Path, policies: Path, out: Path) -> None:
    subprocess.run(
        [
            str(NCA), "--connectivity", str(policies), "-o", "txt_no_fw_rules",
            "--output_endpoints", "pods", "--ns_list", str(ns), "--pod_list", str(pods),
            "--file_out", str(out),
        ],
        check=True, capture_output=True, timeout=3600,
    )  # fmt: skip


def read_connectivity(text: str, pod_refs: set[str]) -> Conns:
    """(src, dst) pod pair -> allowed (protocols, port ranges or None for all ports)."""
    out: Conns = {}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m or m.group(1) not in pod_refs or m.group(2) not in pod_refs:
            continue
        src, dst, conn = m.groups()
        entries = out.setdefault((src, dst), [])
        if conn == "All connections":
            entries.append((frozenset({"TCP", "UDP", "SCTP"}), None))
            continue
        found = _CONN.findall(conn)
        if not found or _CONN.sub("", conn).strip(" ,"):
            raise ValueError(f"cannot read nca connection {conn!r}")
        for protos, ports in found:
            ranges = None
            if ports:
                ranges = []
                for part in ports.replace(" ", "").split(","):
                    lo, _, hi = part.partition("-")
                    ranges.append((int(lo), int(hi or lo)))
            entries.append((frozenset(p.strip() for p in protos.split(",")), ranges))
    return out


def allows(conns: Conns, src: str, dst: str, port: int, proto: str) -> bool:
    for protos, ranges in conns.get((src, dst), ()):
        if proto in protos and (ranges is None or any(lo <= port <= hi for lo, hi in ranges)):
            return True
    return False
