"""The ``kubectl cluster-info dump --output-directory=DIR`` layout, read as it is.

Sits beside ``sources.bundle`` at the start of the flow: ``BundleSource`` recognises the layout
(a top-level ``nodes.json`` and at least one ``<ns>/pods.json``) and hands the listed folder
here, so archives of a dump get the same safety rules. What kubectl writes, and where it goes:

    nodes.json                          -> Snapshot.nodes (a NodeList)
    <ns>/pods.json                      -> Snapshot.pods (all namespaces together)
    <ns>/services.json                  -> Snapshot.services
    <ns>/daemonsets.json                -> Snapshot.daemonsets
    <ns>/deployments.json               -> Snapshot.deployments
    <ns>/events.json                    -> Snapshot.events
    <ns>/replicasets.json               ignored (netdoctor has no use for ReplicaSets)
    <ns>/replication-controllers.json   ignored (likewise)
    <ns>/<pod>/logs.txt                 -> Snapshot.logs["<ns>/<pod>/<container>"]

kubectl writes every container of a pod into the one ``logs.txt``, between
``==== START logs for container C of pod NS/POD ====`` and the matching ``END`` line; each
section becomes that container's log. A ``logs.txt`` without these markers is kept whole
under the container name ``logs``. ``.yaml`` files (``--output yaml``) are read the same way.

A dump has no NetworkPolicies, EndpointSlices, ConfigMaps, version or node facts: each shows
as a ``missing`` input note, so the checks that need them are skipped with the reason.
Provenance names the pattern that was read (``k8s.pods`` -> ``<ns>/pods.json``), and each
log's own file (``log:kube-system/calico-node-x/calico-node`` ->
``kube-system/calico-node-x/logs.txt``).
"""

from __future__ import annotations

import re
from typing import Any, Final

from netdoctor.model.k8s import DaemonSet, Deployment, Event, Node, Pod, Service
from netdoctor.model.layout import RESOURCES
from netdoctor.model.snapshot import InputNote, Snapshot
from netdoctor.parsers.bundle_files import LOG_LINES, decode_log
from netdoctor.parsers.kube import decode_list
from netdoctor.sources.archive import BundleTree

__all__ = ["SOURCE_KIND", "is_cluster_info", "read_cluster_info", "split_logs"]

SOURCE_KIND: Final = "cluster-info-dump"

_SUFFIXES: Final = (".json", ".yaml")

# file stem in <ns>/ -> (Snapshot attribute, item type)
_PER_NAMESPACE: Final[dict[str, tuple[str, type[Any]]]] = {
    "pods": ("pods", Pod),
    "services": ("services", Service),
    "daemonsets": ("daemonsets", DaemonSet),
    "deployments": ("deployments", Deployment),
    "events": ("events", Event),
}
_UNUSED: Final = ("replicasets", "replication-controllers")

# What the core checks need that a dump never has.
_NOT_IN_A_DUMP: Final = ("k8s.endpointslices", "k8s.networkpolicies", "k8s.configmaps")

_START: Final = re.compile(r"^==== START logs for container (\S+) of pod \S+ ====$")
_END: Final = re.compile(r"^==== END logs for container (\S+) of pod \S+ ====$")


def is_cluster_info(tree: BundleTree) -> bool:
    """Whether the listed folder is a cluster-info dump rather than a bundle."""
    has_nodes = any(f"nodes{s}" in tree for s in _SUFFIXES)
    if not has_nodes:
        return False
    return any(
        len(parts := rel.split("/")) == 2 and parts[1] in ("pods.json", "pods.yaml")
        for rel in tree.files
    )


def read_cluster_info(tree: BundleTree, source_path: str) -> Snapshot:
    """Read a cluster-info dump folder (already listed safely) into a Snapshot."""
    notes: list[InputNote] = list(tree.notes)
    provenance: dict[str, str] = {}
    fields: dict[str, list[Any]] = {}
    logs: dict[str, str] = {}
    unused: dict[str, int] = {}
    for rel in tree.files:
        parts = rel.split("/")
        stem, suffix = _split(parts[-1])
        if len(parts) == 1 and stem == "nodes" and suffix is not None:
            if "k8s.nodes" in provenance:
                notes.append(
                    InputNote(
                        file=rel, note="ignored", reason="duplicate", params={"of": "nodes.json"}
                    )
                )
                continue
            fields["nodes"] = list(decode_list(tree.read(rel), rel, Node))
            provenance["k8s.nodes"] = rel
        elif len(parts) == 2 and suffix is not None and stem in _PER_NAMESPACE:
            attr, item = _PER_NAMESPACE[stem]
            fields.setdefault(attr, []).extend(decode_list(tree.read(rel), rel, item))
            provenance[f"k8s.{attr}"] = f"<ns>/{stem}{suffix}"
        elif len(parts) == 2 and suffix is not None and stem in _UNUSED:
            pattern = f"<ns>/{stem}{suffix}"
            unused[pattern] = unused.get(pattern, 0) + 1
        elif len(parts) == 3 and parts[2] == "logs.txt":
            ref = f"{parts[0]}/{parts[1]}"
            for key, text in split_logs(tree.read(rel), ref).items():
                logs[key] = text
                provenance[f"log:{key}"] = rel
            provenance["logs"] = "<ns>/<pod>/logs.txt"
        else:
            notes.append(InputNote(file=rel, note="ignored", reason="dump_layout"))
    for pattern, count in sorted(unused.items()):
        notes.append(
            InputNote(
                file=pattern, note="ignored", reason="dump_unused", params={"count": str(count)}
            )
        )
    for key in _NOT_IN_A_DUMP:
        res = next(r for r in RESOURCES if r.key == key)
        notes.append(InputNote(file=res.path, note="missing", reason="dump_lacks"))
    notes.append(InputNote(file="k8s/version.json", note="missing", reason="dump_lacks"))
    notes.append(InputNote(file="nodes/", note="missing", reason="dump_no_node_facts"))
    for attr in ("services", "daemonsets", "events"):
        if attr not in fields:
            notes.append(InputNote(file=f"<ns>/{attr}.json", note="missing"))
    return Snapshot(
        source_kind=SOURCE_KIND,
        source_path=source_path,
        logs=logs if "logs" in provenance else None,
        input_notes=tuple(sorted(notes, key=lambda n: (n.file, n.note, n.detail))),
        provenance=provenance,
        **_as_tuples(fields),
    )


def split_logs(data: bytes, ref: str) -> dict[str, str]:
    """``<ns>/<pod>/logs.txt`` -> ``{"ns/pod/container": text}``, one entry per START section."""
    text = data.decode("utf-8", errors="replace")
    if "==== START logs for container" not in text:
        return {f"{ref}/logs": decode_log(data)}
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        start = _START.match(line)
        if start:
            current = out.setdefault(start.group(1), [])
            continue
        if _END.match(line):
            current = None
            continue
        if current is not None:
            current.append(line)
    return {
        f"{ref}/{name}": "".join(f"{line}\n" for line in lines[-LOG_LINES:])
        for name, lines in out.items()
    }


def _as_tuples(fields: dict[str, list[Any]]) -> dict[str, Any]:
    return {attr: tuple(items) for attr, items in fields.items()}


def _split(name: str) -> tuple[str, str | None]:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix), suffix
    return name, None
