"""The live source: a running cluster's API objects, read into the same Snapshot a bundle gives.

sources layer. ``LiveSource.fetch()`` lists every kind netdoctor reads concurrently (raw pages,
``sources.live.api``); ``LiveSource.load()`` decodes those pages with the bundle's own decoders
(``parsers.kube.decode_list``) into a Snapshot whose provenance names the bundle paths
(``k8s/pods.json``), so evidence reads the same live and offline. ``collect`` writes the same
pages as a bundle.

What could not be read is data, not an error: a 403 leaves the kind absent (``None``) with an
``InputNote`` (reason ``forbidden``, ``permission: "list pods"``) so the checks that need it
are skipped naming the missing permission; a timeout, a 5xx that persists, a second 410 Gone
likewise leave a note. Only "cannot reach the API server at all" is an error.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from netdoctor import __version__
from netdoctor.errors import InputError
from netdoctor.model.k8s import GenericObject, VersionInfo
from netdoctor.model.layout import NODE_FILES, RESOURCES, Resource
from netdoctor.model.nodefacts import NetFacts
from netdoctor.model.snapshot import InputNote, Manifest, Probe, Snapshot
from netdoctor.parsers.bundle_files import parse_probe
from netdoctor.parsers.kube import decode_list, parse_version
from netdoctor.sources.bundle import _ITEM_TYPES, _NODE_FILE_PART, _NODE_PARTS, CORE_RESOURCES
from netdoctor.sources.live.api import API_PATHS, DEFAULT_PAGE_SIZE, ApiReader, ListResult

__all__ = ["LIVE_RESOURCES", "LiveRead", "LiveSource", "version_json"]

SOURCE_KIND: Final = "live"

# The kinds a bundle reader uses, in layout order: exactly what live reads and collect writes.
LIVE_RESOURCES: Final[tuple[Resource, ...]] = tuple(
    r
    for r in RESOURCES
    if r.key.removeprefix("k8s.") in _ITEM_TYPES
    or r.key.removeprefix("k8s.") in Snapshot.custom_keys
)


@dataclass
class LiveRead:
    """Everything one read of the API returned, before decoding: the input of load and collect."""

    label: str
    collected_at: str
    server: str = ""
    results: dict[str, ListResult] = field(default_factory=dict)  # resource name -> result
    version: bytes | None = None  # `kubectl version -o json` shape
    version_note: InputNote | None = None
    seconds: float = 0.0
    # node -> bundle file name under nodes/<node>/ -> the command's output
    node_files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    node_notes: list[InputNote] = field(default_factory=list)
    # probe name -> probes/<name>.json content; None: no probe was asked for
    probe_files: dict[str, bytes] | None = None
    probe_notes: list[InputNote] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.results.values()) + 1

    def notes(self) -> list[InputNote]:
        """What could not be read, as input notes on the bundle path it would have had."""
        out: list[InputNote] = []
        if self.version_note is not None:
            out.append(self.version_note)
        out += self.node_notes
        out += self.probe_notes
        for res in LIVE_RESOURCES:
            r = self.results.get(res.name)
            if r is None or r.ok:
                continue
            if r.status == "not-found" and res.key not in CORE_RESOURCES:
                continue  # a CRD that is not installed: as absent as a file never written
            _, rbac = API_PATHS[res.name]
            params = {"permission": f"list {rbac}", "detail": r.detail}
            out.append(
                InputNote(file=res.path, note="missing", reason=_REASON[r.status], params=params)
            )
        return out


_REASON: Final = {
    "forbidden": "forbidden",
    "unauthorized": "unauthorized",
    "not-found": "not_served",
    "gone": "gone",
    "timeout": "api_timeout",
    "error": "api_error",
}


def version_json(server_version: bytes) -> bytes:
    """``kubectl version -o json`` as the server half of it: ``{"serverVersion": {...}}``."""
    return b'{"serverVersion": ' + server_version.strip() + b"}\n"


class LiveSource:
    """A running cluster read through ``api_client`` (a ``kubernetes.client.ApiClient``)."""

    def __init__(
        self,
        api_client: Any,
        *,
        label: str = "cluster",
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: float = 30.0,
        deadline: float = 300.0,
        workers: int = 6,
        configmap_namespaces: tuple[str, ...] | None = None,
    ) -> None:
        self.api_client = api_client
        self.label = label
        self.page_size = page_size
        self.timeout = timeout
        self.deadline = deadline
        self.workers = workers
        self.configmap_namespaces = configmap_namespaces

    def fetch(self, on_done: Callable[[ListResult], None] | None = None) -> LiveRead:
        """List every kind concurrently; raise ``InputError`` only if the server never answers."""
        start = time.monotonic()
        reader = ApiReader(
            self.api_client, page_size=self.page_size, timeout=self.timeout, deadline=self.deadline
        )
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        server = str(getattr(getattr(self.api_client, "configuration", None), "host", "") or "")
        read = LiveRead(label=self.label, collected_at=now, server=server)
        try:
            status, body = reader.version()
        except TimeoutError:
            raise InputError(
                key="live.error.api_timeout",
                params={"cluster": self.label, "seconds": f"{self.timeout:g}"},
            ) from None
        except ConnectionError as e:
            raise InputError(
                key="live.error.unreachable",
                params={"cluster": self.label, "error": _short(str(e))},
            ) from None
        if status == 401:
            raise InputError(key="live.error.unauthorized", params={"cluster": self.label})
        if status == 200:
            read.version = version_json(body)
        else:
            read.version_note = InputNote(
                file="k8s/version.json",
                note="missing",
                reason="api_error",
                params={"permission": "get /version", "detail": f"HTTP {status}"},
            )

        def one(res: Resource) -> ListResult:
            ns = self.configmap_namespaces if res.name == "configmaps" else None
            result = reader.list(res.name, ns)
            if on_done is not None:
                on_done(result)
            return result

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for res, result in zip(LIVE_RESOURCES, pool.map(one, LIVE_RESOURCES), strict=True):
                read.results[res.name] = result
        read.seconds = time.monotonic() - start
        return read

    def load(self) -> Snapshot:
        return snapshot_of(self.fetch())


def snapshot_of(read: LiveRead, *, release: bool = True) -> Snapshot:
    """Decode a LiveRead into a Snapshot (``release``: drop each kind's pages once decoded).

    The cyclic garbage collector is paused meanwhile: decoding creates hundreds of thousands
    of objects that all stay alive, and each collection it triggers would walk all of them
    again (150,000 pods: 13 s with it, 5 s without).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _snapshot_of(read, release)
    finally:
        if was_enabled:
            gc.enable()


def _snapshot_of(read: LiveRead, release: bool) -> Snapshot:
    fields: dict[str, Any] = {}
    custom: dict[str, tuple[GenericObject, ...]] = {}
    provenance: dict[str, str] = {}
    version: VersionInfo | None = None
    if read.version is not None:
        version = parse_version(read.version, "k8s/version.json")
        provenance["k8s.version"] = "k8s/version.json"
    for res in LIVE_RESOURCES:
        r = read.results.get(res.name)
        if r is None or not r.ok:
            continue
        attr = res.key.removeprefix("k8s.")
        typ = GenericObject if attr in Snapshot.custom_keys else _ITEM_TYPES[attr]
        items: list[Any] = []
        for i, page in enumerate(r.pages):
            decoded = decode_list(page, f"{res.path} (API page {i + 1})", typ)
            items.extend(_typed(decoded, _head_decoder.decode(page)))
        if release:
            r.pages = []
        if attr in Snapshot.custom_keys:
            custom[res.key] = tuple(items)
        else:
            fields[attr] = tuple(items)
        provenance[res.key] = res.path
    node_facts: dict[str, dict[str, Any]] = {}
    for node, files in sorted(read.node_files.items()):
        facts = node_facts.setdefault(node, {})
        for name, data in sorted(files.items()):
            part = _NODE_FILE_PART[name]
            attr, reader = _NODE_PARTS[part]
            rel = f"nodes/{node}/{name}"
            facts[attr] = reader(data, rel)
            provenance[f"node:{node}:{part}"] = rel
    probes: tuple[Probe, ...] | None = None
    if read.probe_files is not None:
        probes = tuple(
            parse_probe(data, f"probes/{name}.json", name)
            for name, data in sorted(read.probe_files.items())
        )
        provenance["probes"] = "probes/"
    # As a bundle reader notes them: a node with facts lacks the files no command wrote.
    notes = read.notes()
    noted = {n.file for n in notes}
    for node in node_facts:
        for name in NODE_FILES.values():
            rel = f"nodes/{node}/{name}"
            if name not in read.node_files[node] and rel not in noted:
                notes.append(InputNote(file=rel, note="missing"))
    return Snapshot(
        source_kind=SOURCE_KIND,
        source_path=read.server or read.label,
        manifest=Manifest(
            collected_at=read.collected_at, collector=f"netdoctor {__version__}", cluster=read.label
        ),
        version=version,
        custom=custom,
        node_facts={n: NetFacts(**kw) for n, kw in node_facts.items()},
        probes=probes,
        input_notes=tuple(sorted(notes, key=lambda n: (n.file, n.note, n.detail))),
        provenance=provenance,
        **fields,
    )


class _Head(msgspec.Struct):
    kind: str = ""
    api_version: str = msgspec.field(default="", name="apiVersion")


_head_decoder: Final = msgspec.json.Decoder(_Head)


def _typed(items: tuple[Any, ...], head: _Head) -> tuple[Any, ...]:
    """Items with ``apiVersion``/``kind`` set as kubectl prints them (the API omits them in
    lists of built-in kinds), so live objects equal the ones a bundle holds."""
    kind = head.kind.removesuffix("List")
    if not kind or all(it.kind for it in items):
        return items
    return tuple(
        it if it.kind else msgspec.structs.replace(it, kind=kind, api_version=head.api_version)
        for it in items
    )


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
