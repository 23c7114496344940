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
from netdoctor.policy.matrix import Klass
from netdoctor.policy.reach import Reach

__all__ = ["SCHEMA_VERSION", "iter_reach_json", "render_reach_text"]

SCHEMA_VERSION = 1
_enc = msgspec.json.Encoder()


def iter_reach_json(r: Reach) -> Iterator[str]:
    """The document ``{"schemaVersion": 1, "entries": [...]}`` in chunks (one per source
    class), one entry a line."""
    classes = r.universe.classes
    n = len(classes)
    names = [[_enc.encode(p.ref).decode() for p in k.pods] for k in classes]
    heads = [[f'{{"from":{a},"to":' for a in row] for row in names]
    yield f'{{"schemaVersion":{SCHEMA_VERSION},"entries":['
    sep = "\n"
    for m in r.matrices:
        port = "null" if m.port is None else str(m.port)
        head = f',"port":{port},"protocol":{_enc.encode(m.protocol).decode()},"allowed":'
        # A tail depends only on (the rules allowing the egress side, the policies isolating
        # it) and the same for ingress: each such side is interned to an int once, and a pair
        # costs two list lookups and one int-keyed dict lookup.
        sides = _Sides()
        intern, side_of = sides.intern, sides.of
        in_ids: list[list[int] | int] = []
        for d in range(n):
            sel = tuple(m.in_sel[d])
            ing = m.ingress_groups(d)
            if ing is None:
                in_ids.append(intern(None, ()))
            else:
                gid, table = ing
                ids = [intern(t, sel) for t in table]
                in_ids.append([ids[g] for g in gid])
        tails: dict[int, str] = {}
        for s in range(n):
            sel = tuple(m.eg_sel[s])
            eg = m.egress_groups(s)
            if eg is None:
                free = intern(None, ())
                eg_ids: list[int] = [free] * n
            else:
                gid, table = eg
                ids = [intern(t, sel) for t in table]
                eg_ids = [ids[g] for g in gid]
            # Every pod of class s pairs with the same (destination + tail) strings: build
            # them once per class, then one C-level join per source pod.
            others: list[str] = []
            same_tail = ""
            for d in range(n):
                ing_d = in_ids[d]
                i_id = ing_d if isinstance(ing_d, int) else ing_d[s]
                key = eg_ids[d] << 32 | i_id
                tail = tails.get(key)
                if tail is None:
                    tail = tails[key] = _tail(head, side_of[eg_ids[d]], side_of[i_id])
                if d == s:
                    same_tail = tail
                else:
                    others.extend([b + tail for b in names[d]])
            own = names[s]
            for h, a in zip(heads[s], own, strict=True):
                cells = (
                    others + [b + same_tail for b in own if b is not a] if len(own) > 1 else others
                )
                if cells:
                    yield sep + h + (",\n" + h).join(cells)
                    sep = ",\n"
        tails.clear()
    yield "\n]}\n"


_Side = tuple[tuple[str, ...] | None, tuple[str, ...]]


class _Sides:
    """Interns one side's verdict (the rules allowing it or None when not isolated, and the
    policies isolating it) as a small int."""

    def __init__(self) -> None:
        self.ids: dict[_Side, int] = {}
        self.of: list[_Side] = []

    def intern(self, by: tuple[str, ...] | None, sel: tuple[str, ...]) -> int:
        key = (by, sel)
        i = self.ids.get(key)
        if i is None:
            i = self.ids[key] = len(self.of)
            self.of.append(key)
        return i


def _tail(
    head: str,
    eg: _Side,
    ing: _Side,
) -> str:
    (by_eg, eg_sel), (by_in, in_sel) = eg, ing
    eg_ok = by_eg is None or bool(by_eg)
    in_ok = by_in is None or bool(by_in)
    allowed = eg_ok and in_ok
    denied = ([] if eg_ok else [f"{ref} egress" for ref in eg_sel]) + (
        [] if in_ok else [f"{ref} ingress" for ref in in_sel]
    )
    by = [*(by_eg or ()), *(by_in or ())] if allowed else []
    return (
        f"{head}{'true' if allowed else 'false'}"
        f',"allowedBy":{_enc.encode(by).decode()}'
        f',"deniedBy":{_enc.encode(denied).decode()}}}'
    )


def _class_label(k: Klass, limit: int = 3) -> str:
    refs = [p.ref for p in k.pods[:limit]]
    more = len(k.pods) - limit
    return ", ".join(refs) + (f" (+{more})" if more > 0 else "")


def render_reach_text(
    r: Reach,
    lang: Lang,
    *,
    width: int | None = None,
    color: bool | None = None,
    max_rows: int = 200,
) -> str:
    """One row per pair of label classes and port; past ``max_rows`` rows only the denied
    ones (up to ``max_rows``), with the count of what is left out."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

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
    rows: list[tuple[bool, tuple[Text, ...]]] = []
    for m in r.matrices:
        port = t("reach.any_port") if m.port is None else f"{m.port}/{m.protocol}"
        for s in classes:
            for d in classes:
                if s is d and len(s.pods) == 1:
                    continue
                allowed, by, denied = m.why(s.index, d.index)
                verdict = t("reach.allowed") if allowed else t("reach.denied")
                cells: tuple[Text, ...] = (
                    Text(clean_line(_class_label(s))),
                    Text(clean_line(_class_label(d))),
                    Text(port),
                    Text(verdict, style="green" if allowed else "red"),
                    Text(clean_line(", ".join(by if allowed else denied))),
                )
                rows.append((allowed, cells))
    # A big matrix as a table helps nobody: past max_rows, show what is denied, and say so.
    shown = rows if len(rows) <= max_rows else [row for row in rows if not row[0]]
    for _, row_cells in shown[:max_rows]:
        table.add_row(*row_cells)
    console.print(table)
    if len(shown) < len(rows):
        console.print(t("reach.allowed_hidden", count=str(len(rows) - len(shown))))
    if len(shown) > max_rows:
        console.print(t("reach.more", count=str(len(shown) - max_rows)))
    return console.export_text(styles=bool(color))
