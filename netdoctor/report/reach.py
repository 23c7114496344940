"""Render ``netdoctor reach``: the JSON document (one entry per pod pair and port) and a text
table (one row per pair of label classes).

Report layer. The JSON is written in pieces: per class pair the verdict's tail is encoded once
and every pod pair of the two classes reuses it, so 4 million entries cost string joins, not
4 million dict encodings. A pod is never paired with itself (loopback is not policed).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import msgspec

from netdoctor.catalog import Lang, load_catalog
from netdoctor.policy.matrix import ClassMatrix, Klass
from netdoctor.policy.reach import Reach

__all__ = ["SCHEMA_VERSION", "iter_reach_json", "render_reach_text"]

SCHEMA_VERSION = 1
_enc = msgspec.json.Encoder()


def _tail(m: ClassMatrix, s: int, d: int) -> str:
    allowed, by, denied = m.why(s, d)
    port = "null" if m.port is None else str(m.port)
    return (
        f',"port":{port},"protocol":{_enc.encode(m.protocol).decode()}'
        f',"allowed":{"true" if allowed else "false"}'
        f',"allowedBy":{_enc.encode(by).decode()},"deniedBy":{_enc.encode(denied).decode()}}}'
    )


def iter_reach_json(r: Reach) -> Iterator[str]:
    """The document ``{"schemaVersion": 1, "entries": [...]}`` in chunks, one entry a line."""
    classes = r.universe.classes
    names = {k.index: [_enc.encode(p.ref).decode() for p in k.pods] for k in classes}
    yield f'{{"schemaVersion":{SCHEMA_VERSION},"entries":['
    first = True
    for m in r.matrices:
        for s in classes:
            for d in classes:
                tail = _tail(m, s.index, d.index)
                chunk: list[str] = []
                for a in names[s.index]:
                    for b in names[d.index]:
                        if a is b:
                            continue
                        chunk.append(f'{{"from":{a},"to":{b}{tail}')
                if not chunk:
                    continue
                body = ",\n".join(chunk)
                yield ("\n" if first else ",\n") + body
                first = False
    yield "\n]}\n"


def _class_label(k: Klass, limit: int = 3) -> str:
    refs = [p.ref for p in k.pods[:limit]]
    more = len(k.pods) - limit
    return ", ".join(refs) + (f" (+{more})" if more > 0 else "")


def render_reach_text(
    r: Reach, lang: Lang, *, width: int | None = None, color: bool | None = None
) -> str:
    from rich.console import Console
    from rich.table import Table

    from netdoctor.report.textutil import clean_line

    cat = load_catalog()

    def t(key: str, **params: str) -> str:
        return cat.text(key, lang, params)

    console = Console(
        width=width or 100,
        record=True,
        force_terminal=bool(color),
        color_system="standard" if color else None,
        file=io.StringIO(),
    )
    ports = ", ".join(
        t("reach.any_port") if m.port is None else f"{m.port}/{m.protocol}" for m in r.matrices
    )
    console.print(
        t(
            "reach.title",
            pods=str(len(r.pods)),
            classes=str(len(r.universe.classes)),
            ports=ports,
        )
    )
    if not r.pods:
        console.print(t("reach.no_pods"))
        return console.export_text(styles=bool(color))
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for key in ("reach.from", "reach.to", "reach.port", "reach.verdict", "reach.by"):
        table.add_column(t(key), overflow="fold")
    classes = r.universe.classes
    for m in r.matrices:
        port = t("reach.any_port") if m.port is None else f"{m.port}/{m.protocol}"
        for s in classes:
            for d in classes:
                if s is d and len(s.pods) == 1:
                    continue
                allowed, by, denied = m.why(s.index, d.index)
                verdict = t("reach.allowed") if allowed else t("reach.denied")
                style = "green" if allowed else "red"
                table.add_row(
                    clean_line(_class_label(s)),
                    clean_line(_class_label(d)),
                    port,
                    f"[{style}]{verdict}[/{style}]",
                    clean_line(", ".join(by if allowed else denied)),
                )
    console.print(table)
    return console.export_text(styles=bool(color))
