"""What a client prints is what the kernel did: refused, timeout, no route to host, network is
unreachable, produced for real between two network namespaces and classified by
``classify_symptom`` exactly as the ranking assumes.

Root only. Two namespaces ``ndt-service-c`` (client) and ``ndt-service-s`` (server) joined by a
veth; each case changes one thing (no listener, a DROP rule, a REJECT rule with
icmp-host-unreachable, no route) and connects with a plain TCP socket from the client side.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from netns_support import netns_unavailable

from netdoctor.checks.workload import Symptom, classify_symptom
from netdoctor.model.snapshot import Question

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(netns_unavailable() is not None, reason=str(netns_unavailable())),
]

SERVER_IP = "10.99.0.2"
CLIENT_IP = "10.99.0.1"

_CONNECT = """
import socket, sys
s = socket.socket()
s.settimeout(2)
try:
    s.connect((sys.argv[1], 8080))
    print("connected")
except OSError as exc:
    print(exc)
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _in(ns: str, *cmd: str) -> str:
    done = subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True)
    return (done.stdout + done.stderr).strip()


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:4]
    client, server = f"ndt-service-c{tag}", f"ndt-service-s{tag}"
    try:
        _ip("netns", "add", client)
        _ip("netns", "add", server)
        _ip("link", "add", f"ndtsvc{tag}c", "netns", client, "type", "veth", "peer", "name",
            f"ndtsvc{tag}s", "netns", server)  # fmt: skip
        ends = ((client, f"ndtsvc{tag}c", CLIENT_IP), (server, f"ndtsvc{tag}s", SERVER_IP))
        for ns, dev, addr in ends:
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield client, server
    finally:
        for ns in (client, server):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _connect(client: str, to: str = SERVER_IP) -> str:
    return _in(client, sys.executable, "-c", _CONNECT, to)


def test_no_listener_is_refused(pair: tuple[str, str]) -> None:
    client, _ = pair
    out = _connect(client)
    assert "Connection refused" in out
    assert classify_symptom(Question(symptom=out)) is Symptom.REFUSED


def test_a_drop_on_the_way_is_a_timeout(pair: tuple[str, str]) -> None:
    client, server = pair
    assert (
        _in(server, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "DROP") == ""
    )
    out = _connect(client)
    assert "timed out" in out
    assert classify_symptom(Question(symptom=out)) is Symptom.TIMEOUT


def test_a_reject_with_host_unreachable_is_no_route_to_host(pair: tuple[str, str]) -> None:
    client, server = pair
    rule = [
        "-p",
        "tcp",
        "--dport",
        "8080",
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-host-unreachable",
    ]
    assert _in(server, "iptables", "-A", "INPUT", *rule) == ""
    out = _connect(client)
    assert "No route to host" in out
    assert classify_symptom(Question(symptom=out)) is Symptom.HOST_UNREACHABLE


def test_no_route_in_the_clients_namespace_is_network_unreachable(pair: tuple[str, str]) -> None:
    client, _ = pair
    out = _connect(client, "10.123.0.9")  # outside the /24 and no default route
    assert "Network is unreachable" in out
    assert classify_symptom(Question(symptom=out)) is Symptom.NET_UNREACHABLE
