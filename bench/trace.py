"""Benchmark one ``netdoctor trace`` call, interpreter start-up included (issue #5: < 0.5 s),
and one in-process trace once the bundle is loaded (< 50 ms).

    .venv/bin/python bench/trace.py [--repeat 10]

Scripts call ``trace`` hundreds of times, so the whole process is timed, on each shipped
example, beside the same run's baseline: a bare ``python -c pass`` (the floor any call pays);
the ratio is printed. Not a test: timings vary by machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = (
    ("healthy-calico", "default/netdebug04", "default/netdebug05"),
    ("calico-ib-autodetect", "default/netdebug04", "default/netdebug05"),
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    nd = str(Path(sys.executable).with_name("netdoctor"))
    floor = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        floor.append(time.perf_counter() - start)
    base = sorted(floor)[len(floor) // 2]
    print(f"{'python -c pass':22s} median {base:5.3f} s   (baseline)")
    worst = 0.0
    for bundle, src, dst in CASES:
        cmd = [nd, "trace", "-b", str(ROOT / "examples" / bundle), "--from", src, "--to", dst]
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([*cmd, "-o", "json"], capture_output=True, check=False)
            times.append(time.perf_counter() - start)
        best, median = min(times), sorted(times)[len(times) // 2]
        worst = max(worst, median)
        print(f"{bundle:22s} best {best:5.3f} s   median {median:5.3f} s")
    print(f"slowest median: {worst:.3f} s, {worst / base:.1f}x the baseline (target < 0.5 s)")
    inproc = _in_process(args.repeat)
    print(f"in-process trace, bundle loaded: {inproc * 1000:.1f} ms (target < 50 ms)")
    sys.exit(0 if worst < 0.5 and inproc < 0.05 else 1)


def _in_process(repeat: int) -> float:
    """Best per-call time of a TCP trace on healthy-calico, its indexes built once."""
    from netdoctor.sources import BundleSource
    from netdoctor.trace.path import trace

    snap = BundleSource(ROOT / "examples" / "healthy-calico").load()
    trace(snap, "default/netdebug04", "default/netdebug05")
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        trace(snap, "default/netdebug04", "default/netdebug05", protocol="TCP", port=22)
        best = min(best, time.perf_counter() - start)
    return best


if __name__ == "__main__":
    main()
