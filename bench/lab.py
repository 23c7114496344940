"""Benchmark the lab (root): ``lab up`` + ``lab collect`` for 4 nodes x 4 pods, per layout.

    sudo .venv/bin/python bench/lab.py [--repeat 3]

Target (issue #5): up + collect under 20 s. Also times a bare ``netdoctor version``, the start-up
cost every CLI call pays. Each lab is torn down after it is measured. Not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYOUTS = ("flannel-vxlan", "flannel-host-gw", "calico-vxlan", "calico-routed")


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/lab.py: the lab needs root")
    nd = str(Path(sys.executable).with_name("netdoctor"))
    start = min(timed([nd, "version"])[0] for _ in range(5))
    print(f"netdoctor version (start-up)      : {start:5.2f} s")
    worst = 0.0
    for layout in LAYOUTS:
        best = None
        for _ in range(args.repeat):
            up, name = timed([nd, "lab", "up", layout, "--nodes", "4", "--pods-per-node", "4"])
            try:
                with tempfile.TemporaryDirectory(prefix="netdoctor-bench-") as out:
                    collect, _ = timed([nd, "lab", "collect", name, str(Path(out) / "b")])
            finally:
                subprocess.run([nd, "lab", "down", name], capture_output=True, check=False)
            total = up + collect
            best = total if best is None or total < best else best
            print(f"{layout:16s} up {up:5.2f} s  collect (with probes) {collect:5.2f} s")
        worst = max(worst, best or 0.0)
    print(f"slowest layout, best of {args.repeat}: {worst:.2f} s (target < 20 s)")
    sys.exit(0 if worst < 20 else 1)


if __name__ == "__main__":
    main()
