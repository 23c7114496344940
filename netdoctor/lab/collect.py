"""``lab collect``: write a running lab as a bundle (``shared/docs/bundle-format.md``).

lab: a source that builds real networks and writes bundles. Node and pod facts are the real
output of ``ip``, ``bridge``, ``sysctl -a`` and ``iptables-save`` run inside the lab's
namespaces; Kubernetes objects come from the plan (``netdoctor.lab.kube``); probes are the
last ``lab probe`` results, or run now.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netdoctor.lab.errors import LabError
from netdoctor.lab.kube import CNI_CONFIG, cni_config, kube_objects, version_json
from netdoctor.lab.run import run

if TYPE_CHECKING:
    from netdoctor.lab.build import Lab

__all__ = ["collect"]

_NODE_COMMANDS: dict[str, list[str]] = {
    "ip-addr.json": ["ip", "-j", "-d", "addr", "show"],
    "ip-route.json": ["ip", "-j", "route", "show", "table", "all"],
    "ip-rule.json": ["ip", "-j", "rule", "show"],
    "ip-neigh.json": ["ip", "-j", "neigh", "show"],
    "bridge-fdb.json": ["bridge", "-j", "fdb", "show"],
    "sysctl.txt": ["sysctl", "-a"],
    "iptables-save.txt": ["iptables-save"],
}
_POD_COMMANDS = {k: _NODE_COMMANDS[k] for k in ("ip-addr.json", "ip-route.json")}


def _in_netns(netns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", netns, *argv]


def _capture(netns: str, path: Path, argv: list[str]) -> None:
    # sysctl -a exits 255 on keys it may not read (e.g. stable_secret): its output stands.
    out = run(_in_netns(netns, argv), check=argv[0] != "sysctl")
    if not out.strip():
        raise LabError(f"`{' '.join(argv)}` in {netns} printed nothing")
    path.write_text(out)


def _yaml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def collect(
    lab: Lab, out: Path, *, probe: bool = True, probes: list[dict[str, Any]] | None = None
) -> Path:
    """Write the bundle folder ``out`` (created; must not exist or be empty)."""
    plan = lab.plan
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LabError(f"{out}: exists and is not an empty folder")
    if probes is None:
        saved = lab.probes_path(lab.name)
        if saved.exists():
            probes = json.loads(saved.read_text())
        elif probe:
            from netdoctor.lab.probe import probe_lab

            probes = probe_lab(plan)
            saved.write_text(json.dumps(probes))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    (out / "bundle.yaml").write_text(
        "formatVersion: 1\n"
        f"collectedAt: {_yaml_str(now)}\n"
        f"collector: {_yaml_str('netdoctor lab')}\n"
        f"cluster: {_yaml_str(plan.name)}\n"
        "redacted: true\n"
    )
    k8s = out / "k8s"
    k8s.mkdir()
    (k8s / "version.json").write_text(json.dumps(version_json(), indent=4) + "\n")
    for resource, data in kube_objects(plan, lab.created_at).items():
        (k8s / f"{resource}.json").write_text(json.dumps(data, indent=4) + "\n")
    jobs: list[tuple[str, Path, list[str]]] = []
    for node in plan.nodes:
        d = out / "nodes" / node.name
        (d / "cni").mkdir(parents=True)
        (d / "cni" / CNI_CONFIG[plan.cni]).write_text(cni_config(plan, node))
        jobs += [(node.netns, d / name, argv) for name, argv in _NODE_COMMANDS.items()]
    for pod in plan.pods:
        d = out / "pods" / "default" / pod.name
        d.mkdir(parents=True)
        jobs += [(pod.netns, d / name, argv) for name, argv in _POD_COMMANDS.items()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for f in [pool.submit(_capture, *job) for job in jobs]:
            f.result()
    if probes:
        pdir = out / "probes"
        pdir.mkdir()
        for rec in probes:
            body = {k: v for k, v in rec.items() if k != "name"}  # the file name carries it
            (pdir / f"{rec['name']}.json").write_text(json.dumps(body, indent=2) + "\n")
    return out
