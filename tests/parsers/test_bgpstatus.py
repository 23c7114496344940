"""The BGP status captures (``calicoctl node status``, ``birdcl show protocols``) -> peers,
and the bundle reader's ``NetFacts.bgp_status`` view of them (``extra/*.txt``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netdoctor.parsers.bgpstatus import parse_birdcl_protocols, parse_calicoctl_node_status
from netdoctor.sources.bundle import BundleSource

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "commands"
EXAMPLE = ROOT / "examples" / "healthy-calico"


def test_calicoctl_node_status_rows_give_each_peer_its_state_and_type():
    peers = parse_calicoctl_node_status((FIXTURES / "calicoctl-node-status.txt").read_text())
    got = [(p.address, p.peer_type, p.established) for p in peers]
    assert got == [
        ("10.6.131.10", "node-to-node mesh", True),
        ("10.6.131.36", "node-to-node mesh", False),
        ("10.6.131.1", "global", True),
        ("fd00:6::24", "node-to-node mesh", False),
    ]
    assert peers[1].line == 9
    assert "Connect Socket" in peers[1].text
    assert [p.mesh for p in peers] == [True, True, False, True]


def test_birdcl_protocol_names_give_the_peer_address_and_kind():
    peers = parse_birdcl_protocols((FIXTURES / "birdcl-show-protocols.txt").read_text())
    got = [(p.address, p.peer_type, p.state, p.established) for p in peers]
    assert got == [
        ("10.6.131.10", "node-to-node mesh", "up", True),
        ("10.6.131.36", "node-to-node mesh", "start", False),
        ("10.6.131.1", "global", "start", False),
        ("10.6.132.1", "node specific", "up", True),
    ]
    assert peers[1].info.startswith("Connect")


def _bundle(tmp_path: Path, files: dict[str, str]) -> Path:
    dest = tmp_path / "b"
    shutil.copytree(EXAMPLE, dest)
    node = sorted(p.name for p in (dest / "nodes").iterdir())[0]
    extra = dest / "nodes" / node / "extra"
    extra.mkdir(exist_ok=True)
    for name, src in files.items():
        (extra / name).write_text((FIXTURES / src).read_text() if src else "")
    return dest


@pytest.mark.parametrize(
    ("calicoctl", "kept", "last_peer_type"),
    [
        # both captures: calicoctl's table is kept, and its file named
        ("calicoctl-node-status.txt", "calicoctl-node-status", "node-to-node mesh"),
        # an empty calicoctl capture (the command failed): birdcl's list is kept
        ("", "birdcl-show-protocols", "node specific"),
    ],
)
def test_the_loader_keeps_the_first_non_empty_capture_and_names_it(
    tmp_path: Path, calicoctl: str, kept: str, last_peer_type: str
) -> None:
    files = {
        "calicoctl-node-status.txt": calicoctl,
        "birdcl-show-protocols.txt": "birdcl-show-protocols.txt",
    }
    snap = BundleSource(_bundle(tmp_path, files)).load()
    (status,) = [f.bgp_status for f in snap.node_facts.values() if f.bgp_status]
    assert status.file == kept
    assert [p.address for p in status.peers][:2] == ["10.6.131.10", "10.6.131.36"]
    assert status.peers[-1].peer_type == last_peer_type
