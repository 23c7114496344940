"""``netdoctor lab``: root is required (one line, exit 2), list shows a running lab, and a
CLI round trip up -> probe -> collect -> down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netdoctor.cli import main
from netdoctor.lab.build import Lab
from netdoctor.lab.plan import LayoutName

pytestmark = pytest.mark.root


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    out = capsys.readouterr()
    code = exit_.value.code
    return (code if isinstance(code, int) else 0), out.out, out.err


@pytest.mark.parametrize(
    "argv",
    [
        ["lab", "up", "flannel-vxlan"],
        ["lab", "probe"],
        ["lab", "collect", "/tmp/nowhere"],
        ["lab", "down", "--all"],
        ["lab", "list"],
    ],
    ids=lambda a: a[1],
)
def test_without_root_every_lab_command_says_so_in_one_line_and_exits_2(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("netdoctor.lab.run.is_root", lambda: False)
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "root" in err


def test_lab_list_shows_a_running_lab(capsys: pytest.CaptureFixture[str]) -> None:
    with Lab.running(LayoutName.calico_routed, nodes=1, pods_per_node=1) as lab:
        code, out, _ = _run(["lab", "list"], capsys)
        assert code == 0
        assert f"{lab.name}\tcalico-routed\t1x1" in out
        assert Path("/run/netdoctor-lab").stat().st_mode & 0o777 == 0o700
    code, out, _ = _run(["lab", "list"], capsys)
    assert lab.name not in out


def test_up_probe_collect_down_round_trip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(
        [
            "lab",
            "up",
            "flannel-host-gw",
            "--nodes",
            "2",
            "--pods-per-node",
            "1",
            "--name",
            "cli-round-trip",
        ],
        capsys,
    )
    assert (code, out, err) == (0, "cli-round-trip\n", "")
    try:
        code, out, _ = _run(["lab", "probe", "cli-round-trip", "-o", "json"], capsys)
        assert code == 0
        assert {r["result"] for r in json.loads(out)} == {"ok"}
        code, out, _ = _run(["lab", "collect", "cli-round-trip", str(tmp_path / "b")], capsys)
        assert code == 0
        assert len(list((tmp_path / "b" / "probes").iterdir())) == 6
    finally:
        code, out, _ = _run(["lab", "down", "cli-round-trip"], capsys)
    assert (code, out) == (0, "removed cli-round-trip\n")
    assert not (Path("/run/netdoctor-lab") / "cli-round-trip.json").exists()


def test_a_fault_the_layout_cannot_have_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _run(["lab", "up", "calico-routed", "--fault", "overlay-port-blocked"], capsys)
    assert code == 2
    assert "overlay-port-blocked" in err
    assert err.count("\n") == 1
