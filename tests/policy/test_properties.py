"""Properties every NetworkPolicy engine must have, over hypothesis-drawn seeded worlds
(netpol_gen.py): adding an allow rule never removes reachability; a policy selecting nothing
changes nothing; deny-all denies everything but hostNetwork traffic; and the per-flow engine
and the class matrix give the same answer for every pair."""

from __future__ import annotations

import copy
import random
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from netpol_gen import PROBE_PORTS, World, _peer, _port, generate

from netdoctor.model import k8s
from netdoctor.model.snapshot import Snapshot
from netdoctor.policy import evaluate_flow, reach

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
PORTS = (*PROBE_PORTS, (None, "ICMP"))


def _snap(w: World) -> Snapshot:
    return Snapshot(
        pods=tuple(msgspec.convert(w.pods, list[k8s.Pod])),
        namespaces=tuple(msgspec.convert(w.namespaces, list[k8s.Namespace])),
        networkpolicies=tuple(msgspec.convert(w.policies, list[k8s.NetworkPolicy])),
    )


def _small(seed: int) -> World:
    return generate(seed, namespaces=3, pods=10, policies=6, host_pods=2)


def _allowed(snap: Snapshot) -> set[tuple[str, str, int | None, str]]:
    r = reach(snap, ports=PORTS)
    kl = {p.ref: k.index for k in r.universe.classes for p in k.pods}
    refs = sorted(kl)
    return {
        (a, b, m.port, m.protocol)
        for m in r.matrices
        for a in refs
        for b in refs
        if a != b and m.allowed(kl[a], kl[b])
    }


def _with(w: World, policies: list[dict[str, Any]]) -> World:
    return World(namespaces=w.namespaces, pods=w.pods, policies=policies)


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_adding_an_allow_rule_never_removes_reachability(seed: int) -> None:
    w = _small(seed)
    rng = random.Random(seed)
    if not w.policies:
        return
    policies = copy.deepcopy(w.policies)
    target = rng.choice(policies)["spec"]
    direction = rng.choice(
        [d for d in ("ingress", "egress") if d.capitalize() in target["policyTypes"]]
    )
    rule: dict[str, Any] = {}
    if rng.random() < 0.7:
        rule["from" if direction == "ingress" else "to"] = [_peer(rng)]
    if rng.random() < 0.6:
        rule["ports"] = [_port(rng)]
    target.setdefault(direction, []).append(rule)
    before, after = _allowed(_snap(w)), _allowed(_snap(_with(w, policies)))
    assert before <= after, sorted(before - after)[:5]


@settings(max_examples=40, deadline=None)
@given(SEEDS)
def test_a_policy_selecting_no_pod_changes_nothing(seed: int) -> None:
    w = _small(seed)
    rng = random.Random(seed)
    ns = rng.choice(w.namespaces)["metadata"]["name"]
    nothing = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "selects-nothing", "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {"no-pod-has": "this-label"}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }
    assert _allowed(_snap(w)) == _allowed(_snap(_with(w, [*w.policies, nothing])))


@settings(max_examples=30, deadline=None)
@given(SEEDS)
def test_deny_all_alone_denies_everything_but_traffic_between_host_network_pods(
    seed: int,
) -> None:
    w = _small(seed)
    deny = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny-all", "namespace": n["metadata"]["name"]},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }
        for n in w.namespaces
    ]
    snap = _snap(_with(w, deny))
    host = {p.ref for p in snap.pods or () if p.spec.host_network}
    assert {(a, b) for a, b, _, _ in _allowed(snap)} == {
        (a, b) for a in host for b in host if a != b
    }


@settings(max_examples=25, deadline=None)
@given(SEEDS)
def test_the_flow_engine_and_the_class_matrix_agree_on_every_pair(seed: int) -> None:
    w = _small(seed)
    snap = _snap(w)
    matrix = _allowed(snap)
    pods = snap.pods or ()
    for port, proto in PORTS:
        for a in pods:
            for b in pods:
                if a.ref == b.ref:
                    continue
                v = evaluate_flow(snap, a, b, port, proto)
                assert v.allowed == ((a.ref, b.ref, port, proto) in matrix), (a.ref, b.ref, port)
                if v.allowed is False:
                    # A denied flow always comes with a policy that, once applied, allows it.
                    doc = v.suggest_rule()
                    assert doc is not None
                    extra = doc["items"] if doc["kind"] == "List" else [doc]
                    fixed = _snap(_with(w, [*w.policies, *extra]))
                    a2, b2 = fixed.pod_by_ref[a.ref], fixed.pod_by_ref[b.ref]
                    assert evaluate_flow(fixed, a2, b2, port, proto).allowed is True


@settings(max_examples=20, deadline=None)
@given(SEEDS)
def test_the_reach_json_says_what_the_flow_engine_says_for_every_entry(seed: int) -> None:
    import json

    from netdoctor.report.reach import iter_reach_json

    w = _small(seed)
    snap = _snap(w)
    doc = json.loads("".join(iter_reach_json(reach(snap, ports=PORTS))))
    by_ref = snap.pod_by_ref
    n = len(by_ref)
    assert len(doc["entries"]) == n * (n - 1) * len(PORTS)
    for e in doc["entries"]:
        v = evaluate_flow(snap, by_ref[e["from"]], by_ref[e["to"]], e["port"], e["protocol"])
        assert e["allowed"] is v.allowed
        if v.allowed:
            labels = {r.label for r in (*v.egress.allowed_by, *v.ingress.allowed_by)}
            assert set(e["allowedBy"]) == labels
            assert e["deniedBy"] == []
        else:
            denied = {f"{np.ref} {s.direction}" for s in v.denied_by for np in s.selecting}
            assert set(e["deniedBy"]) == denied
            assert e["allowedBy"] == []
