"""``netdoctor.session.run``: one whole diagnosis for any front, the CLI's included.

A library caller (and the MCP server to come) gets what ``netdoctor diagnose`` prints: the
question merged with the bundle's, the runbook its symptom picks, walked over the same data.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netdoctor.errors import InputError
from netdoctor.model.snapshot import Question
from netdoctor.report.build import build_report
from netdoctor.session import Diagnosis, merge_question, run, runbook_library
from netdoctor.sources.bundle import BundleSource

ROOT = Path(__file__).resolve().parents[2]
HEALTHY = BundleSource(ROOT / "examples" / "healthy-calico").load()
CROSS_NODE = "跨节点 Pod ping 不通，同节点正常"


def test_a_symptom_gives_the_caller_its_runbook_walked_over_the_same_checks() -> None:
    d = run(HEALTHY, merge_question(HEALTHY.manifest.question, symptom=CROSS_NODE))
    assert isinstance(d, Diagnosis)
    assert d.routing is not None
    assert d.runbook is not None
    assert d.runbook.runbook.id == "calico-cross-node"
    assert d.covered == frozenset(d.runbook.runbook.check_ids)
    # the walk reused the diagnosis: no check ran twice
    assert d.runbook.diagnosis.outcomes is d.outcomes
    report = build_report(d, "en")
    assert report.runbook is not None
    assert report.runbook.id == "calico-cross-node"


def test_no_symptom_no_routing_and_the_verdict_is_the_engines() -> None:
    d = run(HEALTHY, Question(from_="default/netdebug04", to="default/netdebug05"))
    assert (d.routing, d.runbook, d.covered) == (None, None, frozenset())
    assert d.verdict.value == "healthy"
    assert build_report(d, "en").runbook is None


def test_a_symptom_no_runbook_fits_keeps_the_routing_to_say_what_came_closest() -> None:
    d = run(HEALTHY, Question(symptom="it is slow"))
    assert d.runbook is None
    assert d.routing is not None
    assert d.routing.best is None


def test_a_narrowed_run_walks_the_runbook_with_its_own_checks() -> None:
    q = Question(symptom=CROSS_NODE)
    narrowed = run(HEALTHY, q, only=("NET-101",))
    assert {o.check_id for o in narrowed.outcomes} == {"node-ip-forward-disabled"}
    assert narrowed.runbook is not None
    assert narrowed.runbook.diagnosis.outcomes is not narrowed.outcomes  # it ran its own checks


def test_a_team_folder_is_read_only_when_a_symptom_needs_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    flow = Question(from_="default/netdebug04", to="default/netdebug05")
    run(HEALTHY, flow, runbooks_dir=missing)  # no symptom: the folder is never read
    with pytest.raises(InputError, match="no-such-folder: not a folder of runbooks"):
        runbook_library(missing)


@pytest.mark.parametrize(
    ("recorded", "asked", "expected"),
    [
        # nothing asked: None, the engine falls back to the bundle's question
        (Question(from_="a/x", to="b/y", port=22), {}, None),
        # a new end asks about another flow: the other recorded end and the port are dropped
        (Question(from_="a/x", to="b/y", port=22), {"from_": "a/z"}, ("a/z", None, None)),
        # a port alone keeps both ends
        (Question(from_="a/x", to="b/y", port=22), {"port": "80"}, ("a/x", "b/y", 80)),
        # a symptom alone keeps the whole recorded flow
        (Question(from_="a/x", to="b/y", port=22), {"symptom": "超时"}, ("a/x", "b/y", 22)),
        (None, {"to": "b/y"}, (None, "b/y", None)),
    ],
)
def test_the_question_asked_merges_with_the_recorded_one_as_before(
    recorded: Question | None, asked: dict[str, str], expected: tuple[object, ...] | None
) -> None:
    q = merge_question(recorded, **asked)
    assert (None if q is None else (q.from_, q.to, q.port)) == expected
