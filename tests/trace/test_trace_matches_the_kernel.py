"""The trace against the kernel: every lab layout, healthy and with every fault that applies.

Each lab (3 nodes x 2 pods) is built, probed and collected; the bundle is loaded and every
probe (ICMP, TCP 8080, don't-fragment ping of the pod MTU) is traced from the facts alone (the
trace never reads the probes). The round-trip verdict must match what was measured: ``ok`` is
``delivered``, anything else ``dropped``; ``unknown`` is a disagreement. For faults with an
obvious owner, the drop hop must name it as its cause, and ``diagnose`` on the bundle must name
it as its first finding (a healthy lab is healthy). Root only; nothing is left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from netns_support import netns_unavailable

from netdoctor.lab.plan import _ONLY_FOR, FaultName, LayoutName

pytestmark = pytest.mark.root


_REASON = netns_unavailable()

CAUSES: dict[FaultName, tuple[str, ...]] = {
    FaultName.ip_forward_off: ("node-ip-forward-disabled",),
    FaultName.forward_drop: ("node-forward-policy-drop",),
    FaultName.overlay_port_blocked: ("overlay-port-blocked",),
    FaultName.missing_route: ("node-missing-pod-route",),
    FaultName.mtu_too_large: ("mtu-mismatch",),
    FaultName.rp_filter_strict: ("node-rp-filter-strict",),
    FaultName.policy_drop: ("networkpolicy-denies",),
    FaultName.wrong_tunnel_address: (
        "calico-node-address-mismatch",
        "flannel-public-ip-mismatch",
    ),
    FaultName.duplicate_public_ip: ("flannel-public-ip-duplicate",),
}

CASES = [
    (layout, fault)
    for layout in LayoutName
    for fault in (None, *FaultName)
    if fault is None or layout in _ONLY_FOR.get(fault, tuple(LayoutName))
]


@pytest.fixture(scope="module", autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    if _REASON is not None:
        yield
        return
    from netdoctor.lab.build import leftovers

    before = leftovers()
    yield
    after = leftovers()
    new = {k: sorted(set(v) - set(before[k])) for k, v in after.items()}
    assert new == {"namespaces": [], "links": [], "processes": []}


def _name(case: tuple[LayoutName, FaultName | None]) -> str:
    return f"{case[0].value}-{case[1].value if case[1] else 'healthy'}"


@pytest.mark.skipif(_REASON is not None, reason=_REASON or "")
@pytest.mark.parametrize("case", CASES, ids=[_name(c) for c in CASES])
def test_the_trace_agrees_with_every_probe_of_the_lab(
    case: tuple[LayoutName, FaultName | None], tmp_path: Path
) -> None:
    from netdoctor.lab.build import Lab
    from netdoctor.lab.collect import collect
    from netdoctor.sources import BundleSource
    from netdoctor.trace.path import trace

    layout, fault = case
    faults = (fault,) if fault else ()
    with Lab.running(layout, nodes=3, pods_per_node=2, faults=faults) as lab:
        bundle = collect(lab, tmp_path / "bundle")
    snap = BundleSource(bundle).load()
    assert snap.probes
    pod_mtu = {p.ref: p for p in snap.pods or ()}
    rows, wrong_cause = [], []
    for probe in snap.probes:
        src, dst = probe.from_.pod, probe.to.pod
        assert src
        assert dst
        assert dst in pod_mtu
        kind = probe.kind
        if kind == "icmp":
            path = trace(snap, src, dst)
        elif kind == "tcp":
            path = trace(snap, src, dst, protocol="TCP", port=8080)
        else:
            path = trace(snap, src, dst, size=lab.plan.pod_mtu)
        want = "delivered" if probe.result == "ok" else "dropped"
        if path.verdict != want:
            hop = (
                path.hops[path.drop_at]
                if path.drop_at is not None
                else next((h for h in path.hops if h.verdict != "pass"), None)
            )
            where = f"{hop.direction} {hop.node} {hop.stage} {hop.message.key}" if hop else "-"
            rows.append(
                f"{src}->{dst} {kind}: measured {probe.result}, traced {path.verdict} ({where})"
            )
        elif want == "dropped" and fault in CAUSES:
            assert path.drop_at is not None
            cause = path.hops[path.drop_at].cause
            if cause not in CAUSES[fault]:
                rows_cause = f"{src}->{dst} {kind}: cause {cause}, want {CAUSES[fault]}"
                wrong_cause.append(rows_cause)
    total = len(snap.probes)
    assert not rows, f"{_name(case)}: {total - len(rows)}/{total} agree\n" + "\n".join(rows)
    assert not wrong_cause, f"{_name(case)}: wrong causes\n" + "\n".join(wrong_cause)

    # The same bundle, diagnosed as a user would (no question, probes kept): a healthy lab is
    # healthy, and a broken one names the injected fault first.
    from netdoctor.engine import diagnose
    from netdoctor.model.findings import Verdict

    result = diagnose(snap)
    found = [r.finding.id for r in result.findings]
    if fault is None:
        assert result.verdict is Verdict.HEALTHY, f"{_name(case)}: {result.verdict} {found}"
    else:
        assert result.verdict is Verdict.BROKEN, f"{_name(case)}: {result.verdict} {found}"
        assert found[0] in CAUSES[fault], f"{_name(case)}: findings {found}"
