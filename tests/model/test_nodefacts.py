"""The model's own behaviour: node facts answer questions about addresses as addresses, and the
Snapshot says which datasets were collected and where each came from (or would be)."""

from __future__ import annotations

import msgspec
from builders import facts, iface, node, snapshot

from netdoctor.model.nodefacts import NetFacts, Route


def test_an_address_is_found_on_its_interface_whatever_way_it_is_spelt() -> None:
    f = msgspec.convert({"interfaces": [iface("eth0", "10.6.131.36/24"), iface("eth1")]}, NetFacts)
    six = msgspec.structs.replace(
        f.interfaces[1],
        addr_info=(
            msgspec.convert(
                {"family": "inet6", "local": "fd00:6::24"}, type(f.interfaces[0].addr_info[0])
            ),
        ),
    )
    f = msgspec.structs.replace(f, interfaces=(f.interfaces[0], six))
    assert f.interface_with_address("10.6.131.36")[0].ifname == "eth0"
    assert f.interface_with_address("fd00:6:0::24")[0].ifname == "eth1"  # same address
    assert f.interface_with_address("10.6.131.37") is None
    assert f.interface_with_address("not-an-ip") is None


def test_a_route_prints_as_ip_route_prints_it() -> None:
    r = Route(dst="default", gateway="10.6.131.1", dev="eno1", protocol="static", metric=100)
    assert r.text() == "default via 10.6.131.1 dev eno1 proto static metric 100"
    assert (
        Route(dst="10.30.0.5", dev="cali1", scope="link").text() == "10.30.0.5 dev cali1 scope link"
    )


def test_the_snapshot_says_what_was_collected_and_names_the_file_of_what_was_not() -> None:
    snap = snapshot(nodes=[node("n1", "10.0.0.1")], node_facts={"n1": facts([iface("eth0")])})
    assert snap.has("k8s.nodes")
    assert not snap.has("k8s.pods")
    assert snap.has("node.ip_addr")
    assert not snap.has("node.sysctl")
    assert snap.source("k8s.pods") == "k8s/pods.json"
    assert snap.node_source("n1", "sysctl") == "nodes/n1/sysctl.txt"
