"""Routing quality on labelled utterances, measured on the half the calibration never saw."""

from __future__ import annotations

from pathlib import Path

from netdoctor.runbooks.evaluate import calibrate, evaluate, load_utterances, split
from netdoctor.runbooks.loader import load_runbooks
from netdoctor.runbooks.router import load_calibration

HERE = Path(__file__).parent
ITEMS = load_utterances(HERE / "utterances.yaml")
BOOKS = load_runbooks()


def test_there_are_at_least_200_labelled_utterances_in_three_kinds_of_language():
    assert len(ITEMS) >= 200
    langs = {u.lang for u in ITEMS}
    assert langs == {"zh", "en", "mixed"}
    ids = {b.id for b in BOOKS}
    assert {u.expect for u in ITEMS} - {None} == ids  # every runbook is exercised
    assert any(u.expect is None for u in ITEMS)  # and some must abstain


def test_the_split_is_fixed_disjoint_and_covers_everything():
    cal, test = split(ITEMS)
    assert cal
    assert test
    assert {u.text for u in cal}.isdisjoint({u.text for u in test})
    assert len(cal) + len(test) == len(ITEMS)
    assert split(list(reversed(ITEMS)))[1] == list(reversed(test))  # order does not matter


def test_the_shipped_calibration_is_the_fit_on_the_calibration_half():
    cal_half, _ = split(ITEMS)
    fitted = calibrate(cal_half, BOOKS)
    shipped = load_calibration()
    assert abs(fitted.a - shipped.a) < 1e-3, "run: python -m netdoctor.runbooks.evaluate --fit"
    assert abs(fitted.b - shipped.b) < 1e-3
    assert shipped.fitted_on == len(cal_half)


def test_held_out_routing_meets_the_targets():
    _, test = split(ITEMS)
    f = evaluate(test, BOOKS, load_calibration())
    assert f.top1 >= 0.95, f.misses
    assert f.top3 >= 0.99, f.misses
    assert f.abstained <= 0.05
    assert f.out_of_scope_abstained >= 0.8
    for lang, (count, acc) in f.per_lang.items():
        assert count >= 10, lang
        assert acc >= 0.9, lang
