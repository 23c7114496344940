"""Safe access to a bundle's files: unpacking an archive and reading a folder.

Sits at the very start of the flow, under the bundle sources: they ask this module for the
list of files and for each file's bytes, and never touch the file system themselves. A bundle
comes from someone else's machine, so (``shared/docs/bundle-format.md``, "Safety rules"):

- an archive is unpacked only into a fresh ``tempfile.mkdtemp(prefix="netdoctor-")`` folder,
  removed when the ``unpacked()`` context ends, whatever happens;
- it is read as a stream (``tarfile`` mode ``r|*``), member by member, in chunks, so a bomb
  never lands on disk whole: a member stops as soon as it has expanded more than
  ``max_member_ratio`` times the compressed bytes it has consumed (plus 1 MiB of slack for
  small, very regular files), and the whole archive stops at ``max_total_bytes``;
- members with an absolute path or a ``..`` component, links (symbolic or hard), devices and
  FIFOs are refused: the archive is rejected, nothing of it is used;
- a folder is listed without following links (a symlinked file or folder is skipped with an
  ``ignored`` note) and every file is opened component by component with ``O_NOFOLLOW`` from
  the bundle root, so nothing outside the root is ever read, even if the tree changes while
  it is being read.

Every refusal is a ``BundleError`` with one line that names the archive or file.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

from netdoctor.errors import BundleError
from netdoctor.model.snapshot import InputNote

__all__ = [
    "DEFAULT_MAX_MEMBER_RATIO",
    "DEFAULT_MAX_TOTAL_BYTES",
    "BundleTree",
    "archive_kind",
    "describe_size",
    "quote_name",
    "single_folder",
    "unpacked",
]

DEFAULT_MAX_TOTAL_BYTES: Final = 8 * 2**30  # admits a 150,000-pod bundle
DEFAULT_MAX_MEMBER_RATIO: Final = 200  # kubectl JSON compresses 10-30x; a zero bomb ~1000x

_SLACK: Final = 2**20  # what a member may expand beyond ratio x compressed (tiny regular files)
_CHUNK: Final = 2**20
_MAX_MEMBERS: Final = 2_000_000  # ~15 files per node for 5,000 nodes, plus logs, with room
_MAX_DEPTH: Final = 16  # the layout is at most 5 deep; deeper folders are not read

_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY: Final = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)

# Names that are part of the bundle layout: a single top-level folder with one of these names
# is the bundle's own content, not a wrapper folder.
_LAYOUT_NAMES: Final = frozenset({"k8s", "nodes", "pods", "logs", "probes"})
# What archivers add beside the real content and nobody means to send.
_JUNK: Final = re.compile(r"^(__MACOSX|\.DS_Store|\._.*)$")


def describe_size(n: int) -> str:
    """``8 GiB``, ``200 MiB``, ``512 bytes``: sizes in messages, in the units limits are set in."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def quote_name(name: str, limit: int = 200) -> str:
    """A name from the input, quoted for a one-line message: control characters escaped."""
    shown = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name
    )
    if len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    return f"'{shown}'"


# --- archives ---------------------------------------------------------------------------------


def archive_kind(path: Path) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"``, ``"tar"`` or ``"zip"`` by the first bytes, else None."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[257:262] == b"ustar":
        return "tar"
    if head.startswith(b"PK\x03\x04"):
        return "zip"  # recognised only to say it is not read
    return None


class _Counting:
    """A read-only file wrapper that counts the compressed bytes the decompressor consumed."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def close(self) -> None:  # tarfile closes what it was given only in some modes
        pass


@contextlib.contextmanager
def unpacked(
    path: Path,
    label: str,
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_member_ratio: int = DEFAULT_MAX_MEMBER_RATIO,
    max_file_bytes: int | None = None,
) -> Iterator[Path]:
    """Unpack the archive at ``path`` into a new temporary folder, yield it, remove it after.

    ``label`` is how the archive is named in messages (the path as the user gave it).
    """
    tmp = Path(tempfile.mkdtemp(prefix="netdoctor-"))
    try:
        _unpack(path, tmp, label, max_total_bytes, max_member_ratio, max_file_bytes)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unpack(
    path: Path,
    dest: Path,
    label: str,
    max_total: int,
    ratio: int,
    max_file: int | None,
) -> None:
    total = 0
    members = 0
    try:
        with open(path, "rb") as raw:
            counter = _Counting(raw)
            with tarfile.open(fileobj=counter, mode="r|*") as tf:  # type: ignore[call-overload]
                for member in tf:
                    members += 1
                    if members > _MAX_MEMBERS:
                        raise BundleError(
                            key="error.archive.too_many",
                            params={"path": label, "count": f"{_MAX_MEMBERS:,}"},
                        )
                    parts = _member_parts(member, label)
                    if not parts:
                        continue  # the archive's own "./" entry
                    target = dest.joinpath(*parts)
                    if member.isdir():
                        target.mkdir(mode=0o700, parents=True, exist_ok=True)
                        continue
                    total = _copy_member(
                        tf, member, target, counter, label, total, max_total, ratio, max_file
                    )
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BundleError(
            key="error.archive.unreadable", params={"path": label, "reason": reason}
        ) from None
    if members == 0:
        raise BundleError(key="error.archive.empty", params={"path": label})


def _member_parts(member: tarfile.TarInfo, label: str) -> list[str]:
    """The member's path as safe components, or a BundleError saying why it is refused."""
    name = member.name
    shown = quote_name(name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise BundleError(key="error.archive.absolute", params={"path": label, "member": shown})
    if any(p == ".." for p in re.split(r"[/\\]", name)):
        raise BundleError(key="error.archive.escapes", params={"path": label, "member": shown})
    if member.issym():
        raise BundleError(key="error.archive.symlink", params={"path": label, "member": shown})
    if member.islnk():
        raise BundleError(key="error.archive.hardlink", params={"path": label, "member": shown})
    if member.ischr() or member.isblk():
        raise BundleError(key="error.archive.device", params={"path": label, "member": shown})
    if member.isfifo():
        raise BundleError(key="error.archive.fifo", params={"path": label, "member": shown})
    if not (member.isreg() or member.isdir()):
        raise BundleError(key="error.archive.not_regular", params={"path": label, "member": shown})
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if len(parts) > _MAX_DEPTH + 2:
        raise BundleError(key="error.archive.too_deep", params={"path": label, "member": shown})
    return parts


def _copy_member(
    tf: tarfile.TarFile,
    member: tarfile.TarInfo,
    target: Path,
    counter: _Counting,
    label: str,
    total: int,
    max_total: int,
    ratio: int,
    max_file: int | None,
) -> int:
    shown = quote_name(member.name)
    if max_file is not None and member.size > max_file:
        raise BundleError(
            key="error.archive.file_too_big",
            params={
                "path": label,
                "member": shown,
                "size": describe_size(member.size),
                "limit": describe_size(max_file),
            },
        )
    if total + member.size > max_total:
        raise BundleError(
            key="error.archive.too_big_at",
            params={"path": label, "member": shown, "limit": describe_size(max_total)},
        )
    src = tf.extractfile(member)
    if src is None:  # pragma: no cover - only for non-regular members, refused above
        raise BundleError(
            key="error.archive.unreadable_member", params={"path": label, "member": shown}
        )
    start = counter.count
    written = 0
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_NOFOLLOW | _O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            total += len(chunk)
            if written > ratio * (counter.count - start) + _SLACK:
                raise BundleError(
                    key="error.archive.bomb",
                    params={"path": label, "member": shown, "ratio": str(ratio)},
                )
            if total > max_total:
                raise BundleError(
                    key="error.archive.too_big",
                    params={"path": label, "limit": describe_size(max_total)},
                )
            out.write(chunk)
    return total


# --- folders ----------------------------------------------------------------------------------


def single_folder(root: Path) -> Path:
    """The folder to read as the bundle: ``root``, or its only sub-folder when ``root`` holds
    nothing else (what ``tar czf b.tgz bundle/`` makes), unless that folder is part of the
    layout itself (``k8s/``, ``nodes/``, ...). Links are not followed."""
    entries = [e for e in os.scandir(root) if not _JUNK.match(e.name)]
    if (
        len(entries) == 1
        and entries[0].is_dir(follow_symlinks=False)
        and entries[0].name not in _LAYOUT_NAMES
    ):
        return root / entries[0].name
    return root


class BundleTree:
    """The regular files under a bundle root, listed and read without following any link.

    ``files``: every regular file's path relative to the root (``/``-separated, sorted).
    ``dirs``: every folder's relative path. ``notes``: what was skipped while listing
    (links, special files, folders nested too deeply), as ``ignored`` input notes.
    """

    def __init__(
        self,
        root: Path,
        *,
        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
        max_file_bytes: int | None = None,
    ) -> None:
        self.root = root
        self.max_total_bytes = max_total_bytes
        self.max_file_bytes = max_file_bytes
        self.bytes_read = 0
        self.notes: list[InputNote] = []
        files: list[str] = []
        dirs: list[str] = []
        self._walk(files, dirs)
        self.files: tuple[str, ...] = tuple(sorted(files))
        self.dirs: frozenset[str] = frozenset(dirs)
        self._file_set = frozenset(files)

    def __contains__(self, rel: object) -> bool:
        return rel in self._file_set

    def _walk(self, files: list[str], dirs: list[str]) -> None:
        stack: list[str] = [""]
        while stack:
            rel_dir = stack.pop()
            fd = self._open_dir(rel_dir)
            try:
                entries = sorted(os.scandir(fd), key=lambda e: e.name)
            finally:
                os.close(fd)
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_symlink():
                    self.notes.append(InputNote(file=rel, note="ignored", reason="symlink"))
                elif entry.is_dir(follow_symlinks=False):
                    if rel.count("/") + 1 > _MAX_DEPTH:
                        self.notes.append(
                            InputNote(file=rel + "/", note="ignored", reason="too_deep")
                        )
                        continue
                    dirs.append(rel)
                    stack.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    files.append(rel)
                else:
                    self.notes.append(InputNote(file=rel, note="ignored", reason="not_regular"))

    def _open_dir(self, rel: str) -> int:
        """An fd on the folder ``rel``, walked from the root one component at a time."""
        fd = os.open(self.root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        try:
            for part in _parts(rel):
                nxt = os.open(
                    part, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=fd
                )
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    def read(self, rel: str) -> bytes:
        """The bytes of the regular file ``rel``, within the per-file and total limits."""
        parts = _parts(rel)
        try:
            dir_fd = self._open_dir("/".join(parts[:-1]))
            try:
                fd = os.open(
                    parts[-1],
                    os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC,
                    dir_fd=dir_fd,
                )
            finally:
                os.close(dir_fd)
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise BundleError(key="error.bundle.not_regular", params={"file": rel})
                self._limit(rel, st.st_size)
                # Never more than fstat said (+1 to notice growth): read(n) allocates n bytes.
                data = f.read(st.st_size + 1)
        except OSError as e:
            raise BundleError(
                key="error.bundle.unreadable", params={"file": rel, "error": str(e.strerror or e)}
            ) from None
        if len(data) > st.st_size:
            raise BundleError(key="error.bundle.grew", params={"file": rel})
        self.bytes_read += len(data)
        return data

    def _limit(self, rel: str, size: int) -> None:
        """A BundleError when reading ``size`` bytes for ``rel`` would pass a limit."""
        if self.max_file_bytes is not None and size > self.max_file_bytes:
            raise BundleError(
                key="error.bundle.file_too_big",
                params={
                    "file": rel,
                    "size": describe_size(size),
                    "limit": describe_size(self.max_file_bytes),
                },
            )
        room = self.max_total_bytes - self.bytes_read
        if size > room:
            raise BundleError(
                key="error.bundle.too_big",
                params={"file": rel, "limit": describe_size(self.max_total_bytes)},
            )


def _parts(rel: str) -> list[str]:
    parts = [p for p in rel.split("/") if p]
    if any(p in (".", "..") for p in parts) or rel.startswith("/"):
        raise BundleError(key="error.bundle.escapes", params={"file": quote_name(rel)})
    return parts
