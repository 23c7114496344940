"""NET-206 on what a pod really sends with (issue #12, items 1 and 2), on real ``ip -j`` output.

The fixtures are ``ip -j -d addr show`` / ``ip -j route show table all`` captured by
tests/fixtures/commands/capture.sh in network namespaces set up the way Cilium's VXLAN mode
sets up a node and a pod. Docker is on the same node. The pod's ``eth0`` and its ``lxc*``
host end stay at 1500, and the pod's default route and the node's routes to the other
nodes' pods clamp to 1450. Docker's veth on ``docker0`` is 1500 and is not a pod's. A
1450-byte packet plus VXLAN's 50 bytes fits the 1500-byte underlay, so the node is healthy.
"""

from __future__ import annotations

import dataclasses

import msgspec
from builders import node, pod, snapshot
from parsers.command_fixtures import read_command_output

from netdoctor.engine import diagnose
from netdoctor.model.findings import Finding
from netdoctor.model.nodefacts import NetFacts, Route
from netdoctor.model.snapshot import Snapshot
from netdoctor.parsers.iproute import parse_ip_addr, parse_ip_route

POD = "default/web"


def _facts(prefix: str) -> NetFacts:
    addr, route = f"{prefix}-ip-addr.json", f"{prefix}-ip-route.json"
    return NetFacts(
        interfaces=parse_ip_addr(read_command_output(addr), addr),
        routes=parse_ip_route(read_command_output(route), route),
    )


NODE, PODF = _facts("cilium-node"), _facts("cilium-pod")


def _unclamped(f: NetFacts) -> NetFacts:
    """The same namespace without the route MTUs (what the model read before)."""
    routes = tuple(msgspec.structs.replace(r, metrics=()) for r in f.routes or ())
    return msgspec.structs.replace(f, routes=routes)


def world(node_facts: NetFacts = NODE, pod_facts: NetFacts | None = PODF) -> Snapshot:
    snap = snapshot(
        nodes=[node("n1", "10.6.140.12")],
        pods=[pod("default", "web", "n1", "10.0.0.23")],
        node_facts={"n1": node_facts},
    )
    return dataclasses.replace(snap, pod_facts={POD: pod_facts} if pod_facts else {})


def mtu_findings(snap: Snapshot) -> list[Finding]:
    return [r.finding for r in diagnose(snap, only=("mtu-mismatch",)).findings]


def test_ip_json_route_metrics_give_the_route_its_mtu() -> None:
    default = next(r for r in PODF.routes or () if r.dst == "default")
    assert default.mtu == 1450
    assert default.text() == "default via 10.0.0.197 dev eth0 mtu 1450"
    remote = next(r for r in NODE.routes or () if r.dst == "10.0.1.0/24")
    assert (remote.dev, remote.mtu) == ("cilium_host", 1450)
    assert Route(dst="default").mtu is None


def test_a_healthy_cilium_vxlan_node_with_docker_has_no_mtu_finding() -> None:
    snap = world()
    assert mtu_findings(snap) == []
    outcome = diagnose(snap, only=("mtu-mismatch",)).outcomes[0]
    assert outcome.status.value == "ok"


def test_the_same_node_without_the_route_mtus_would_not_fit_and_is_found() -> None:
    # Proof that the device MTU alone would not fit: 1500 + 50 > 1500. The routes decide.
    fs = mtu_findings(world(_unclamped(NODE), _unclamped(PODF)))
    assert [(f.params["pod_mtu"], f.params["required"]) for f in fs] == [("1500", "1450")]


def test_the_pods_default_route_is_the_evidence_of_the_mtu_it_sends_with() -> None:
    # A route MTU that is itself too large is still found, quoted from the pod's routes.
    routes = tuple(
        msgspec.structs.replace(r, metrics=(msgspec.convert({"mtu": 1480}, type(r.metrics[0])),))
        if r.dst == "default"
        else r
        for r in PODF.routes or ()
    )
    fs = mtu_findings(world(pod_facts=msgspec.structs.replace(PODF, routes=routes)))
    assert len(fs) == 1
    ev = [e for e in fs[0].evidence if e.object == f"Pod/{POD}"]
    assert [(e.field, e.value) for e in ev] == [
        ("route default", "default via 10.0.0.197 dev eth0 mtu 1480")
    ]


def test_without_pod_facts_the_lxc_host_end_stands_for_the_pod_clamped_by_the_node_routes() -> None:
    # lxc* (1500) is Cilium's pod end, clamped by the node's 1450 routes; Docker's veth4f2a9c1
    # (1500, on docker0) is not a pod's and must not count.
    assert mtu_findings(world(pod_facts=None)) == []
    fs = mtu_findings(world(_unclamped(NODE), pod_facts=None))
    assert [f.params["pod_mtu"] for f in fs] == ["1500"]
    assert any(e.object == "Interface/lxc1a2b3c4d5e6f" for e in fs[0].evidence)


def test_dockers_veths_are_not_pods_interfaces() -> None:
    from netdoctor.checks._support.podifaces import pod_host_veths

    names = [i.ifname for i in pod_host_veths(NODE, ["10.0.0.23"])]
    assert names == ["lxc1a2b3c4d5e6f"]
    assert "veth4f2a9c1" in [i.ifname for i in NODE.interfaces or ()]  # it is there, on docker0
