"""Routing evaluation and calibration: ``python -m netdoctor.runbooks.evaluate [--fit] [FILE]``.

Runbooks layer (a developer tool, not a user command). Reads labelled utterances
(``[lang, expected id or null, text]``; default ``tests/runbooks/utterances.yaml``), splits them
by a hash of the text (calibration half, held-out test half), and

- with ``--fit``: fits the Platt map from a candidate's score margin (over the best other
  candidate) to P(it is the right runbook), on the calibration half only, and writes
  ``calibration.json`` beside this module;
- always: prints top-1, top-3, abstention and per-language figures on the test half.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from netdoctor.runbooks.loader import load_runbooks
from netdoctor.runbooks.model import Runbook
from netdoctor.runbooks.router import Calibration, load_calibration, route

__all__ = ["Figures", "Utterance", "evaluate", "fit_platt", "load_utterances", "main", "split"]

DEFAULT_FILE = Path("tests/runbooks/utterances.yaml")
THRESHOLD = 0.5


@dataclass(frozen=True)
class Utterance:
    lang: str
    expect: str | None
    text: str


def load_utterances(path: Path) -> list[Utterance]:
    import yaml

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Utterance(str(r[0]), None if r[1] is None else str(r[1]), str(r[2])) for r in raw]


def _half(u: Utterance) -> int:
    return int(hashlib.sha256(u.text.encode("utf-8")).hexdigest(), 16) % 2


def split(items: Sequence[Utterance]) -> tuple[list[Utterance], list[Utterance]]:
    """(calibration half, test half): fixed by a hash of each text, so independent of order."""
    return [u for u in items if _half(u) == 0], [u for u in items if _half(u) == 1]


def _margins(text: str, books: Sequence[Runbook]) -> list[tuple[float, str]]:
    """Every candidate's margin over the best other candidate, best first."""
    r = route(text, books, calibration=Calibration(threshold=0.0))
    out = []
    for i, m in enumerate(r.matches):
        others = [o.score for j, o in enumerate(r.matches) if j != i]
        out.append((m.score - (max(others) if others else 0.0), m.runbook.id))
    return out


def fit_platt(xs: Sequence[float], ys: Sequence[int]) -> tuple[float, float]:
    """Platt's fit of P(y=1|x) = 1/(1+exp(-(a*x+b))) with his smoothed targets (Newton steps)."""
    pos = sum(ys)
    neg = len(ys) - pos
    hi, lo = (pos + 1) / (pos + 2), 1 / (neg + 2)
    t = [hi if y else lo for y in ys]
    a, b = 1.0, 0.0

    def loss(a: float, b: float) -> float:
        total = 0.0
        for x, ti in zip(xs, t, strict=True):
            z = a * x + b
            # log(1+exp(-z)) and log(1+exp(z)), stable
            lp = -z if z < -30 else math.log1p(math.exp(-z))
            ln = z if z > 30 else math.log1p(math.exp(z))
            total += ti * lp + (1 - ti) * ln
        return total + 1e-3 * a * a  # a whisper of L2: separable data must not diverge

    for _ in range(100):
        g_a = g_b = h_aa = h_ab = h_bb = 0.0
        for x, ti in zip(xs, t, strict=True):
            z = a * x + b
            p = 1 / (1 + math.exp(-z)) if z > -60 else 0.0
            d = p - ti
            w = max(p * (1 - p), 1e-12)
            g_a += d * x
            g_b += d
            h_aa += w * x * x
            h_ab += w * x
            h_bb += w
        g_a += 2e-3 * a
        h_aa += 2e-3
        det = h_aa * h_bb - h_ab * h_ab
        if abs(det) < 1e-15:
            break
        da = (h_bb * g_a - h_ab * g_b) / det
        db = (h_aa * g_b - h_ab * g_a) / det
        step, base = 1.0, loss(a, b)
        while step > 1e-6 and loss(a - step * da, b - step * db) > base:
            step /= 2
        a, b = a - step * da, b - step * db
        if abs(step * da) + abs(step * db) < 1e-9:
            break
    return a, b


def calibrate(items: Sequence[Utterance], books: Sequence[Runbook]) -> Calibration:
    """Fit P(a candidate is the right runbook | its margin) over every candidate of every
    calibration utterance (out-of-scope ones included: all their candidates are wrong)."""
    xs: list[float] = []
    ys: list[int] = []
    for u in items:
        for margin, rid in _margins(u.text, books):
            xs.append(margin)
            ys.append(int(rid == u.expect))
    a, b = fit_platt(xs, ys)
    return Calibration(a=round(a, 4), b=round(b, 4), threshold=THRESHOLD, fitted_on=len(items))


@dataclass(frozen=True)
class Figures:
    total: int
    top1: float
    top3: float
    abstained: float  # share of in-scope utterances the router abstained on
    out_of_scope_abstained: float
    per_lang: dict[str, tuple[int, float]]  # lang -> (count, top-1)
    misses: tuple[tuple[str, str | None, str], ...]  # (text, expected, got or "-")


def evaluate(
    items: Sequence[Utterance], books: Sequence[Runbook], cal: Calibration | None = None
) -> Figures:
    in_scope = [u for u in items if u.expect is not None]
    oos = [u for u in items if u.expect is None]
    top1 = top3 = abst = 0
    per: dict[str, list[int]] = {}
    misses = []
    for u in in_scope:
        r = route(u.text, books, calibration=cal)
        ids = [m.runbook.id for m in r.matches]
        ok1 = bool(ids) and ids[0] == u.expect
        top1 += ok1
        top3 += u.expect in ids[:3]
        abst += r.abstained
        per.setdefault(u.lang, []).append(int(ok1))
        if not ok1:
            misses.append((u.text, u.expect, ids[0] if ids else "-"))
    oos_abst = sum(route(u.text, books, calibration=cal).abstained for u in oos)
    n = max(len(in_scope), 1)
    return Figures(
        total=len(items),
        top1=top1 / n,
        top3=top3 / n,
        abstained=abst / n,
        out_of_scope_abstained=oos_abst / max(len(oos), 1),
        per_lang={k: (len(v), sum(v) / len(v)) for k, v in sorted(per.items())},
        misses=tuple(misses),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    fit = "--fit" in args
    show_cal = "--calibration-half" in args
    whole = "--all" in args  # a file that is held out as a whole (tests/runbooks/fresh.yaml)
    files = [a for a in args if not a.startswith("--")]
    items = load_utterances(Path(files[0]) if files else DEFAULT_FILE)
    books = load_runbooks()
    cal_half, test_half = split(items)
    if fit:
        cal = calibrate(cal_half, books)
        out = Path(__file__).with_name("calibration.json")
        doc = {"a": cal.a, "b": cal.b, "threshold": cal.threshold, "fittedOn": cal.fitted_on}
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        load_calibration.cache_clear()
        print(f"fitted on {cal.fitted_on} calibration utterances: a={cal.a} b={cal.b}")
    half = items if whole else cal_half if show_cal else test_half
    f = evaluate(half, books, load_calibration())
    name = "whole file" if whole else "calibration half" if show_cal else "test half"
    print(f"{name}: {f.total} utterances ({len(items)} labelled in all)")
    print(f"top-1 {f.top1:.1%}  top-3 {f.top3:.1%}  abstained {f.abstained:.1%} (in scope)")
    print(f"out-of-scope abstained {f.out_of_scope_abstained:.1%}")
    for lang, (count, acc) in f.per_lang.items():
        print(f"  {lang:5} {count:3} utterances  top-1 {acc:.1%}")
    for text, want, got in f.misses:
        print(f"  miss: {text!r}: expected {want}, got {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
