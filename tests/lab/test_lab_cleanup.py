"""Teardown on every exit path: a failed build, SIGTERM during ``up``, a forgotten lab."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netdoctor.cli import main
from netdoctor.lab import build
from netdoctor.lab.build import Lab, leftovers
from netdoctor.lab.errors import LabError
from netdoctor.lab.plan import LayoutName

pytestmark = pytest.mark.root


def _ndl_namespaces() -> set[str]:
    return set(leftovers()["namespaces"])


def test_a_build_failing_half_way_removes_what_it_made(monkeypatch: pytest.MonkeyPatch) -> None:
    before, labs = _ndl_namespaces(), set(Lab.names())

    def boom(plan: object) -> dict[str, int]:
        assert len(_ndl_namespaces() - before) > 0  # half-way: the namespaces exist
        raise LabError("simulated failure")

    monkeypatch.setattr(build, "_start_listeners", boom)
    with pytest.raises(LabError, match="simulated failure"):
        Lab.create(LayoutName.calico_vxlan, nodes=2, pods_per_node=2)
    assert _ndl_namespaces() == before
    assert set(Lab.names()) == labs


def test_sigterm_during_up_cleans_up() -> None:
    before = _ndl_namespaces()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "netdoctor.cli",
            "lab",
            "up",
            "flannel-vxlan",
            "--nodes",
            "8",
            "--pods-per-node",
            "8",
            "--name",
            "sigterm-test",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (_ndl_namespaces() - before):
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert _ndl_namespaces() == before
    assert "sigterm-test" not in Lab.names()


def test_down_all_removes_the_leftovers_of_a_crashed_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lab = Lab.create(LayoutName.flannel_vxlan, nodes=2, pods_per_node=2)
    prefix = lab.plan.prefix
    pids = list(lab.listeners.values())
    Lab.state_path(lab.name).unlink()  # the crash: nobody remembers the lab
    del lab
    assert any(ns.startswith(prefix) for ns in _ndl_namespaces())
    with pytest.raises(SystemExit) as exit_:
        main(["lab", "down", "--all"])
    assert exit_.value.code == 0
    assert "removed" in capsys.readouterr().out
    assert not any(ns.startswith(prefix) for ns in _ndl_namespaces())
    for pid in pids:
        cmdline = Path(f"/proc/{pid}/cmdline")
        assert not cmdline.exists() or b"netdoctor.lab" not in cmdline.read_bytes()
