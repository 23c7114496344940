"""Probe command output -> a probe's result (``probes/<name>.json`` fields, bundle-format.md).

parsers layer. Reads what iputils ``ping`` (also ``ping -M do -s SIZE`` for the path MTU),
OpenBSD ``nc -z -v -w N`` and ``dig`` print (stdout, stderr, exit status) and says what was
measured: ``ok``, ``timeout``, ``refused``, ``unreachable``, ``no-route``, ``nxdomain`` or
``error``, with the line that proves it as ``detail``. Never raises: output it cannot read is
``error`` quoting it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["Measured", "parse_dig", "parse_nc", "parse_ping"]

_STATS: Final = re.compile(r"(\d+) packets transmitted, (\d+) received[^\n]*")
_RTT: Final = re.compile(r"(?:rtt|round-trip) min/avg/max(?:/mdev)? = [\d.]+/([\d.]+)/")
_MTU: Final = re.compile(r"message too long, mtu=(\d+)|Frag needed and DF set \(mtu = (\d+)\)")
_DIG_STATUS: Final = re.compile(r"status: ([A-Z]+)")
_DIG_ANSWER: Final = re.compile(r"ANSWER: (\d+)")
_DIG_TIME: Final = re.compile(r"Query time: (\d+) msec")


@dataclass(frozen=True)
class Measured:
    result: str
    detail: str
    attempts: int = 1
    succeeded: int = 0
    rtt_ms: float | None = None
    mtu: int | None = None  # ping -M do: the MTU the kernel reported


def _last(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def parse_ping(stdout: str, stderr: str, code: int) -> Measured:
    """iputils ``ping -c N`` (and ``-M do -s SIZE``)."""
    both = stdout + "\n" + stderr
    stats = _STATS.search(stdout)
    sent, got = (int(stats.group(1)), int(stats.group(2))) if stats else (0, 0)
    rtt = _RTT.search(stdout)
    rtt_ms = float(rtt.group(1)) if rtt else None
    mtu_m = _MTU.search(both)
    mtu = int(mtu_m.group(1) or mtu_m.group(2)) if mtu_m else None
    if got > 0 and stats:
        return Measured("ok", stats.group(0), sent, got, rtt_ms, mtu)
    if "Network is unreachable" in both:
        return Measured("no-route", _line(both, "Network is unreachable"), max(sent, 1))
    for marker in ("Destination Host Unreachable", "Destination Net Unreachable"):
        if marker in both:
            return Measured("unreachable", _line(both, marker), max(sent, 1))
    if mtu_m is not None:
        return Measured("error", _line(both, mtu_m.group(0)), max(sent, 1), 0, None, mtu)
    if stats:
        return Measured("timeout", stats.group(0), sent, 0)
    return Measured("error", _last(both) or f"exit status {code}")


def parse_nc(stdout: str, stderr: str, code: int) -> Measured:
    """OpenBSD ``nc -z -v -w N IP PORT`` (its verdict goes to stderr)."""
    both = stdout + "\n" + stderr
    last = _last(both)
    if code == 0 and ("succeeded" in both or " open" in both):
        return Measured("ok", last, 1, 1)
    for marker, result in (
        ("Connection refused", "refused"),
        ("timed out", "timeout"),
        ("Network is unreachable", "no-route"),
        ("No route to host", "unreachable"),
    ):
        if marker in both:
            return Measured(result, _line(both, marker))
    return Measured("error", last or f"exit status {code}")


def parse_dig(stdout: str, stderr: str, code: int) -> Measured:
    """``dig +time=N +tries=1 NAME``."""
    both = stdout + "\n" + stderr
    status = _DIG_STATUS.search(stdout)
    qt = _DIG_TIME.search(stdout)
    rtt = float(qt.group(1)) if qt else None
    if status is None:
        if "timed out" in both or "no servers could be reached" in both:
            return Measured("timeout", _line(both, "no servers could be reached") or _last(both))
        return Measured("error", _last(both) or f"exit status {code}")
    line = _line(stdout, status.group(0))
    answers = _DIG_ANSWER.search(stdout)
    if status.group(1) == "NOERROR" and answers and int(answers.group(1)) > 0:
        return Measured("ok", line, 1, 1, rtt)
    if status.group(1) == "NXDOMAIN":
        return Measured("nxdomain", line, 1, 0, rtt)
    return Measured("error", line, 1, 0, rtt)


def _line(text: str, needle: str) -> str:
    for ln in text.splitlines():
        if needle in ln:
            return ln.strip()[:300]
    return ""
