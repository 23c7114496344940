"""Shared first step of the text parsers (parsers layer: bytes -> model): bytes to clean text.

Private to ``netdoctor.parsers``.
"""

from __future__ import annotations

from netdoctor.errors import ParseError

_BOM = "\ufeff"


def decode_text(data: bytes, file: str) -> str:
    """UTF-8 text without a leading BOM; a ParseError that names the first bad byte otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError(
            file, f"not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start}"
        ) from None
    return text[1:] if text.startswith(_BOM) else text


def split_lines(text: str) -> list[str]:
    """Lines without their CR/LF ends.

    ``str.splitlines`` is not used: it also breaks on form feeds and Unicode separators, which
    would shift the line numbers that error messages and evidence quote.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
