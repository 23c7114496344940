"""Write an example cluster's Kubernetes JSON, logs, probes and bundle.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netdoctor.lab.objects.cluster import Cluster
from netdoctor.lab.objects.meta import klist
from netdoctor.lab.objects.nodes import k8s_version

__all__ = ["validate", "write_bundle", "write_json"]


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=4, ensure_ascii=False) + "\n")


def write_bundle(c: Cluster, out: Path) -> None:
    (out / "k8s").mkdir(parents=True, exist_ok=True)
    q = "\n".join(f'  {k}: "{v}"' for k, v in c.question.items())
    (out / "bundle.yaml").write_text(
        "formatVersion: 1\n"
        f'collectedAt: "{c.collected}"\n'
        'collector: "manual"\n'
        f'cluster: "{c.title}"\n'
        f"question:\n{q}\n"
        "redacted: true\n"
    )
    write_json(out / "k8s" / "version.json", k8s_version(c.k8s_minor))
    for res, items in c.objects.items():
        write_json(out / "k8s" / f"{res}.json", klist(items))
    for key, text in c.logs.items():
        p = out / "logs" / f"{key}.log"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for name, probe in c.probes.items():
        write_json(out / "probes" / f"{name}.json", probe)


def validate(out: Path) -> None:
    for p in sorted(out.rglob("*.json")):
        data = json.loads(p.read_text())
        if p.parent.name == "k8s" and p.name != "version.json":
            assert data.get("kind") == "List", p
            assert isinstance(data.get("items"), list), p
