"""Build every example's namespaces, capture them and write the bundles (needs root)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from netdoctor.lab.examples.bundle import validate, write_bundle
from netdoctor.lab.examples.capture import capture_node
from netdoctor.lab.examples.netns import WIRE, Lab, build_node, remove_stale
from netdoctor.lab.objects.cluster import Cluster

__all__ = ["make_examples"]


def make_examples(
    clusters: Sequence[Cluster], out_dir: Path, report: Callable[[Path, int], None]
) -> None:
    """Build all clusters' node namespaces at once, then capture and write each bundle.

    ``out_dir/<cluster name>`` is replaced; ``report(folder, size in bytes)`` is called per bundle.
    Every ``ndex-*`` namespace is deleted at the end, also on error.
    """
    lab = Lab()
    remove_stale()
    try:
        lab.netns(WIRE)
        wire_idx = [0]
        for ci, c in enumerate(clusters):
            for ni, net in enumerate(c.nets):
                build_node(lab, net, f"{ci}{ni}", wire_idx)
        time.sleep(2.5)  # let IPv6 DAD finish so link-local addresses are not "tentative"
        for c in clusters:
            out = out_dir / c.name
            if out.exists():
                shutil.rmtree(out)
            write_bundle(c, out)
            for net in c.nets:
                capture_node(net, out, net.name, c.collected, c.fdb)
            validate(out)
            report(out, sum(p.stat().st_size for p in out.rglob("*") if p.is_file()))
    finally:
        lab.cleanup()
