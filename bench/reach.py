"""Benchmark ``netdoctor reach`` against network-config-analyzer (nca) on the same generated
namespaces, pods and NetworkPolicies (tests/policy/netpol_gen.py), both writing per-pair results.

    .venv/bin/python bench/reach.py [--pods 2000] [--policies 500] [--namespaces 20] [--seed 7]
    .venv/bin/python bench/reach.py --class-level --pods 10000 --policies 2000

Side by side (default): nca ``--connectivity -o txt_no_fw_rules --output_endpoints pods`` and
``netdoctor reach -o json --port 80/tcp`` each run once in a fresh process, wall time taken;
then every pod pair's verdict on 80/TCP is compared. Target (issue #4): netdoctor at least 100x
faster at 2,000 pods / 500 policies, identical verdicts.
``--class-level``: the matrix over label classes only (no expansion to pods), in process, from
loading the bundle to the last class pair's verdict. Target: 10,000 pods / 2,000 policies < 15 s.
Prints the figures; exits 1 when a target is missed or a verdict differs. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "policy"))

from nca import NCA, allows, read_connectivity  # noqa: E402
from netpol_gen import World, as_list, generate  # noqa: E402


def write_bundle(world: World, folder: Path) -> None:
    k8s = folder / "k8s"
    k8s.mkdir(parents=True)
    (folder / "bundle.yaml").write_text("formatVersion: 1\ncollector: bench/reach.py\n")
    (k8s / "namespaces.json").write_text(json.dumps(as_list("List", world.namespaces)))
    (k8s / "pods.json").write_text(json.dumps(as_list("List", world.pods)))
    (k8s / "networkpolicies.networking.k8s.io.json").write_text(
        json.dumps(as_list("List", world.policies))
    )


def timed(cmd: list[str], stdout: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one fresh process. CPU time is the fair figure
    on a shared machine: wall time also counts the time other processes held the CPUs."""
    start = time.perf_counter()
    with open(stdout or os.devnull, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed with status {status}")
    return wall, usage.ru_utime + usage.ru_stime


def side_by_side(args: argparse.Namespace) -> int:
    world = generate(args.seed, namespaces=args.namespaces, pods=args.pods, policies=args.policies)
    with tempfile.TemporaryDirectory(prefix="ndt-reach-bench-") as tmp:
        d = Path(tmp)
        bundle = d / "bundle"
        write_bundle(world, bundle)
        nca_out = d / "nca.txt"
        nd_out = d / "reach.json"
        nd = str(Path(sys.executable).with_name("netdoctor"))
        nd_cmd = [nd, "reach", "--bundle", str(bundle), "--port", "80/tcp", "-o", "json"]
        w_nd, c_nd = timed(nd_cmd, nd_out)
        size = nd_out.stat().st_size / 1e6
        print(
            f"netdoctor reach:  wall {w_nd:8.2f} s, CPU {c_nd:8.2f} s ({size:.0f} MB)", flush=True
        )
        w_nca, c_nca = timed(
            [
                str(NCA), "--connectivity",
                str(bundle / "k8s/networkpolicies.networking.k8s.io.json"),
                "-o", "txt_no_fw_rules", "--output_endpoints", "pods",
                "--ns_list", str(bundle / "k8s/namespaces.json"),
                "--pod_list", str(bundle / "k8s/pods.json"), "--file_out", str(nca_out),
            ]
        )  # fmt: skip
        print(f"nca connectivity: wall {w_nca:8.2f} s, CPU {c_nca:8.2f} s", flush=True)
        refs = {f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in world.pods}
        conns = read_connectivity(nca_out.read_text(), refs)
        pairs = differ = 0
        with nd_out.open() as f:
            for line in f:
                line = line.strip().rstrip(",")
                if not line.startswith('{"from"'):
                    continue
                e = json.loads(line)
                pairs += 1
                if e["allowed"] != allows(conns, e["from"], e["to"], 80, "TCP"):
                    differ += 1
                    if differ <= 5:
                        print("  differs:", e["from"], "->", e["to"], "netdoctor", e["allowed"])
    ratio = c_nca / c_nd
    print(
        f"{args.pods} pods / {args.policies} policies: {pairs} pairs compared, {differ} differ; "
        f"netdoctor {ratio:.0f}x faster in CPU time, {w_nca / w_nd:.0f}x in wall time"
    )
    return 1 if differ or pairs != args.pods * (args.pods - 1) or ratio < args.target_ratio else 0


def class_level(args: argparse.Namespace) -> int:
    from netdoctor.policy import reach
    from netdoctor.sources.bundle import BundleSource

    world = generate(args.seed, namespaces=args.namespaces, pods=args.pods, policies=args.policies)
    with tempfile.TemporaryDirectory(prefix="ndt-reach-bench-") as tmp:
        bundle = Path(tmp) / "bundle"
        write_bundle(world, bundle)
        start = time.perf_counter()
        snap = BundleSource(bundle).load()
        loaded = time.perf_counter()
        r = reach(snap, ports=[(80, "TCP")])
        built = time.perf_counter()
        n = len(r.universe.classes)
        allowed = sum(r.matrices[0].allowed_dsts(s).bit_count() for s in range(n))
        end = time.perf_counter()
    print(
        f"{args.pods} pods / {args.policies} policies -> {n} classes, {n * n} class pairs, "
        f"{allowed} allowed: load {loaded - start:.2f} s, compile {built - loaded:.2f} s, "
        f"verdicts {end - built:.2f} s, total {end - start:.2f} s"
    )
    return 0 if end - start < args.target_seconds else 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=2000)
    ap.add_argument("--policies", type=int, default=500)
    ap.add_argument("--namespaces", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--class-level", action="store_true")
    ap.add_argument("--target-ratio", type=float, default=100.0)
    ap.add_argument("--target-seconds", type=float, default=15.0)
    args = ap.parse_args()
    sys.exit(class_level(args) if args.class_level else side_by_side(args))


if __name__ == "__main__":
    main()
