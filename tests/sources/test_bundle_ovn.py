"""The bundle reader's typed views of ovs-vsctl show and ovn-trace (extra/*.txt)."""

from __future__ import annotations

import shutil
from pathlib import Path

from netdoctor.sources.bundle import BundleSource

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "healthy-kubeovn"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ovn"


def copy(tmp_path: Path) -> Path:
    dest = tmp_path / "b"
    shutil.copytree(EXAMPLE, dest)
    return dest


def test_ovs_vsctl_show_and_traces_are_parsed_with_their_files_named(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    extra = dest / "nodes/l20-gpu-04/extra"
    shutil.copyfile(FIXTURES / "ovn-trace-acl-drop.txt", extra / "ovn-trace-ssh.txt")
    snap = BundleSource(dest).load()
    facts = snap.node_facts["l20-gpu-04"]
    assert facts.ovs_show is not None
    assert [i.remote_ip for _, _, i in facts.ovs_show.tunnels()] == ["10.6.131.10", "10.6.131.36"]
    assert facts.ovn_traces["ssh"].verdict == "drop"
    assert "ovs-vsctl-show" in facts.extra  # the text stays available too
    assert snap.provenance["node:l20-gpu-04:ovs_show"] == (
        "nodes/l20-gpu-04/extra/ovs-vsctl-show.txt"
    )
    assert snap.provenance["node:l20-gpu-04:ovn_trace:ssh"] == (
        "nodes/l20-gpu-04/extra/ovn-trace-ssh.txt"
    )


def test_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    f = dest / "nodes/l20-gpu-05/extra/ovs-vsctl-show.txt"
    f.write_bytes(f.read_bytes().replace(b"\n", b"\r\n"))
    show = BundleSource(dest).load().node_facts["l20-gpu-05"].ovs_show
    assert show is not None
    assert show.bridge("br-int") is not None
    assert show.ovs_version == "3.1.7"


def test_an_unreadable_extra_is_kept_as_text_with_a_malformed_note(tmp_path: Path) -> None:
    dest = copy(tmp_path)
    (dest / "nodes/l20-gpu-04/extra/ovn-trace-bad.txt").write_text("permission denied\n")
    snap = BundleSource(dest).load()
    facts = snap.node_facts["l20-gpu-04"]
    assert "bad" not in facts.ovn_traces
    assert facts.extra["ovn-trace-bad"] == "permission denied\n"
    notes = [n for n in snap.input_notes if n.file.endswith("ovn-trace-bad.txt")]
    assert [(n.note, n.reason) for n in notes] == [("malformed", "extra_unparsed")]
    assert "not ovn-trace output" in notes[0].detail
