"""Deterministic uids, container ids and controller name suffixes."""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["UID_NS", "hexid", "rs_hash", "suffix5", "uid"]

UID_NS = uuid.UUID("6f1c2a4e-9d7b-4e51-8a3c-0b5d7e9f1a20")


def uid(*parts: str) -> str:
    return str(uuid.uuid5(UID_NS, "/".join(parts)))


def hexid(*parts: str, n: int = 64) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def suffix5(*parts: str) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    h = int(hexid(*parts), 16)
    out = ""
    for _ in range(5):
        h, r = divmod(h, len(alphabet))
        out += alphabet[r]
    return out


def rs_hash(*parts: str) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    h = int(hexid("rs", *parts), 16)
    out = ""
    for _ in range(10):
        h, r = divmod(h, len(alphabet))
        out += alphabet[r]
    return out
