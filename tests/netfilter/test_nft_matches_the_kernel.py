"""The nft evaluator agrees with the kernel: real UDP/TCP packets from several sources into a
network namespace loaded with the captured rulesets (tests/fixtures/commands/nft/*.nft)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from netns_support import netns_unavailable

from netdoctor.netfilter import Packet
from netdoctor.netfilter.nft import evaluate_hook
from netdoctor.parsers.nft import parse_nft_ruleset

pytestmark = pytest.mark.root

NFT = Path(__file__).resolve().parents[1] / "fixtures" / "commands" / "nft"
NODE_IP = "10.6.131.36"
# (source address, protocol, port): peers in the named set, in the rack prefix, outside both
CASES = [
    (src, proto, port)
    for src in ("10.6.131.35", "10.6.131.10", "10.6.130.9", "10.6.132.35")
    for proto, port in (("udp", 8472), ("udp", 4789), ("tcp", 179), ("tcp", 22), ("udp", 31000))
]

_SEND = r"""
import socket, sys
src, dst, proto, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.sendto(b"x", (dst, port))
else:
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(0.3)
    try:
        s.connect((dst, port))
    except OSError:
        pass
"""


def _sh(*cmd: str, check: bool = True) -> str:
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def namespaces():
    reason = netns_unavailable() or (None if shutil.which("nft") else "nft is not installed")
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:5]
    node, peer = f"ndt-node-k{tag}", f"ndt-node-p{tag}"
    try:
        _sh("ip", "netns", "add", node)
        _sh("ip", "netns", "add", peer)
        _sh(
            "ip",
            "link",
            "add",
            f"ndtk{tag}",
            "netns",
            node,
            "type",
            "veth",
            "peer",
            "name",
            f"ndtp{tag}",
            "netns",
            peer,
        )
        _sh("ip", "-n", node, "link", "set", f"ndtk{tag}", "name", "eno1")
        _sh("ip", "-n", node, "addr", "add", f"{NODE_IP}/16", "dev", "eno1")
        _sh("ip", "-n", node, "link", "set", "eno1", "up")
        _sh("ip", "-n", peer, "link", "set", f"ndtp{tag}", "up")
        for src in sorted({c[0] for c in CASES}):
            _sh("ip", "-n", peer, "addr", "add", f"{src}/16", "dev", f"ndtp{tag}")
        yield node, peer
    finally:
        for ns in (node, peer):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _kernel_accepts(node: str, peer: str, ruleset: str, src: str, proto: str, port: int) -> bool:
    """Whether the packet got through the input hook: the counter of a last-resort rule in a
    chain at the highest priority (after every other base chain) goes up."""
    ns = ("ip", "netns", "exec", node)
    _sh(*ns, "nft", "flush", "ruleset")
    _sh(*ns, "nft", "-f", str(NFT / f"{ruleset}.nft"))
    _sh(*ns, "nft", "add table inet probe")
    _sh(*ns, "nft", "add chain inet probe seen { type filter hook input priority 1000 ; }")
    _sh(*ns, "nft", f"add rule inet probe seen ip saddr {src} {proto} dport {port} counter")
    subprocess.run(
        ["ip", "netns", "exec", peer, "python3", "-c", _SEND, src, NODE_IP, proto, str(port)],
        check=True,
        timeout=10,
    )
    out = _sh(*ns, "nft", "list", "chain", "inet", "probe", "seen")
    return "counter packets 0 " not in out


@pytest.mark.parametrize("ruleset", ["host", "firewalld", "gpu05-closed", "gpu05-open"])
def test_the_input_verdict_matches_the_kernel_for_every_source_and_port(namespaces, ruleset):
    node, peer = namespaces
    rs = parse_nft_ruleset((NFT / f"nft-ruleset-{ruleset}.json").read_bytes(), ruleset)
    wrong = []
    for src, proto, port in CASES:
        d = evaluate_hook(
            rs,
            "input",
            Packet(src=src, dst=NODE_IP, proto=proto, dport=port, in_iface="eno1"),
        )
        kernel = _kernel_accepts(node, peer, ruleset, src, proto, port)
        if d.verdict == "unknown" or (d.verdict == "accept") != kernel:
            wrong.append((src, proto, port, d.verdict, "kernel accepts" if kernel else "drops"))
    assert wrong == []
