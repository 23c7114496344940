"""``netdoctor collect``: write what the live source read as a bundle (bundle-format.md, v1).

sources layer. The files are the ones a person would make by hand: ``k8s/<resource>.json`` is a
``kind: List`` with each item's ``apiVersion`` and ``kind`` (as ``kubectl get -A -o json``
prints it, 4-space indent), ``k8s/version.json`` the server half of ``kubectl version -o
json``, and ``bundle.yaml`` the manifest with ``redacted: true``, the list of redacted values
(``redactions``) and the kinds that could not be read (``notCollected``, with the reason and
the permission), which readers ignore. Secrets are never read, kubeconfig never written.

The output is a ``.tar.gz`` / ``.tgz`` (members at the top level) or a new folder. It is
written beside its final name and renamed into place, so an interrupted collect leaves no
half-written bundle.
"""

from __future__ import annotations

import gc
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from netdoctor import __version__
from netdoctor.errors import UsageError
from netdoctor.model.snapshot import Question
from netdoctor.sources.bundle import CORE_RESOURCES
from netdoctor.sources.live.api import API_PATHS, ListResult
from netdoctor.sources.live.redact import redact_object
from netdoctor.sources.live.source import _REASON, LIVE_RESOURCES, LiveRead

__all__ = ["CollectSummary", "bundle_files", "write_bundle"]


class _Items(msgspec.Struct):
    kind: str = ""
    api_version: str = msgspec.field(default="", name="apiVersion")
    items: list[dict[str, Any]] | None = None


_items_decoder = msgspec.json.Decoder(_Items)


@dataclass
class CollectSummary:
    path: str
    kinds: int = 0
    objects: int = 0
    calls: int = 0
    seconds: float = 0.0
    redactions: list[str] = field(default_factory=list)
    not_collected: list[dict[str, str]] = field(default_factory=list)


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _manifest(read: LiveRead, question: Question | None, summary: CollectSummary) -> bytes:
    lines = [
        "formatVersion: 1",
        f"collectedAt: {_q(read.collected_at)}",
        f"collector: {_q('netdoctor ' + __version__)}",
        f"cluster: {_q(read.label)}",
    ]
    if question is not None and not question.empty:
        lines.append("question:")
        if question.from_:
            lines.append(f"  from: {_q(question.from_)}")
        if question.to:
            lines.append(f"  to: {_q(question.to)}")
        if question.port:
            lines.append(f"  port: {_q(f'{question.port}/{question.protocol.lower()}')}")
        if question.symptom:
            lines.append(f"  symptom: {_q(question.symptom)}")
    lines.append("redacted: true")
    lines.append("redactions:" + ("" if summary.redactions else " []"))
    lines += [f"  - {_q(r)}" for r in summary.redactions]
    lines.append("notCollected:" + ("" if summary.not_collected else " []"))
    for nc in summary.not_collected:
        lines.append(f"  - file: {_q(nc['file'])}")
        lines.append(f"    reason: {_q(nc['reason'])}")
        lines.append(f"    permission: {_q(nc['permission'])}")
    return ("\n".join(lines) + "\n").encode()


def bundle_files(
    read: LiveRead, question: Question | None, summary: CollectSummary
) -> Iterator[tuple[str, bytes | BinaryIO]]:
    """The bundle's files (path, content), redacted, one at a time; fills ``summary``.

    A list file comes as a temporary file (at its end) rather than bytes: pods.json of a
    150,000-pod cluster is most of a GiB.

    ``bundle.yaml`` comes last: it lists what was redacted. Each kind's pages are released as
    they are written, and the cyclic GC is paused while the objects are built (as in
    ``snapshot_of``), so 150,000 pods stay within the memory and time of one read.
    """
    if read.version is not None:
        yield "k8s/version.json", read.version
    for res in LIVE_RESOURCES:
        r = read.results.get(res.name)
        if r is None:
            continue
        if not r.ok:
            if r.status != "not-found" or res.key in CORE_RESOURCES:
                summary.not_collected.append(
                    {
                        "file": res.path,
                        "reason": _REASON[r.status],
                        "permission": f"list {API_PATHS[res.name][1]}",
                    }
                )
            continue
        with tempfile.TemporaryFile() as spool:
            _list_file(r, res.path, summary, spool)
            yield res.path, spool
        summary.kinds += 1
    for node, node_files in sorted(read.node_files.items()):
        for name, data in sorted(node_files.items()):
            yield f"nodes/{node}/{name}", data
    for name, data in sorted((read.probe_files or {}).items()):
        yield f"probes/{name}.json", data
    yield "bundle.yaml", _manifest(read, question, summary)


def _list_file(r: ListResult, file: str, summary: CollectSummary, out: BinaryIO) -> None:
    """``kubectl get -A -o json`` of one kind: a ``kind: List``, 4-space indent, items typed."""
    out.write(b'{\n    "apiVersion": "v1",\n    "items": [')
    first = True
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i, page in enumerate(r.pages):
            lst = _items_decoder.decode(page)
            r.pages[i] = b""
            kind = lst.kind.removesuffix("List") or "Object"
            typed = []
            for obj in lst.items or ():
                redact_object(obj, kind, file, summary.redactions)
                typed.append(
                    {"apiVersion": obj.pop("apiVersion", lst.api_version), "kind": kind, **obj}
                )
            if typed:
                # One page at a time: "[\n    {...},\n    {...}\n]" -> items 8 spaces in.
                body = msgspec.json.format(_encode(typed), indent=4)[2:-2]
                out.write(b"\n    " if first else b",\n    ")
                out.write(body.replace(b"\n", b"\n    "))
                first = False
                summary.objects += len(typed)
            del typed
            del lst
    finally:
        if was_enabled:
            gc.enable()
    r.pages = []
    out.write(_LIST_END)


_LIST_END = (
    b'\n    ],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n'
)


_encode = msgspec.json.Encoder().encode


def write_bundle(
    read: LiveRead, out: str | Path, question: Question | None = None
) -> CollectSummary:
    """Write ``out`` (``.tar.gz``/``.tgz`` archive, else a new folder); never overwrites."""
    out = Path(out)
    if out.exists():
        raise UsageError(key="live.error.out_exists", params={"path": str(out)})
    summary = CollectSummary(path=str(out), calls=read.calls)
    start = time.monotonic()
    files = bundle_files(read, question, summary)
    parent = out.parent if str(out.parent) else Path(".")
    archive = out.name.endswith((".tar.gz", ".tgz"))
    if archive:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=parent)
        try:
            with (
                os.fdopen(fd, "wb") as fh,
                tarfile.open(fileobj=fh, mode="w:gz", compresslevel=1) as tf,
            ):
                dirs: set[str] = set()
                mtime = int(time.time())
                for rel, data in files:
                    parts = rel.split("/")[:-1]
                    for i in range(1, len(parts) + 1):
                        d = "/".join(parts[:i])
                        if d not in dirs:
                            dirs.add(d)
                            info = tarfile.TarInfo(d)
                            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                            tf.addfile(info)
                    info = tarfile.TarInfo(rel)
                    info.mode, info.mtime = 0o644, mtime
                    if isinstance(data, bytes):
                        info.size = len(data)
                        tf.addfile(info, io.BytesIO(data))
                    else:
                        info.size = data.tell()
                        data.seek(0)
                        tf.addfile(info, data)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    else:
        tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
        try:
            for rel, data in files:
                p = tmpdir / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(data, bytes):
                    p.write_bytes(data)
                else:
                    data.seek(0)
                    with p.open("wb") as fh:
                        shutil.copyfileobj(data, fh, 1 << 20)
            os.replace(tmpdir, out)
        except BaseException:
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise
    summary.seconds = read.seconds + (time.monotonic() - start)
    return summary
