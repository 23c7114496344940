"""Benchmark: load + diagnose a synthetic 1,000-node / 30,000-pod Calico bundle.

    .venv/bin/python bench/run.py [--nodes 1000] [--pods 30000] [--repeat 3]

Compares, each in a fresh process (peak RSS read with wait4): a bare ``json.load`` of every
JSON file in the bundle (the floor any reader pays), and ``netdoctor diagnose --bundle B -o
json``. Targets (issue #2): netdoctor within 3x of the bare load, and under 1 GiB peak RSS.
Prints the figures; exits 1 when a target is missed. Not a test: timings vary by machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE = """
import json, os, sys
root = sys.argv[1]
n = 0
for d, _, files in os.walk(root):
    for f in files:
        if f.endswith(".json"):
            with open(os.path.join(d, f), "rb") as fh:
                json.load(fh)
            n += 1
"""


def run(cmd: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS bytes, exit status) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1, 3):
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}): {err.strip()}")
    return wall, usage.ru_maxrss * 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=30000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "out"))
    args = ap.parse_args()
    bundle = Path(args.out) / f"calico-{args.nodes}n-{args.pods}p"
    if not (bundle / "bundle.yaml").exists():
        print(f"bench: generating {bundle} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(HERE / "gen_bundle.py"),
                str(bundle),
                "--nodes",
                str(args.nodes),
                "--pods",
                str(args.pods),
            ],
            check=True,
        )
    size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
    files = sum(1 for f in bundle.rglob("*") if f.is_file())
    netdoctor = str(Path(sys.executable).with_name("netdoctor"))
    base_runs, nd_runs = [], []
    for _ in range(args.repeat):
        base_runs.append(run([sys.executable, "-c", BASELINE, str(bundle)]))
        nd_runs.append(run([netdoctor, "diagnose", "--bundle", str(bundle), "-o", "json"]))
    base_t = min(r[0] for r in base_runs)
    nd_t = min(r[0] for r in nd_runs)
    base_rss = max(r[1] for r in base_runs)
    nd_rss = max(r[1] for r in nd_runs)
    ratio = nd_t / base_t
    mib = 2**20
    print(f"bundle: {args.nodes} nodes, {args.pods} pods, {files} files, {size / mib:.0f} MiB")
    print(
        f"bare json.load of every JSON file : {base_t:6.2f} s   peak RSS {base_rss / mib:6.0f} MiB"
    )
    print(f"netdoctor diagnose -o json        : {nd_t:6.2f} s   peak RSS {nd_rss / mib:6.0f} MiB")
    print(
        f"ratio netdoctor / json.load       : {ratio:6.2f}x  (target <= 3x; best of {args.repeat})"
    )
    ok = ratio <= 3.0 and nd_rss < 2**30
    print("targets: " + ("met" if ok else "MISSED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
