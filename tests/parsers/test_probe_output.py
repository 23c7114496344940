"""Probe output captured from real ping / nc / dig between network namespaces
(``tests/fixtures/probes/capture.py``) -> the measured result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netdoctor.parsers.probe_output import parse_dig, parse_nc, parse_ping

PROBES = Path(__file__).resolve().parent.parent / "fixtures" / "probes"
PARSERS = {"ping": parse_ping, "pmtu": parse_ping, "nc": parse_nc, "dig": parse_dig}


def measured(case: str):
    rec = json.loads((PROBES / f"{case}.json").read_text())
    return PARSERS[case.split("-")[0]](rec["stdout"], rec["stderr"], rec["code"])


@pytest.mark.parametrize(
    ("case", "result", "detail"),
    [
        ("ping-ok", "ok", "3 packets transmitted, 3 received"),
        ("ping-timeout", "timeout", "3 packets transmitted, 0 received"),
        ("ping-no-neighbour", "timeout", "100% packet loss"),
        ("ping-no-route", "no-route", "ping: connect: Network is unreachable"),
        ("pmtu-ok", "ok", "3 received"),
        ("pmtu-too-large", "error", "message too long, mtu=1400"),
        ("nc-ok", "ok", "succeeded"),
        ("nc-refused", "refused", "Connection refused"),
        ("nc-timeout", "timeout", "timed out"),
        ("nc-no-route", "no-route", "Network is unreachable"),
        ("dig-ok", "ok", "status: NOERROR"),
        ("dig-nxdomain", "nxdomain", "status: NXDOMAIN"),
        ("dig-timeout", "timeout", "no servers could be reached"),
    ],
)
def test_real_output_maps_to_the_bundle_result(case, result, detail):
    m = measured(case)
    assert m.result == result
    assert detail in m.detail


def test_ping_counts_rtt_and_mtu():
    ok = measured("ping-ok")
    assert (ok.attempts, ok.succeeded) == (3, 3)
    assert ok.rtt_ms == pytest.approx(0.072)
    assert measured("pmtu-too-large").mtu == 1400
    assert measured("ping-timeout").rtt_ms is None


def test_garbage_is_an_error_quoting_it():
    m = parse_ping("", "ping: unknown host nowhere\n", 2)
    assert m.result == "error"
    assert m.detail == "ping: unknown host nowhere"
    assert parse_nc("", "", 1).detail == "exit status 1"
