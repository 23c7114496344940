"""``sysctl -a`` text -> ``{key: value}`` (parsers layer: bytes -> model).

Keys are kept exactly as printed: sysctl writes an interface name's dots as slashes
(``net.ipv4.conf.eth0/100.rp_filter`` for ``eth0.100``), and checks look keys up that way.
Values keep their inner tabs (``net.ipv4.tcp_rmem = 4096<TAB>131072<TAB>6291456``).
Only the networking subset the model holds is kept (``netdoctor.model.nodefacts.sysctl_kept``),
with keys and values interned: a 1,000-node bundle repeats the same few thousand strings.
"""

from __future__ import annotations

import sys

from netdoctor.errors import ParseError
from netdoctor.model.nodefacts import sysctl_kept
from netdoctor.parsers._text import decode_text, split_lines

__all__ = ["parse_sysctl"]

# sysctl's own complaints ("permission denied on key ...", "reading key ...") are written to
# stderr, but bundles made by hand often hold `sysctl -a 2>&1`; no key starts with this.
_ERROR_PREFIX = "sysctl: "


def parse_sysctl(data: bytes, file: str) -> dict[str, str]:
    """``key = value`` lines; a later duplicate key wins, as in the kernel's own order."""
    text = decode_text(data, file)
    if not text.strip():
        raise ParseError(file, "empty file; expected `sysctl -a` output")
    out: dict[str, str] = {}
    for n, line in enumerate(split_lines(text), 1):
        key, sep, value = line.partition(" = ")
        if not sep:
            stripped = line.strip()
            if not stripped or stripped[0] in "#;" or stripped.startswith(_ERROR_PREFIX):
                continue
            # "key =" (an empty value loses its trailing space) and sysctl.conf's "key=value".
            key, sep, value = stripped.partition("=")
            if not sep:
                raise ParseError(file, f"line {n}: expected `key = value`, got {stripped[:60]!r}")
        elif line.startswith(_ERROR_PREFIX):
            continue
        key = key.strip()
        if not key or " " in key:
            raise ParseError(file, f"line {n}: expected `key = value`, got {line.strip()[:60]!r}")
        if sysctl_kept(key):
            out[sys.intern(key)] = sys.intern(value.strip(" \t"))
    return out
