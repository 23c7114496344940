"""The bundle source: a folder or a ``.tar.gz`` / ``.tgz`` / ``.tar`` turned into one Snapshot.

Sits at the start of the flow (sources layer): ``BundleSource(path).load()`` detects what the
path is, unpacks an archive safely (``sources.archive``), hands a ``kubectl cluster-info dump``
layout to ``sources.clusterinfo``, and maps every file of the documented layout
(``shared/docs/bundle-format.md``, ``netdoctor.model.layout``) through its parser into the
Snapshot. Everything is read into memory; the Snapshot never refers to the temporary folder.

It never judges: what is absent, unknown or skipped becomes an ``InputNote``:

- ``missing``: a core Kubernetes file (nodes, pods, services, endpointslices,
  networkpolicies, daemonsets, configmaps, events, version), ``bundle.yaml``, a documented
  file of a node that has a folder, or ``ip-addr.json`` / ``ip-route.json`` of a pod folder;
- ``ignored``: a file outside the layout, a duplicate of a file already read, a resource
  netdoctor has no use for, a link or special file, and ``k8s/secrets.*`` (never read);
- ``malformed``: a CNI config file that is not valid JSON (kept as text anyway).

Provenance maps each data key to the file read: ``k8s.<resource>`` (``k8s.networkpolicies`` ->
``k8s/networkpolicies.json`` when the short name was used), ``k8s.version``, ``manifest``,
``logs`` and ``probes`` (their folders), ``node:<node>:<part>`` (``node:n1:sysctl``),
``pod:<ns>/<pod>:<part>`` and ``log:<ns>/<pod>/<container>``.

A structured file that does not parse (Kubernetes JSON/YAML, ``ip -j`` output, sysctl,
iptables-save, nft JSON, probes, the manifest) is a ``ParseError`` naming its path inside
the bundle: guessing around a broken file would mislead the diagnosis.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from netdoctor.errors import BundleError, ParseError
from netdoctor.model.calico import BGP_STATUS_FILES, BgpStatus
from netdoctor.model.k8s import (
    CalicoNode,
    ConfigMap,
    DaemonSet,
    Deployment,
    EndpointSlice,
    Event,
    GenericObject,
    Installation,
    IPPool,
    Namespace,
    NetworkPolicy,
    Node,
    Pod,
    Service,
)
from netdoctor.model.layout import NODE_FILES, POD_FILES, RESOURCES, Resource
from netdoctor.model.nodefacts import NetFacts
from netdoctor.model.snapshot import InputNote, Manifest, Probe, Snapshot
from netdoctor.parsers.bgpstatus import parse_birdcl_protocols, parse_calicoctl_node_status
from netdoctor.parsers.bundle_files import (
    decode_log,
    decode_text,
    parse_cni_file,
    parse_manifest,
    parse_nft,
    parse_probe,
)
from netdoctor.parsers.iproute import (
    parse_bridge_fdb,
    parse_ip_addr,
    parse_ip_neigh,
    parse_ip_route,
    parse_ip_rule,
)
from netdoctor.parsers.iptables import parse_iptables_save
from netdoctor.parsers.kube import decode_list, parse_version, strip_bom
from netdoctor.parsers.ovn import parse_ovn_trace, parse_ovs_vsctl_show
from netdoctor.parsers.sysctl import parse_sysctl
from netdoctor.sources.archive import (
    DEFAULT_MAX_MEMBER_RATIO,
    DEFAULT_MAX_TOTAL_BYTES,
    BundleTree,
    archive_kind,
    single_folder,
    unpacked,
)

__all__ = ["CORE_RESOURCES", "BundleSource", "read_bundle"]

# The Kubernetes files whose absence is worth a note: most checks need one of them.
CORE_RESOURCES: Final = (
    "k8s.nodes",
    "k8s.pods",
    "k8s.services",
    "k8s.endpointslices",
    "k8s.networkpolicies",
    "k8s.daemonsets",
    "k8s.configmaps",
    "k8s.events",
)

# Snapshot attribute -> the struct its items decode into.
_ITEM_TYPES: Final[dict[str, type[Any]]] = {
    "nodes": Node,
    "pods": Pod,
    "services": Service,
    "endpointslices": EndpointSlice,
    "networkpolicies": NetworkPolicy,
    "namespaces": Namespace,
    "daemonsets": DaemonSet,
    "deployments": Deployment,
    "configmaps": ConfigMap,
    "events": Event,
    "ippools": IPPool,
    "calico_nodes": CalicoNode,
    "installations": Installation,
}

_K8S_SUFFIXES: Final = (".json", ".yaml", ".yml")

# node file part -> (NetFacts attribute, how to read it)
_Reader = Callable[[bytes, str], Any]


def _text_reader(data: bytes, file: str) -> str:
    return decode_text(data)


def _lines(parser: _Reader) -> _Reader:
    """Feed a line-based parser LF-only text without a BOM (CRLF files are accepted)."""

    def read(data: bytes, file: str) -> Any:
        data = strip_bom(data)
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        return parser(data, file)

    return read


def _json(parser: _Reader) -> _Reader:
    def read(data: bytes, file: str) -> Any:
        return parser(strip_bom(data), file)

    return read


_NODE_PARTS: Final[dict[str, tuple[str, _Reader]]] = {
    "ip_addr": ("interfaces", _json(parse_ip_addr)),
    "ip_route": ("routes", _json(parse_ip_route)),
    "ip_route6": ("routes6", _json(parse_ip_route)),
    "ip_rule": ("rules", _json(parse_ip_rule)),
    "ip_neigh": ("neighbours", _json(parse_ip_neigh)),
    "bridge_fdb": ("fdb", _json(parse_bridge_fdb)),
    "sysctl": ("sysctl", _lines(parse_sysctl)),
    "iptables": ("iptables", _lines(parse_iptables_save)),
    "ip6tables": ("ip6tables", _lines(parse_iptables_save)),
    "nft": ("nft", parse_nft),
    "ipvs": ("ipvs", _text_reader),
    "conntrack": ("conntrack", _text_reader),
}
_NODE_FILE_PART: Final = {name: part for part, name in NODE_FILES.items() if part != "cni"}
# A pod folder holds the output of the same `ip` commands, run in the pod's netns.
_POD_FILE_PART: Final = {
    name: part for name, part in _NODE_FILE_PART.items() if part.startswith("ip_")
}


class BundleSource:
    """A bundle on disk: a folder, a ``.tar.gz``/``.tgz``/``.tar``, or a cluster-info dump.

    ``max_total_bytes`` caps what is unpacked and read; ``max_member_ratio`` caps how much
    one archive member may expand relative to its compressed size; ``max_file_bytes`` caps
    one file (None: only the total cap).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
        max_member_ratio: int = DEFAULT_MAX_MEMBER_RATIO,
        max_file_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.label = str(path)
        self.max_total_bytes = max_total_bytes
        self.max_member_ratio = max_member_ratio
        self.max_file_bytes = max_file_bytes

    def load(self) -> Snapshot:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise BundleError(
                key="error.no_bundle",
                params={"path": self.label},
            ) from None
        except OSError as e:
            raise BundleError(
                key="error.bundle.cannot_open",
                params={"path": self.label, "error": str(e.strerror or e)},
            ) from None
        if stat.S_ISDIR(st.st_mode):
            return self._read_folder(self.path)
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(key="error.not_bundle", params={"path": self.label})
        try:
            kind = archive_kind(self.path)
        except OSError as e:
            raise BundleError(
                key="error.bundle.cannot_open",
                params={"path": self.label, "error": str(e.strerror or e)},
            ) from None
        if kind is None:
            raise BundleError(key="error.bundle.unrecognised", params={"path": self.label})
        if kind == "zip":
            raise BundleError(key="error.bundle.zip", params={"path": self.label})
        with unpacked(
            self.path,
            self.label,
            max_total_bytes=self.max_total_bytes,
            max_member_ratio=self.max_member_ratio,
            max_file_bytes=self.max_file_bytes,
        ) as tmp:
            return self._read_folder(tmp)

    def _read_folder(self, folder: Path) -> Snapshot:
        from netdoctor.sources.clusterinfo import is_cluster_info, read_cluster_info

        try:
            root = single_folder(folder)
            tree = BundleTree(
                root, max_total_bytes=self.max_total_bytes, max_file_bytes=self.max_file_bytes
            )
        except OSError as e:
            raise BundleError(
                key="error.bundle.cannot_list",
                params={"path": self.label, "error": str(e.strerror or e)},
            ) from None
        if is_cluster_info(tree):
            return read_cluster_info(tree, self.label)
        if not {"k8s", "nodes"} & tree.dirs:
            # Nothing to judge: every check would skip, and "inconclusive" would hide that
            # the folder is not a bundle at all (the wrong path, an unpacked parent folder).
            raise BundleError(key="error.bundle.no_data", params={"path": self.label})
        return read_bundle(tree, self.label)


def read_bundle(tree: BundleTree, source_path: str) -> Snapshot:
    """Map a listed bundle folder's files into a Snapshot (documented layout, version 1)."""
    return _BundleReader(tree).snapshot(source_path)


class _BundleReader:
    def __init__(self, tree: BundleTree) -> None:
        self.tree = tree
        self.notes: list[InputNote] = list(tree.notes)
        self.provenance: dict[str, str] = {}
        self.fields: dict[str, Any] = {}
        self.custom: dict[str, tuple[GenericObject, ...]] = {}
        self.node_facts: dict[str, dict[str, Any]] = {}
        self.pod_facts: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, str] | None = {} if "logs" in tree.dirs else None
        self.probes: list[Probe] | None = [] if "probes" in tree.dirs else None
        self.manifest = Manifest()

    def ignore(self, rel: str, reason: str, **params: str) -> None:
        self.notes.append(InputNote(file=rel, note="ignored", reason=reason, params=params))

    def snapshot(self, source_path: str) -> Snapshot:
        # The Kubernetes objects first: pods.json is the largest file, and decoding it before
        # the node facts pile up keeps its raw bytes out of the peak (1,000 nodes: ~200 MiB).
        k8s_files = [
            rel for rel in self.tree.files if rel.startswith("k8s/") and rel.count("/") == 1
        ]
        self._k8s(k8s_files)
        for rel in self.tree.files:
            parts = rel.split("/")
            top, depth = parts[0], len(parts)
            if rel == "bundle.yaml":
                self.manifest = parse_manifest(self.tree.read(rel), rel)
                self.provenance["manifest"] = rel
            elif top == "k8s" and depth == 2:
                continue
            elif top == "nodes" and depth >= 3:
                self._node_file(rel, parts[1], parts[2:])
            elif top == "pods" and depth == 4:
                self._pod_file(rel, f"{parts[1]}/{parts[2]}", parts[3])
            elif (
                top == "logs" and depth == 4 and parts[3].endswith(".log") and self.logs is not None
            ):
                key = f"{parts[1]}/{parts[2]}/{parts[3].removesuffix('.log')}"
                self.logs[key] = decode_log(self.tree.read(rel))
                self.provenance[f"log:{key}"] = rel
            elif (
                top == "probes" and depth == 2 and rel.endswith(".json") and self.probes is not None
            ):
                name = parts[1].removesuffix(".json")
                self.probes.append(parse_probe(self.tree.read(rel), rel, name))
            else:
                self.ignore(rel, "layout")
        self._missing()
        if self.logs is not None:
            self.provenance["logs"] = "logs/"
        if self.probes is not None:
            self.provenance["probes"] = "probes/"
        probes = (
            tuple(sorted(self.probes, key=lambda p: p.name)) if self.probes is not None else None
        )
        return Snapshot(
            source_kind="bundle",
            source_path=source_path,
            manifest=self.manifest,
            custom=self.custom,
            node_facts={n: NetFacts(**kw) for n, kw in sorted(self.node_facts.items())},
            pod_facts={p: NetFacts(**kw) for p, kw in sorted(self.pod_facts.items())},
            logs=self.logs,
            probes=probes,
            input_notes=tuple(sorted(self.notes, key=lambda n: (n.file, n.note, n.detail))),
            provenance=self.provenance,
            **self.fields,
        )

    # --- k8s/ ---------------------------------------------------------------------------------

    def _k8s(self, files: list[str]) -> None:
        chosen: dict[str, tuple[tuple[int, int], str, Resource | None]] = {}
        for rel in files:
            name = rel.removeprefix("k8s/")
            stem, suffix = _split_suffix(name)
            if suffix is None:
                self.ignore(rel, "layout")
                continue
            if stem == "secrets" or stem.startswith("secrets."):
                self.ignore(rel, "secrets")
                continue
            rank_suffix = _K8S_SUFFIXES.index(suffix)
            if stem == "version":
                key, res, rank_name = "k8s.version", None, 0
            else:
                found = _resource_for(stem)
                if found is None:
                    self.ignore(rel, "unknown_resource")
                    continue
                res, rank_name = found
                key = res.key
            rank = (rank_name, rank_suffix)
            if key in chosen:
                prev_rank, prev_rel, _ = chosen[key]
                if rank < prev_rank:
                    self.ignore(prev_rel, "duplicate", of=rel)
                    chosen[key] = (rank, rel, res)
                else:
                    self.ignore(rel, "duplicate", of=prev_rel)
                continue
            chosen[key] = (rank, rel, res)
        for key, (_, rel, res) in sorted(chosen.items()):
            if res is None:
                self.fields["version"] = parse_version(self.tree.read(rel), rel)
                self.provenance[key] = rel
                continue
            attr = key.removeprefix("k8s.")
            if attr in Snapshot.custom_keys:
                self.custom[key] = decode_list(self.tree.read(rel), rel, GenericObject)
            elif attr in _ITEM_TYPES:
                self.fields[attr] = decode_list(self.tree.read(rel), rel, _ITEM_TYPES[attr])
            else:
                self.ignore(rel, "unused_resource")
                continue
            self.provenance[key] = rel

    # --- nodes/<node>/ and pods/<ns>/<pod>/ --------------------------------------------------

    def _node_file(self, rel: str, node: str, rest: list[str]) -> None:
        facts = self.node_facts.setdefault(node, {})
        if rest[0] == "cni" and len(rest) >= 2:
            text, note = parse_cni_file(self.tree.read(rel), rel)
            facts.setdefault("cni_files", {})["/".join(rest[1:])] = text
            self.provenance[f"node:{node}:cni"] = f"nodes/{node}/cni/"
            if note is not None:
                self.notes.append(note)
        elif rest[0] == "extra" and len(rest) == 2 and rest[1].endswith(".txt"):
            name = rest[1].removesuffix(".txt")
            data = self.tree.read(rel)
            facts.setdefault("extra", {})[name] = decode_text(data)
            self._extra_view(rel, node, name, data, facts)
        elif len(rest) == 1 and rest[0] in _NODE_FILE_PART:
            part = _NODE_FILE_PART[rest[0]]
            attr, reader = _NODE_PARTS[part]
            facts[attr] = reader(self.tree.read(rel), rel)
            self.provenance[f"node:{node}:{part}"] = rel
        else:
            self.ignore(rel, "layout")

    def _extra_view(
        self, rel: str, node: str, name: str, data: bytes, facts: dict[str, Any]
    ) -> None:
        """The typed view of the extra texts checks read: ``ovs-vsctl show``, ``ovn-trace``
        and the BGP status tables (``calicoctl node status`` preferred to ``birdcl``).

        An extra text is free-form, so one that does not parse is kept as text with a
        ``malformed`` note (its checks then skip) rather than stopping the diagnosis."""
        try:
            if name == "ovs-vsctl-show":
                facts["ovs_show"] = parse_ovs_vsctl_show(_text_bytes(data), rel)
                self.provenance[f"node:{node}:ovs_show"] = rel
            elif name.startswith("ovn-trace-"):
                label = name.removeprefix("ovn-trace-")
                facts.setdefault("ovn_traces", {})[label] = parse_ovn_trace(_text_bytes(data), rel)
                self.provenance[f"node:{node}:ovn_trace:{label}"] = rel
            elif name in BGP_STATUS_FILES:
                self._bgp_view(name, decode_text(data), facts)
        except ParseError as e:
            self.notes.append(
                InputNote(file=rel, note="malformed", reason="extra_unparsed", detail=e.problem)
            )

    @staticmethod
    def _bgp_view(name: str, text: str, facts: dict[str, Any]) -> None:
        """Keep the first non-empty BGP status capture, in ``BGP_STATUS_FILES`` order."""
        if not text:
            return
        have = facts.get("bgp_status")
        if have is not None and BGP_STATUS_FILES.index(have.file) < BGP_STATUS_FILES.index(name):
            return
        parse = (
            parse_calicoctl_node_status if name == BGP_STATUS_FILES[0] else parse_birdcl_protocols
        )
        facts["bgp_status"] = BgpStatus(file=name, peers=parse(text))

    def _pod_file(self, rel: str, ref: str, name: str) -> None:
        facts = self.pod_facts.setdefault(ref, {})
        part = _POD_FILE_PART.get(name)
        if part is None:
            self.ignore(rel, "layout")
            return
        attr, reader = _NODE_PARTS[part]
        facts[attr] = reader(self.tree.read(rel), rel)
        self.provenance[f"pod:{ref}:{part}"] = rel

    # --- what is absent ----------------------------------------------------------------------

    def _missing(self) -> None:
        if "manifest" not in self.provenance:
            self.notes.append(InputNote(file="bundle.yaml", note="missing"))
        if "version" not in self.fields:
            self.notes.append(InputNote(file="k8s/version.json", note="missing"))
        for key in CORE_RESOURCES:
            if key not in self.provenance:
                res = next(r for r in RESOURCES if r.key == key)
                self.notes.append(InputNote(file=res.path, note="missing"))
        for d in self.tree.dirs:
            parts = d.split("/")
            if len(parts) == 2 and parts[0] == "nodes":
                self.node_facts.setdefault(parts[1], {})
            elif len(parts) == 3 and parts[0] == "pods":
                self.pod_facts.setdefault(f"{parts[1]}/{parts[2]}", {})
            elif d.startswith("nodes/") and len(parts) == 3 and parts[2] == "cni":
                self.node_facts.setdefault(parts[1], {}).setdefault("cni_files", {})
        for node, facts in self.node_facts.items():
            for part, name in NODE_FILES.items():
                attr = "cni_files" if part == "cni" else _NODE_PARTS[part][0]
                if attr not in facts:
                    self.notes.append(InputNote(file=f"nodes/{node}/{name}", note="missing"))
        for ref, facts in self.pod_facts.items():
            for part, name in POD_FILES.items():
                if _NODE_PARTS[part][0] not in facts:
                    self.notes.append(InputNote(file=f"pods/{ref}/{name}", note="missing"))


def _text_bytes(data: bytes) -> bytes:
    data = strip_bom(data)
    return data.replace(b"\r\n", b"\n") if b"\r" in data else data


def _split_suffix(name: str) -> tuple[str, str | None]:
    for suffix in _K8S_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, None


def _resource_for(stem: str) -> tuple[Resource, int] | None:
    """The resource a file stem names, and 0 for its canonical name or 1+ for an alias."""
    for res in RESOURCES:
        if stem == res.name:
            return res, 0
        if stem in res.aliases:
            return res, 1 + res.aliases.index(stem)
    return None
