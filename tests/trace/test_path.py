"""The packet trace over the shipped example bundles and small edits of them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec
import pytest

from netdoctor.catalog import load_catalog, placeholders
from netdoctor.model.snapshot import Snapshot
from netdoctor.sources import BundleSource
from netdoctor.trace.path import STAGES, Hop, trace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> Snapshot:
    return BundleSource(EXAMPLES / name).load()


@pytest.fixture(scope="module")
def ib() -> Snapshot:
    return _load("calico-ib-autodetect")


@pytest.fixture(scope="module")
def nat() -> Snapshot:
    return _load("flannel-virtualbox-nat")


@pytest.fixture(scope="module")
def healthy() -> Snapshot:
    return _load("healthy-calico")


def _first_not_passing(hops: tuple[Hop, ...]) -> Hop:
    return next(h for h in hops if h.verdict != "pass")


def _with_sysctl(snap: Snapshot, node: str, **values: str) -> Snapshot:
    facts = snap.node_facts[node]
    sysctl = {**(facts.sysctl or {}), **{k.replace("__", "."): v for k, v in values.items()}}
    node_facts = {**snap.node_facts, node: msgspec.structs.replace(facts, sysctl=sysctl)}
    return dataclasses.replace(snap, node_facts=node_facts)


def test_ipip_to_the_infiniband_address_dies_off_the_shared_underlay(ib: Snapshot) -> None:
    path = trace(ib, "default/netdebug04", "default/netdebug05")
    assert path.verdict == "dropped"
    hop = path.hops[path.drop_at] if path.drop_at is not None else None
    assert hop is not None
    assert (hop.node, hop.stage, hop.verdict) == ("l20-gpu-04", "underlay", "drop")
    assert hop.cause == "calico-node-address-mismatch"
    assert hop.message.key == "hop.underlay.off_underlay"
    assert hop.message.params["dst"] == "10.6.130.201"
    assert hop.message.params["shared"] == "10.6.131.36"  # where l20-gpu-05 is reachable
    values = [e.value for e in hop.evidence]
    assert "10.30.229.192/26 via 10.6.130.201 dev tunl0 proto bird onlink" in values
    assert "default via 10.6.131.1 dev eno1 proto static" in values


def test_ipip_encapsulation_adds_twenty_bytes_and_targets_the_onlink_gateway(ib: Snapshot) -> None:
    path = trace(ib, "default/netdebug04", "default/netdebug05", size=1000)
    encap = next(h for h in path.hops if h.stage == "encap")
    assert encap.message.key == "hop.encap.ipip"
    params = encap.message.params
    assert (params["dst"], params["src"], params["size"]) == ("10.6.130.201", "10.6.131.35", "1020")


def test_flannel_on_the_nat_address_sends_the_tunnel_packet_to_itself(nat: Snapshot) -> None:
    path = trace(nat, "kube-system/coredns-76f75df574-7rfwm", "default/nginx-wm9dg8jrb9-8kf92")
    assert path.verdict == "dropped"
    assert path.drop_at is not None
    hop = path.hops[path.drop_at]
    assert (hop.node, hop.stage, hop.cause) == (
        "k8s-master1",
        "outer-route",
        "flannel-public-ip-duplicate",
    )
    assert any(e.value == "dst 10.0.2.15" for e in hop.evidence + path.hops[hop.index - 1].evidence)
    # the source pod's own facts are not in the bundle: that hop says so, and is not guessed
    assert path.hops[0].verdict == "unknown"
    assert path.hops[0].message.params["path"].endswith("coredns-76f75df574-7rfwm/ip-route.json")


def test_healthy_calico_passes_every_hop_in_both_directions(healthy: Snapshot) -> None:
    path = trace(healthy, "default/netdebug04", "default/netdebug05")
    assert {h.direction for h in path.hops} == {"request", "reply"}
    assert path.drop_at is None
    assert [h for h in path.hops if h.verdict != "pass"] == []
    assert path.verdict == "delivered"
    # Felix accepts IPIP only from the hosts in ipset cali40all-hosts-net: its members are
    # rebuilt from the Calico node addresses, and the rule that decided is quoted.
    inputs = [h for h in path.hops if h.stage == "filter-input"]
    assert inputs
    assert any("cali40all-hosts-net" in e.value for h in inputs for e in h.evidence)


def test_hops_are_numbered_in_order_of_travel_request_first(healthy: Snapshot) -> None:
    path = trace(healthy, "default/netdebug04", "default/netdebug05")
    assert [h.index for h in path.hops] == list(range(len(path.hops)))
    directions = [h.direction for h in path.hops]
    assert directions == sorted(directions, key=lambda d: d != "request")
    assert all(h.stage in STAGES for h in path.hops)


def test_ip_forward_off_on_the_receiving_node_drops_with_its_sysctl_as_evidence(
    healthy: Snapshot,
) -> None:
    snap = _with_sysctl(
        healthy,
        "l20-gpu-05",
        net__ipv4__ip_forward="0",
        net__ipv4__conf__tunl0__forwarding="0",
    )
    path = trace(snap, "default/netdebug04", "default/netdebug05")
    assert path.verdict == "dropped"
    assert path.drop_at is not None
    hop = path.hops[path.drop_at]
    assert (hop.node, hop.stage, hop.cause) == (
        "l20-gpu-05",
        "node-forwarding",
        "node-ip-forward-disabled",
    )
    assert any(e.field == "net.ipv4.conf.tunl0.forwarding" and e.value == "0" for e in hop.evidence)


def test_strict_rp_filter_passes_when_the_route_back_leaves_by_the_arrival_interface(
    healthy: Snapshot,
) -> None:
    snap = _with_sysctl(
        healthy,
        "l20-gpu-05",
        net__ipv4__conf__all__rp_filter="1",
        net__ipv4__conf__eno1__rp_filter="1",
    )
    path = trace(snap, "default/netdebug04", "default/netdebug05")
    rp = [h for h in path.hops if h.stage == "rp-filter" and h.node == "l20-gpu-05"]
    assert rp
    assert all(h.message.key == "hop.rp-filter.strict" and h.verdict == "pass" for h in rp)


def test_a_large_dont_fragment_packet_stops_at_the_pod_mtu(healthy: Snapshot) -> None:
    path = trace(healthy, "default/netdebug04", "default/netdebug05", size=1500)
    assert path.verdict == "dropped"
    assert path.drop_at is not None
    hop = path.hops[path.drop_at]
    assert (hop.stage, hop.cause, hop.message.params["mtu"]) == (
        "pod-egress",
        "mtu-mismatch",
        "1480",
    )


def test_a_tcp_port_no_container_declares_is_unknown_never_guessed(healthy: Snapshot) -> None:
    path = trace(healthy, "default/netdebug04", "default/netdebug05", protocol="TCP", port=22)
    port = [h for h in path.hops if h.stage == "port"]
    assert [(h.verdict, h.message.key) for h in port] == [("unknown", "hop.port.undeclared")]


def test_a_missing_node_file_makes_the_hop_unknown_and_names_the_file(healthy: Snapshot) -> None:
    facts = healthy.node_facts["l20-gpu-05"]
    node_facts = {**healthy.node_facts, "l20-gpu-05": msgspec.structs.replace(facts, routes=None)}
    snap = dataclasses.replace(healthy, node_facts=node_facts)
    path = trace(snap, "default/netdebug04", "default/netdebug05")
    assert path.verdict == "unknown"
    hop = next(h for h in path.hops if h.message.key.endswith(".missing"))
    assert hop.message.params["path"] == "nodes/l20-gpu-05/ip-route.json"


def test_unknown_targets_and_protocols_are_refused(healthy: Snapshot) -> None:
    with pytest.raises(ValueError, match="no pod"):
        trace(healthy, "default/nope", "default/netdebug05")
    with pytest.raises(ValueError, match="SCTP"):
        trace(healthy, "default/netdebug04", "default/netdebug05", protocol="SCTP")


def test_every_hop_message_is_in_the_catalog_in_both_languages_with_its_placeholders(
    ib: Snapshot, nat: Snapshot, healthy: Snapshot
) -> None:
    cat = load_catalog()
    paths = [
        trace(ib, "default/netdebug04", "default/netdebug05", protocol="TCP", port=22),
        trace(nat, "kube-system/coredns-76f75df574-7rfwm", "default/nginx-wm9dg8jrb9-8kf92"),
        trace(healthy, "default/netdebug05", "default/netdebug04", size=1500),
        trace(healthy, "default/netdebug04", "10.6.131.36"),
    ]
    for path in paths:
        for hop in path.hops:
            texts = cat.messages[hop.message.key]
            assert placeholders(texts["en"]) == placeholders(texts["zh"])
            assert placeholders(texts["en"]) <= set(hop.message.params), hop.message.key


def test_the_trace_catalog_keys_name_known_stages() -> None:
    cat = load_catalog()
    keys = [k for k in cat.messages if k.startswith("hop.")]
    assert keys
    assert {k.split(".")[1] for k in keys} <= set(STAGES)


def test_without_the_pods_own_facts_the_path_is_unknown_never_dropped(
    healthy: Snapshot,
) -> None:
    # Hand-made bundles rarely hold pods/<ns>/<pod>/: the node's /32 route still tells which
    # veth leads to the pod, and what is not known stays unknown, naming the file.
    bare = dataclasses.replace(healthy, pod_facts={})
    path = trace(bare, "default/netdebug04", "default/netdebug05")
    assert path.verdict == "unknown"
    assert path.drop_at is None
    open_hops = {(h.stage, h.message.params.get("path")) for h in path.hops if h.verdict != "pass"}
    assert open_hops == {
        ("pod-route", "pods/default/netdebug04/ip-route.json"),
        ("pod-ingress", "pods/default/netdebug05/ip-addr.json"),
        ("pod-route", "pods/default/netdebug05/ip-route.json"),
        ("pod-ingress", "pods/default/netdebug04/ip-addr.json"),
    }
