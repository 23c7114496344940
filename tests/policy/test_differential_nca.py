"""Differential test: netdoctor's reach matrix and network-config-analyzer agree on every pod
pair and port, over seeded random namespaces, pods and policies (netpol_gen.py)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from nca import NCA, allows, read_connectivity, run_nca, write_world
from netpol_gen import PROBE_PORTS, generate

from netdoctor.model import k8s
from netdoctor.model.snapshot import Snapshot
from netdoctor.policy import reach

pytestmark = pytest.mark.skipif(not NCA.exists(), reason="network-config-analyzer not installed")


@pytest.mark.parametrize("seed", [1, 2])
def test_netdoctor_and_nca_agree_on_every_pair_and_port(seed: int, tmp_path: Path) -> None:
    world = generate(seed, namespaces=4, pods=24, policies=14)
    ns, pods, pols = write_world(world, tmp_path)
    out = tmp_path / "nca.txt"
    run_nca(ns, pods, pols, out)
    snap = Snapshot(
        pods=tuple(msgspec.convert(world.pods, list[k8s.Pod])),
        namespaces=tuple(msgspec.convert(world.namespaces, list[k8s.Namespace])),
        networkpolicies=tuple(msgspec.convert(world.policies, list[k8s.NetworkPolicy])),
    )
    refs = {p.ref for p in snap.pods or ()}
    conns = read_connectivity(out.read_text(), refs)
    r = reach(snap, ports=PROBE_PORTS)
    klass = {p.ref: k.index for k in r.universe.classes for p in k.pods}
    disagree = []
    allowed_cells = denied_cells = 0
    for m in r.matrices:
        assert m.port is not None
        for a in sorted(refs):
            for b in sorted(refs):
                if a == b:
                    continue
                ours = m.allowed(klass[a], klass[b])
                theirs = allows(conns, a, b, m.port, m.protocol)
                allowed_cells += ours
                denied_cells += not ours
                if ours != theirs:
                    disagree.append(f"{a} -> {b} {m.port}/{m.protocol}: ours {ours}, nca {theirs}")
    assert not disagree, f"{len(disagree)} cells differ, e.g. " + "; ".join(disagree[:5])
    # The generated world exercises both answers, so agreement is not trivially all-allow.
    assert allowed_cells > 100
    assert denied_cells > 100
