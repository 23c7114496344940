"""``ip -j`` and ``bridge -j`` output -> node-facts model (parsers layer: bytes -> model).

The model's field names are the keys iproute2 prints, so the common case is one typed msgspec
decode. What differs between iproute2 versions is absorbed here, not in the checks:

* numbers printed as strings: decoded with ``strict=False``, which turns ``"1500"`` into 1500;
* ``{}`` entries (in the list, or in ``addr_info``) and entries without their key field: skipped;
* ``ip -j rule`` prints ``"not": null`` for a negated rule (the key alone carries the meaning);
* a route type printed without its key, ``{"local","dst":...}``, which is not JSON at all
  (iproute2/iproute2#37): repaired to ``{"type":"local",...}`` before a second attempt;
* a single string where a list of flags or states is expected: made a one-item list.
"""

from __future__ import annotations

import re
import sys
from typing import Any, TypeVar

import msgspec

from netdoctor.errors import ParseError
from netdoctor.model.nodefacts import FdbEntry, Interface, Neighbour, Route, RoutingRule

__all__ = [
    "parse_bridge_fdb",
    "parse_ip_addr",
    "parse_ip_neigh",
    "parse_ip_route",
    "parse_ip_rule",
]

_T = TypeVar("_T", Interface, Route, RoutingRule, Neighbour, FdbEntry)

_JSON_WS = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_BYTE_AT = re.compile(r"\(byte (\d+)\)")
# An object that opens with a bare string: the route type iproute2 printed without a key.
_KEYLESS_TYPE = re.compile(rb'\{(\s*)"([a-z_]+)"(\s*),')


def parse_ip_addr(data: bytes, file: str) -> tuple[Interface, ...]:
    """``ip -j -d addr show`` (or ``ip -j addr``, ``ip -j -d link``) -> interfaces."""
    items = _decode(data, file, list[Interface], "interfaces", ("flags",))
    out: list[Interface] = []
    for i in items:
        if not i.ifname:
            continue
        if any(not a.family and not a.local for a in i.addr_info):
            i = msgspec.structs.replace(
                i, addr_info=[a for a in i.addr_info if a.family or a.local]
            )
        out.append(i)
    return tuple(out)


def parse_ip_route(data: bytes, file: str) -> tuple[Route, ...]:
    """``ip -j route show table all`` (IPv4 or IPv6) -> routes, in the order printed."""
    routes = tuple(r for r in _decode(data, file, list[Route], "routes", ("flags",)) if r.dst)
    _intern_routes(routes)
    return routes


# Route fields whose few values repeat on every node (a device, "bird", "link", a peer's
# address): sharing one string per value keeps a million routes (1,000 Calico nodes with a
# block each) in a few hundred MiB instead of twice that.
_ROUTE_WORDS = ("dev", "gateway", "protocol", "scope", "table", "type", "prefsrc")


def _intern_routes(routes: tuple[Route, ...]) -> None:
    intern, setattr_ = sys.intern, msgspec.structs.force_setattr
    for r in routes:
        for name in _ROUTE_WORDS:
            value = getattr(r, name)
            if value is not None:
                setattr_(r, name, intern(value))
        if r.flags:
            setattr_(r, "flags", _FLAGS.setdefault(r.flags, r.flags))


_FLAGS: dict[tuple[str, ...], tuple[str, ...]] = {}


def parse_ip_rule(data: bytes, file: str) -> tuple[RoutingRule, ...]:
    """``ip -j rule show`` -> policy routing rules, in priority order as printed."""
    # Always the tolerant path: current iproute2 prints "not": null, which no bool accepts.
    return tuple(_decode(data, file, list[RoutingRule], "rules", (), tolerant_only=True))


def parse_ip_neigh(data: bytes, file: str) -> tuple[Neighbour, ...]:
    """``ip -j neigh show`` -> neighbour (ARP/NDP) entries."""
    return tuple(n for n in _decode(data, file, list[Neighbour], "neighbours", ("state",)) if n.dst)


def parse_bridge_fdb(data: bytes, file: str) -> tuple[FdbEntry, ...]:
    """``bridge -j fdb show`` -> forwarding database entries (VXLAN ones carry ``dst``)."""
    return tuple(e for e in _decode(data, file, list[FdbEntry], "fdb entries", ("flags",)) if e.mac)


def _decode(
    data: bytes,
    file: str,
    type_: type[list[_T]],
    what: str,
    list_keys: tuple[str, ...],
    *,
    tolerant_only: bool = False,
) -> list[_T]:
    """Decode a JSON list of entries; ``list_keys`` hold lists of words (a lone word is listed)."""
    body = data[3:] if data.startswith(_BOM) else data
    start = body.lstrip(_JSON_WS)[:1]
    if not start:
        raise ParseError(file, "empty file")
    if start != b"[":
        raise ParseError(file, f"expected a JSON list of {what}, got {_kind(_loads(body, file))}")
    if not tolerant_only:
        try:
            return msgspec.json.decode(body, type=type_, strict=False)
        except msgspec.ValidationError:
            pass  # an odd shape some iproute2 version prints; the tolerant path handles it
        except msgspec.DecodeError as e:
            repaired = _KEYLESS_TYPE.sub(rb'{\1"type":"\2"\3,', body)
            if repaired == body:
                raise ParseError(file, _not_json(e, len(body))) from None
            try:
                msgspec.json.decode(repaired)
            except (ValueError, RecursionError):
                # Not that quirk after all: report the place in the file as given.
                raise ParseError(file, _not_json(e, len(body))) from None
            body = repaired
        except (ValueError, RecursionError) as e:
            raise ParseError(file, _not_json(e, len(body))) from None
    return _decode_tolerant(body, file, type_, what, list_keys)


def _loads(body: bytes, file: str) -> Any:
    try:
        return msgspec.json.decode(body)
    except (ValueError, RecursionError) as e:
        raise ParseError(file, _not_json(e, len(body))) from None


def _decode_tolerant(
    body: bytes, file: str, type_: type[list[_T]], what: str, list_keys: tuple[str, ...]
) -> list[_T]:
    raw = _loads(body, file)
    if not isinstance(raw, list):
        raise ParseError(file, f"expected a JSON list of {what}, got {_kind(raw)}")
    entries: list[dict[str, Any]] = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ParseError(file, f"entry {n}: expected an object, got {_kind(item)}")
        if not item:
            continue
        for key in list_keys:
            if isinstance(item.get(key), str):
                item[key] = [item[key]]
        if "not" in item:
            # ip prints the key with a null value; its presence is what negates the rule.
            item["not"] = item["not"] is not False
        entries.append(item)
    try:
        return msgspec.convert(entries, type=type_, strict=False)
    except msgspec.ValidationError as e:
        raise ParseError(file, f"unexpected value in {what}: {e}") from None
    except RecursionError:
        raise ParseError(file, "JSON nested too deeply") from None


def _not_json(err: BaseException, size: int) -> str:
    if isinstance(err, RecursionError):
        return "JSON nested too deeply"
    if isinstance(err, UnicodeDecodeError):
        return f"not UTF-8 text: invalid byte in a JSON string (offset {err.start})"
    msg = str(err)
    if "truncated" in msg:
        return f"not JSON: unexpected end of data at byte {size}"
    reason = msg.removeprefix("JSON is malformed: ")
    m = _BYTE_AT.search(reason)
    if m:
        reason = reason[: m.start()].rstrip() + f" at byte {m.group(1)}"
    return f"not JSON: {reason}"


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
