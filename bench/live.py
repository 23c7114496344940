"""Benchmark: read a 5,000-node / 150,000-pod cluster's API objects live, from the stand-in.

    .venv/bin/python bench/live.py [--nodes 5000] [--pods 150000] [--page-size 500] [--collect]

A child process generates the cluster (objects templated from ``examples/healthy-calico``,
each with its own name, namespace, uid, node and IP) and serves it with the tests' stand-in
API server (``tests/sources/live/standin.py``: real list pagination over HTTP). This process
reads it
the way ``netdoctor diagnose`` does, through the real ``kubernetes`` client: every kind
listed concurrently with ``limit``/``continue``, pages decoded into the Snapshot. ``--collect``
also writes the bundle (``netdoctor collect``) to a temporary file.

Prints wall time, peak RSS of this process (the client; the server is the child) and the API
calls made, which must grow with pages, not with pods. Targets (issue #6): under 30 s and under
2 GiB. Exits 1 when one is missed. Not a test: timings vary by machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "sources" / "live"))
TEMPLATE = ROOT / "examples" / "healthy-calico" / "k8s"


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


def generate(n_nodes: int, n_pods: int) -> dict[str, list[bytes]]:
    import msgspec

    enc = msgspec.json.encode
    node_tpl = _strip(json.loads((TEMPLATE / "nodes.json").read_text())["items"][0])
    pods = json.loads((TEMPLATE / "pods.json").read_text())["items"]
    pod_tpl = _strip(next(p for p in pods if not p["spec"].get("hostNetwork")))
    nodes: list[bytes] = []
    for i in range(n_nodes):
        name = f"node-{i:05d}"
        ip = f"10.{64 + i // 65536}.{(i // 256) % 256}.{i % 256}"
        node = dict(node_tpl)
        node["metadata"] = {
            **node_tpl["metadata"],
            "name": name,
            "uid": f"00000000-0000-4000-8000-{i:012d}",
            "labels": {**node_tpl["metadata"].get("labels", {}), "kubernetes.io/hostname": name},
        }
        node["spec"] = {
            **node_tpl.get("spec", {}),
            "podCIDR": f"10.{128 + i // 256}.{i % 256}.0/24",
        }
        node["status"] = {
            **node_tpl["status"],
            "addresses": [
                {"type": "InternalIP", "address": ip},
                {"type": "Hostname", "address": name},
            ],
        }
        nodes.append(enc(node))
    out_pods: list[bytes] = []
    for j in range(n_pods):
        n = j % n_nodes
        pod = dict(pod_tpl)
        pod["metadata"] = {
            **pod_tpl["metadata"],
            "name": f"app-{j:06d}",
            "namespace": f"team-{j % 30:02d}",
            "uid": f"11111111-0000-4000-8000-{j:012d}",
        }
        pod["spec"] = {**pod_tpl["spec"], "nodeName": f"node-{n:05d}"}
        ip = f"10.{128 + n // 256}.{n % 256}.{2 + (j // n_nodes) % 250}"
        pod["status"] = {**pod_tpl["status"], "podIP": ip, "podIPs": [{"ip": ip}]}
        out_pods.append(enc(pod))
    objects = {"nodes": nodes, "pods": out_pods}
    for name in ("services", "daemonsets.apps", "deployments.apps", "configmaps", "events"):
        f = TEMPLATE / f"{name}.json"
        if f.exists():
            objects[name] = [enc(_strip(o)) for o in json.loads(f.read_text())["items"]]
    return objects


def serve(n_nodes: int, n_pods: int) -> None:
    from standin import StandIn

    t = time.monotonic()
    api = StandIn(generate(n_nodes, n_pods))
    with api:
        sys.stdout.write(f"{api.url} {time.monotonic() - t:.1f}\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes it
        sys.stdout.write(json.dumps(dict(api.calls)) + "\n")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=150000)
    ap.add_argument("--page-size", type=int, default=500)
    ap.add_argument("--collect", action="store_true")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.nodes, args.pods)
        return 0

    from netdoctor.sources.live import LiveSource, connect, snapshot_of
    from netdoctor.sources.live.collect import write_bundle

    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--nodes", str(args.nodes), "--pods", str(args.pods)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        url, gen_s = child.stdout.readline().split()
        print(f"stand-in: {args.nodes} nodes, {args.pods} pods generated in {gen_s} s at {url}")
        with tempfile.TemporaryDirectory() as tmp:
            kc = Path(tmp) / "kubeconfig"
            kc.write_text(
                json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Config",
                        "clusters": [{"name": "bench", "cluster": {"server": url}}],
                        "users": [{"name": "u", "user": {"token": "bench"}}],
                        "contexts": [
                            {"name": "bench", "context": {"cluster": "bench", "user": "u"}}
                        ],
                        "current-context": "bench",
                    }
                )
            )
            t = time.monotonic()
            client, _, label = connect(str(kc))
            read = LiveSource(client, label=label, page_size=args.page_size).fetch(
                on_done=lambda r: print(f"  {r.resource}: {r.status}, {r.calls} calls")
            )
            fetched = time.monotonic() - t
            if args.collect:
                summary = write_bundle(read, Path(tmp) / "bundle.tar.gz")
                size = (Path(tmp) / "bundle.tar.gz").stat().st_size
                total = time.monotonic() - t
                print(f"collect: {summary.objects} objects, {size / 2**20:.0f} MiB archive")
            else:
                snap = snapshot_of(read)
                total = time.monotonic() - t
                assert len(snap.pods or ()) == args.pods, "pods lost"
                assert len(snap.nodes or ()) == args.nodes, "nodes lost"
            client.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    finally:
        child.stdin.close()
        calls_line = child.stdout.readline()
        child.wait(30)
    calls: dict[str, int] = json.loads(calls_line) if calls_line.strip() else {}
    pages = sum(-(-n // args.page_size) for n in (args.nodes, args.pods))
    what = "writing the bundle" if args.collect else "decoding the Snapshot"
    print(f"fetch (HTTP + pages): {fetched:.1f} s; total with {what}: {total:.1f} s")
    print(f"peak RSS (client): {peak / 2**30:.2f} GiB")
    print(
        f"API calls: {read.calls} (server saw {sum(calls.values())}); "
        f"pods {calls.get('/api/v1/pods', 0)}, nodes {calls.get('/api/v1/nodes', 0)} "
        f"for {pages} pages of {args.page_size}"
    )
    ok = total < 30 and peak < 2 * 2**30
    print("targets (<30 s, <2 GiB):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
