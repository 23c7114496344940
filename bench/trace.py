"""Benchmark one ``netdoctor trace`` call, interpreter start-up included (issue #5: < 0.5 s).

    .venv/bin/python bench/trace.py [--repeat 10]

Scripts call ``trace`` hundreds of times, so the whole process is timed, on each shipped
example. Not a test.
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
    print(f"slowest median: {worst:.3f} s (target < 0.5 s)")
    sys.exit(0 if worst < 0.5 else 1)


if __name__ == "__main__":
    main()
