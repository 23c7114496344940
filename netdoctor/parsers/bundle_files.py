"""Parse the bundle's own files: the manifest, probe results, nft JSON, logs, CNI config, text.

Sits in the parsers layer, called by the bundle sources with one file's bytes and its path
inside the bundle. Structured files raise ``ParseError(file, problem)`` with one line; text
files (logs, CNI config, ``extra/*.txt``) never fail: they are decoded as UTF-8 with
replacement characters and kept as they are, with at most an ``InputNote`` saying what looked
wrong.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from netdoctor.errors import ParseError
from netdoctor.model.layout import FORMAT_VERSION
from netdoctor.model.nftables import decode_ruleset
from netdoctor.model.snapshot import InputNote, Manifest, Probe
from netdoctor.parsers.kube import (
    decode_json,
    describe_decode_error,
    describe_validation_error,
    load_yaml,
    strip_bom,
)

__all__ = [
    "LOG_LINES",
    "PROBE_KINDS",
    "PROBE_RESULTS",
    "decode_log",
    "decode_text",
    "parse_cni_file",
    "parse_manifest",
    "parse_nft",
    "parse_port",
    "parse_probe",
]

LOG_LINES: Final = 2000  # a log keeps its last lines: the recent errors are what matter

PROBE_KINDS: Final = frozenset({"icmp", "tcp", "udp", "dns", "http", "pmtu"})
PROBE_RESULTS: Final = frozenset(
    {"ok", "timeout", "refused", "unreachable", "no-route", "nxdomain", "error"}
)
_PROTOCOLS: Final = ("TCP", "UDP", "SCTP")


# --- bundle.yaml -------------------------------------------------------------------------------


def parse_manifest(data: bytes, file: str) -> Manifest:
    """``bundle.yaml``. A ``formatVersion`` newer than this netdoctor reads is an error."""
    data = strip_bom(data)
    if not data.strip():
        raise ParseError(file, "empty file")
    docs = [d for d in load_yaml(data, file) if d is not None]
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise ParseError(file, "expected one YAML mapping (formatVersion, collectedAt, ...)")
    raw: dict[Any, Any] = dict(docs[0])
    version = raw.get("formatVersion", FORMAT_VERSION)
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ParseError(file, f"formatVersion: expected a positive integer, got {_show(version)}")
    if version > FORMAT_VERSION:
        raise ParseError(
            file,
            f"formatVersion {version} is not supported "
            f"(this netdoctor reads bundle format {FORMAT_VERSION}; upgrade netdoctor)",
        )
    raw["formatVersion"] = version
    if isinstance(raw.get("question"), dict):
        raw["question"] = _question(dict(raw["question"]), file)
    try:
        return msgspec.convert(raw, type=Manifest)
    except msgspec.ValidationError as e:
        raise ParseError(file, describe_validation_error(e)) from None


def _question(q: dict[Any, Any], file: str) -> dict[Any, Any]:
    """Split ``port: "22/tcp"`` into ``port`` and ``protocol`` (upper case)."""
    given = q.get("protocol")
    if given is not None and not isinstance(given, str):
        raise ParseError(file, f"question.protocol: expected str, got {_show(given)}")
    protocol = given.upper() if given is not None else None
    port, from_port = parse_port(q.get("port"), file, "question.port")
    if from_port is not None and protocol is not None and from_port != protocol:
        raise ParseError(
            file, f"question.protocol {_show(given)} contradicts question.port {_show(q['port'])}"
        )
    protocol = protocol or from_port
    if protocol is not None and protocol not in _PROTOCOLS:
        raise ParseError(
            file, f"question.protocol: unknown protocol {_show(given)} (TCP, UDP or SCTP)"
        )
    q["port"] = port
    if protocol is not None:
        q["protocol"] = protocol
    return q


_PORT = re.compile(r"^\s*(\d{1,5})\s*(?:/\s*([A-Za-z]+)\s*)?$")


def parse_port(value: Any, file: str, field: str) -> tuple[int | None, str | None]:
    """``22``, ``"22"``, ``"22/tcp"``, ``"53/udp"`` -> (port, protocol or None); None stays None."""
    if value is None:
        return None, None
    if isinstance(value, int) and not isinstance(value, bool):
        port, protocol = value, None
    elif isinstance(value, str) and (m := _PORT.match(value)):
        port = int(m.group(1))
        protocol = m.group(2).upper() if m.group(2) else None
    else:
        raise ParseError(file, f"{field}: expected a port like 22 or '53/udp', got {_show(value)}")
    if not 1 <= port <= 65535:
        raise ParseError(file, f"{field}: port {port} is out of range 1-65535")
    if protocol is not None and protocol not in _PROTOCOLS:
        raise ParseError(file, f"{field}: unknown protocol {protocol!r} (TCP, UDP or SCTP)")
    return port, protocol


# --- probes/<name>.json ------------------------------------------------------------------------


def parse_probe(data: bytes, file: str, name: str) -> Probe:
    """One ``probes/<name>.json``; ``name`` (the file's stem) is used when the file has none."""
    data = strip_bom(data)
    if not data.strip():
        raise ParseError(file, "empty file")
    probe = decode_json(data, file, Probe)
    if probe.kind not in PROBE_KINDS:
        raise ParseError(file, f"kind: {_show(probe.kind)} is not one of {_choices(PROBE_KINDS)}")
    if probe.result not in PROBE_RESULTS:
        raise ParseError(
            file, f"result: {_show(probe.result)} is not one of {_choices(PROBE_RESULTS)}"
        )
    changes: dict[str, Any] = {}
    if not probe.name:
        changes["name"] = name
    for attr in ("from_", "to"):
        end = getattr(probe, attr)
        if end.protocol is not None and end.protocol != end.protocol.upper():
            changes[attr] = msgspec.structs.replace(end, protocol=end.protocol.upper())
    return msgspec.structs.replace(probe, **changes) if changes else probe


def _show(value: Any, limit: int = 60) -> str:
    """A value quoted for a one-line message: repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _choices(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))


# --- nodes/<node>/nft-ruleset.json -------------------------------------------------------------


def parse_nft(data: bytes, file: str) -> dict[str, Any]:
    """``nft -j list ruleset``: kept as data, checked to be ``{"nftables": [...]}``."""
    data = strip_bom(data)
    if not data.strip():
        raise ParseError(file, "empty file")
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError as e:
        raise ParseError(file, describe_decode_error(e, data)) from None
    except RecursionError:
        raise ParseError(file, "JSON nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
        raise ParseError(file, 'expected {"nftables": [...]} as `nft -j list ruleset` prints it')
    try:
        decode_ruleset(doc)  # the structure nft prints; checks type it again from the dict
    except ValueError as e:
        raise ParseError(file, str(e)) from None
    return doc


# --- text: logs, extra/*.txt, ipvsadm, conntrack, CNI config ----------------------------------


def decode_text(data: bytes) -> str:
    """Command output kept as text: UTF-8 (bad bytes replaced), CRLF as LF, no BOM."""
    text = strip_bom(data).decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n") if "\r" in text else text


def decode_log(data: bytes, max_lines: int = LOG_LINES) -> str:
    """A container log, keeping only its last ``max_lines`` lines."""
    # Cut on bytes, from the end, so a huge log is neither split nor decoded whole.
    pos = len(data) - 1 if data.endswith(b"\n") else len(data)
    for _ in range(max_lines):
        pos = data.rfind(b"\n", 0, pos)
        if pos < 0:
            break
    if pos >= 0:
        data = data[pos + 1 :]
    return decode_text(data)


_JSON_CNI_SUFFIXES: Final = (".conflist", ".conf", ".json")


def parse_cni_file(data: bytes, file: str) -> tuple[str, InputNote | None]:
    """One file of ``/etc/cni/net.d``: its text, and a ``malformed`` note when a JSON config
    (``.conflist``, ``.conf``, ``.json``) does not parse. The file is kept either way: what the
    runtime would make of a broken config is itself evidence."""
    text = decode_text(data)
    if not file.lower().endswith(_JSON_CNI_SUFFIXES):
        return text, None
    raw = strip_bom(data)
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        return text, InputNote(
            file=file, note="malformed", reason="cni_json", detail=describe_decode_error(e, raw)
        )
    except RecursionError:
        return text, InputNote(
            file=file, note="malformed", reason="cni_json", detail="nested too deeply"
        )
    if not isinstance(doc, dict):
        return text, InputNote(file=file, note="malformed", reason="cni_not_object")
    return text, None
