"""Helpers for the source tests: where the fixtures are, archive builders, message checks."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BUNDLES = FIXTURES / "bundles"
BAD = FIXTURES / "bad"


def pack(src: Path, dest: Path, *, prefix: str = "", mode: str = "w:gz") -> Path:
    """``tar c`` of ``src``'s content into ``dest``; ``prefix`` wraps it in one folder."""
    with tarfile.open(dest, mode) as tf:  # type: ignore[call-overload]
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src).as_posix()
            tf.add(path, arcname=f"{prefix}{rel}", recursive=False)
    return dest


def tar_with(dest: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    """A .tgz holding exactly ``members`` (TarInfo, content or None), for hostile archives."""
    with tarfile.open(dest, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return dest


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


def assert_one_line(message: str, *fragments: str) -> None:
    """An error message a user sees: one line, holding each of ``fragments``."""
    assert "\n" not in message, repr(message)
    assert "\r" not in message, repr(message)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
