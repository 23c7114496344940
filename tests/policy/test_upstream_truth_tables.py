"""Every cell of the upstream Kubernetes NetworkPolicy e2e truth tables, ported as data
(``upstream/*.yaml``), agrees with both engines: the per-flow one and the class matrix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from netpol_world import pod_ip, policy, world

from netdoctor.policy import Universe, evaluate_flow

CORPUS = Path(__file__).parent / "upstream"


def _cases() -> list[Any]:
    out = []
    for f in sorted(CORPUS.glob("*.yaml")):
        for case in yaml.safe_load(f.read_text()):
            out.append(pytest.param(case, id=f"{f.stem}: {case['test']}"))
    return out


def _peer_has(peer: dict[str, str], ref: str) -> bool:
    ns, name = ref.split("/")
    return peer.get("namespace", ns) == ns and peer.get("pod", name) == name


def expected(pods: list[str], steps: list[dict[str, Any]]) -> dict[tuple[str, str], bool]:
    """Upstream's Reachability: every pair starts allowed, then each step overwrites cells."""
    grid = {(a, b): True for a in pods for b in pods}
    for step in steps:
        ((op, args),) = step.items()
        for a in pods:
            for b in pods:
                if op == "peer":
                    hit = _peer_has(args[0], a) and _peer_has(args[1], b)
                elif op == "pair":
                    hit = (a, b) == (args[0], args[1])
                elif op == "all_ingress":
                    hit = b == args[0]
                elif op == "all_egress":
                    hit = a == args[0]
                else:
                    raise ValueError(f"unknown step {op!r}")
                if hit:
                    grid[(a, b)] = bool(args[-1])
    return grid


def test_the_corpus_holds_the_ported_cases() -> None:
    assert len(_cases()) >= 55


@pytest.mark.parametrize("case", _cases())
def test_every_cell_agrees_with_upstream(case: dict[str, Any]) -> None:
    pods: list[str] = case["pods"]
    # "${x/b}" in a policy stands for that pod's IP, as upstream reads it from the pod.
    text = json.dumps(case["policies"])
    for i, ref in enumerate(pods):
        text = text.replace("${" + ref + "}", pod_ip(i))
    snap = world(
        pods,
        [policy(p["namespace"], p["name"], p["spec"]) for p in json.loads(text)],
        pod_labels=case.get("pod_labels"),
        namespace_labels=case.get("namespace_labels"),
    )
    by_ref = snap.pod_by_ref
    universe = Universe(
        snap.pods or (),
        snap.networkpolicies or (),
        {n.metadata.name: n.metadata.labels for n in snap.namespaces or ()},
    )
    pod_class = {p.ref: k.index for k in universe.classes for p in k.pods}
    for probe in case["probes"]:
        want = expected(pods, probe["steps"])
        matrix = universe.matrix(probe["port"], probe["protocol"])
        wrong = []
        for (a, b), allowed in want.items():
            if a == b:
                continue  # upstream ignores loopback
            got = evaluate_flow(snap, by_ref[a], by_ref[b], probe["port"], probe["protocol"])
            got_m = matrix.allowed(pod_class[a], pod_class[b])
            if got.allowed is not allowed or got_m is not allowed:
                wrong.append(f"{a} -> {b}: upstream {allowed}, flow {got.allowed}, matrix {got_m}")
        assert not wrong, f"port {probe['port']}/{probe['protocol']}: " + "; ".join(wrong)
