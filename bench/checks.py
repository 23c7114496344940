"""Benchmark: the time of each check on a synthetic bundle (the firewall checks evaluate rules
for every node and peer, so they are the ones to watch).

    .venv/bin/python bench/gen_bundle.py /tmp/b --nodes 1000 --pods 30000
    .venv/bin/python bench/checks.py /tmp/b [NET-102 NET-203 ...]

Prints the load time and each check's time. Target (issue #3): no check above 15 s on the
1,000-node bundle (figures on the reference machine: NET-102 4.4 s, NET-203 11.1 s, NET-104
0.02 s, load 10-18 s). Exits 1 when a check misses it. Not a test: timings vary by machine.
"""

from __future__ import annotations

import sys
import time

from netdoctor.checks._support.registry import REGISTRY, Context
from netdoctor.sources.bundle import BundleSource

TARGET_S = 15.0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    start = time.perf_counter()
    snap = BundleSource(argv[0]).load()
    print(f"load {time.perf_counter() - start:.1f} s", flush=True)
    ctx = Context(snap)
    wanted = set(argv[1:])
    slow = 0
    for spec in sorted(REGISTRY.values(), key=lambda s: s.code):
        if wanted and spec.code not in wanted and spec.id not in wanted:
            continue
        start = time.perf_counter()
        out = list(spec.run(ctx))
        took = time.perf_counter() - start
        slow += took > TARGET_S
        print(f"{spec.code} {spec.id}: {took:.2f} s, {len(out)} results", flush=True)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
