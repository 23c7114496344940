"""ip -j / bridge -j parsers, on output captured in a network namespace (iproute2 6.1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from netdoctor.errors import ParseError
from netdoctor.model.nodefacts import Interface
from netdoctor.parsers.iproute import (
    parse_bridge_fdb,
    parse_ip_addr,
    parse_ip_neigh,
    parse_ip_route,
    parse_ip_rule,
)

Load = Callable[[str], bytes]


def _by_name(interfaces: tuple[Interface, ...], name: str) -> Interface:
    return next(i for i in interfaces if i.ifname == name)


# --- ip -j -d addr show ---------------------------------------------------------------------


def test_every_interface_of_the_node_is_decoded_in_order(command_output: Load) -> None:
    interfaces = parse_ip_addr(command_output("ip-addr.json"), "nodes/n1/ip-addr.json")
    assert [i.ifname for i in interfaces] == [
        "lo",
        "eth0",
        "ibs845f0",
        "eth0.100",
        "cni0",
        "veth3a1b2c4d",
        "flannel.1",
        "vxlan.calico",
        "cali1a2b3c4d5e6",
    ]


def test_node_addresses_keep_their_prefix_length(command_output: Load) -> None:
    interfaces = parse_ip_addr(command_output("ip-addr.json"), "f")
    eth0 = _by_name(interfaces, "eth0")
    (inet,) = eth0.addresses("inet")
    assert (inet.local, inet.prefixlen, inet.broadcast) == ("10.6.131.36", 24, "10.6.131.255")
    assert str(_by_name(interfaces, "ibs845f0").addresses()[0].interface) == "10.6.130.201/24"
    assert [a.local for a in eth0.addresses("inet6")] == [
        "fd00:6:131::36",
        "fe80::5054:ff:fe6b:8324",
    ]
    assert _by_name(interfaces, "ibs845f0").mtu == 2044


def test_vxlan_device_keeps_its_vni_and_local_address(command_output: Load) -> None:
    interfaces = parse_ip_addr(command_output("ip-addr.json"), "f")
    flannel = _by_name(interfaces, "flannel.1")
    assert flannel.kind == "vxlan"
    assert flannel.linkinfo is not None
    assert flannel.linkinfo.info_data is not None
    data = flannel.linkinfo.info_data
    assert (data["id"], data["port"], data["local"], data["learning"]) == (
        1,
        8472,
        "10.6.131.36",
        False,
    )
    calico = _by_name(interfaces, "vxlan.calico")
    assert calico.linkinfo is not None
    assert calico.linkinfo.info_data is not None
    assert (calico.linkinfo.info_data["id"], calico.linkinfo.info_data["port"]) == (4096, 4789)
    assert calico.mtu == 1450


def test_bridge_port_names_its_master_and_veth_its_peer_namespace(command_output: Load) -> None:
    interfaces = parse_ip_addr(command_output("ip-addr.json"), "f")
    port = _by_name(interfaces, "veth3a1b2c4d")
    assert port.master == "cni0"
    assert port.linkinfo is not None
    assert port.linkinfo.info_slave_kind == "bridge"
    assert (port.link_index, port.link_netnsid) == (2, 1)
    assert _by_name(interfaces, "cni0").kind == "bridge"
    assert _by_name(interfaces, "cali1a2b3c4d5e6").address == "ee:ee:ee:ee:ee:ee"
    assert _by_name(interfaces, "eth0").up


def test_pretty_printed_output_decodes_like_the_compact_one(command_output: Load) -> None:
    (pretty,) = parse_ip_addr(command_output("ip-addr-pretty.json"), "f")
    compact = _by_name(parse_ip_addr(command_output("ip-addr.json"), "f"), "flannel.1")
    assert pretty == compact


def test_crlf_and_a_byte_order_mark_are_accepted(command_output: Load) -> None:
    data = command_output("ip-addr-pretty.json")
    windows = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
    assert parse_ip_addr(windows, "f") == parse_ip_addr(data, "f")


def test_empty_objects_from_iproute2_4_are_skipped(command_output: Load) -> None:
    (eth0,) = parse_ip_addr(command_output("ip-addr-iproute2-4.x-empty-objects.txt"), "f")
    assert eth0.ifname == "eth0"
    assert [(a.local, a.prefixlen) for a in eth0.addr_info] == [("10.6.131.36", 24)]


def test_numbers_printed_as_strings_become_numbers(command_output: Load) -> None:
    (flannel,) = parse_ip_addr(command_output("ip-addr-iproute2-4.x-numbers-as-strings.txt"), "f")
    assert (flannel.ifindex, flannel.mtu) == (7, 1450)
    assert flannel.addr_info[0].prefixlen == 32
    assert str(flannel.addr_info[0].interface) == "10.244.1.0/32"


def test_unknown_keys_of_a_newer_iproute2_are_ignored() -> None:
    data = b'[{"ifname":"eth9","mtu":9000,"xdp":{"mode":3},"proto_down_reason":["x"],"new":1}]'
    (eth9,) = parse_ip_addr(data, "f")
    assert (eth9.ifname, eth9.mtu) == ("eth9", 9000)


# --- ip -j route show table all ------------------------------------------------------------


def test_default_route_keeps_its_gateway_device_and_metric(command_output: Load) -> None:
    routes = parse_ip_route(command_output("ip-route.json"), "f")
    main_default = [r for r in routes if r.dst == "default" and r.table_name == "main"]
    assert [(r.gateway, r.dev, r.metric, r.protocol) for r in main_default] == [
        ("10.6.131.1", "eth0", 100, "static"),
        ("fd00:6:131::1", "eth0", 1024, None),
    ]
    assert str(main_default[0].network) == "0.0.0.0/0"


def test_routes_of_other_tables_are_named_and_main_is_the_default(command_output: Load) -> None:
    routes = parse_ip_route(command_output("ip-route.json"), "f")
    tables = {r.table_name for r in routes}
    assert tables == {"main", "100", "local"}
    in_100 = [(r.dst, r.gateway, r.dev) for r in routes if r.table == "100"]
    assert in_100 == [("default", "10.6.130.1", "ibs845f0"), ("10.6.130.0/24", None, "ibs845f0")]
    local = next(r for r in routes if r.dst == "10.6.131.36" and r.table == "local")
    assert (local.type, local.scope) == ("local", "host")


def test_overlay_routes_keep_the_onlink_flag(command_output: Load) -> None:
    routes = parse_ip_route(command_output("ip-route.json"), "f")
    flannel = next(r for r in routes if r.dst == "10.244.2.0/24")
    assert (flannel.gateway, flannel.dev, flannel.flags) == ("10.244.2.0", "flannel.1", ("onlink",))
    calico = next(r for r in routes if r.dst == "10.30.0.64/26")
    assert (calico.dev, calico.protocol, "onlink" in calico.flags) == ("vxlan.calico", "80", True)


def test_calico_workload_route_is_a_host_route_with_link_scope(command_output: Load) -> None:
    routes = parse_ip_route(command_output("ip-route.json"), "f")
    cali = next(r for r in routes if r.dev == "cali1a2b3c4d5e6" and r.table_name == "main")
    assert (cali.dst, cali.scope, cali.gateway) == ("10.30.0.5", "link", None)
    assert str(cali.network) == "10.30.0.5/32"


def test_blackhole_and_unreachable_routes_keep_their_type(command_output: Load) -> None:
    routes = parse_ip_route(command_output("ip-route.json"), "f")
    kinds = {r.dst: r.type for r in routes if r.type in ("blackhole", "unreachable")}
    assert kinds == {"10.30.0.0/26": "blackhole", "192.0.2.0/24": "unreachable"}


def test_multipath_route_keeps_each_nexthop_with_its_weight(command_output: Load) -> None:
    routes = parse_ip_route(command_output("ip-route.json"), "f")
    ecmp = next(r for r in routes if r.dst == "172.16.0.0/16")
    assert ecmp.gateway is None
    assert ecmp.dev is None
    assert [(h.gateway, h.dev, h.weight) for h in ecmp.nexthops] == [
        ("10.6.131.1", "eth0", 1),
        ("10.6.130.1", "ibs845f0", 2),
    ]


def test_ipv6_routes_decode_from_their_own_file(command_output: Load) -> None:
    routes = parse_ip_route(command_output("ip-route6.json"), "nodes/n1/ip-route6.json")
    assert routes[0].dst == "fd00:6:131::/64"
    assert {r.type for r in routes} == {None, "local", "multicast"}


def test_route_type_printed_without_a_key_is_repaired(command_output: Load) -> None:
    routes = parse_ip_route(command_output("ip-route-iproute2-5.9-type-without-key.txt"), "f")
    assert [(r.type, r.dst) for r in routes] == [
        ("broadcast", "127.0.0.0"),
        ("local", "127.0.0.0/8"),
        ("local", "127.0.0.1"),
        ("local", "192.168.178.78"),
        (None, "192.168.178.0/24"),
    ]


def test_routes_without_a_destination_are_skipped() -> None:
    assert parse_ip_route(b'[{}, {"dev":"eth0"}, {"dst":"default","dev":"eth0"}]', "f") == (
        parse_ip_route(b'[{"dst":"default","dev":"eth0"}]', "f")
    )


# --- ip -j rule show -----------------------------------------------------------------------


def test_policy_rules_keep_priority_source_and_table(command_output: Load) -> None:
    rules = parse_ip_rule(command_output("ip-rule.json"), "nodes/n1/ip-rule.json")
    assert [(r.priority, r.src, r.table) for r in rules] == [
        (0, "all", "local"),
        (100, "10.6.130.201", "100"),
        (200, "all", "main"),
        (32766, "all", "main"),
        (32767, "all", "default"),
    ]


def test_negated_rule_printed_as_not_null_is_negated(command_output: Load) -> None:
    rules = parse_ip_rule(command_output("ip-rule.json"), "f")
    fwmark = next(r for r in rules if r.priority == 200)
    assert (fwmark.not_, fwmark.fwmark, fwmark.fwmask, fwmark.iif) == (
        True,
        "0x4000",
        "0x4000",
        "ibs845f0",
    )
    assert not any(r.not_ for r in rules if r.priority != 200)


def test_empty_rule_objects_are_skipped() -> None:
    assert parse_ip_rule(b'[{},{"priority":0,"src":"all","table":"local"},{}]', "f")[0].table == (
        "local"
    )


# --- ip -j neigh show / bridge -j fdb show --------------------------------------------------


def test_permanent_vxlan_neighbours_keep_lladdr_and_state(command_output: Load) -> None:
    neighbours = parse_ip_neigh(command_output("ip-neigh.json"), "f")
    by_dst = {n.dst: n for n in neighbours}
    assert (by_dst["10.244.2.0"].dev, by_dst["10.244.2.0"].lladdr) == (
        "flannel.1",
        "9e:4b:1c:44:55:66",
    )
    assert by_dst["10.244.2.0"].state == ("PERMANENT",)
    assert by_dst["10.6.131.1"].state == ("REACHABLE",)
    assert (by_dst["10.6.131.99"].lladdr, by_dst["10.6.131.99"].state) == (None, ("FAILED",))


def test_a_neighbour_state_given_as_one_string_becomes_a_list() -> None:
    (n,) = parse_ip_neigh(b'[{"dst":"10.0.0.1","dev":"eth0","state":"STALE"}]', "f")
    assert n.state == ("STALE",)


def test_all_zeros_fdb_entries_name_every_vxlan_peer(command_output: Load) -> None:
    fdb = parse_bridge_fdb(command_output("bridge-fdb.json"), "nodes/n1/bridge-fdb.json")
    flood = [e.dst for e in fdb if e.mac == "00:00:00:00:00:00" and e.ifname == "flannel.1"]
    assert flood == ["10.6.131.37", "10.6.131.38"]
    unicast = next(e for e in fdb if e.mac == "9e:4b:1c:44:55:66")
    assert (unicast.dst, unicast.flags, unicast.state) == ("10.6.131.37", ("self",), "permanent")


def test_fdb_entry_with_its_own_vni_keeps_it(command_output: Load) -> None:
    fdb = parse_bridge_fdb(command_output("bridge-fdb.json"), "f")
    other = next(e for e in fdb if e.dst == "10.6.130.203")
    assert (other.vni, other.ifname) == (4097, "vxlan.calico")
    assert all(e.vni is None for e in fdb if e.dst != "10.6.130.203")


def test_fdb_flags_given_as_one_string_become_a_list_and_state_stays_a_word() -> None:
    data = b'[{"mac":"aa:bb:cc:dd:ee:ff","ifname":"flannel.1","flags":"self","state":"permanent"}]'
    (entry,) = parse_bridge_fdb(data, "f")
    assert (entry.flags, entry.state) == (("self",), "permanent")


def test_bridge_learned_entries_name_their_master(command_output: Load) -> None:
    fdb = parse_bridge_fdb(command_output("bridge-fdb.json"), "f")
    learned = [e for e in fdb if e.master == "cni0" and e.ifname == "veth3a1b2c4d"]
    assert {e.state for e in learned} == {"", "permanent"}


# --- errors ----------------------------------------------------------------------------------


PARSERS = [parse_ip_addr, parse_ip_route, parse_ip_rule, parse_ip_neigh, parse_bridge_fdb]


@pytest.mark.parametrize("parse", PARSERS)
def test_an_empty_list_is_a_valid_empty_result(
    parse: Callable[[bytes, str], tuple[object, ...]],
) -> None:
    assert parse(b"[]\n", "f") == ()


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("data", [b"", b"  \r\n", b"\xef\xbb\xbf"])
def test_an_empty_file_is_a_parse_error(
    parse: Callable[[bytes, str], tuple[object, ...]], data: bytes
) -> None:
    with pytest.raises(ParseError) as e:
        parse(data, "nodes/n1/x.json")
    assert e.value.problem == "empty file"
    assert e.value.file == "nodes/n1/x.json"


def test_truncated_json_names_where_the_data_ends(command_output: Load) -> None:
    data = command_output("ip-route.json")[:1234]
    with pytest.raises(ParseError) as e:
        parse_ip_route(data, "nodes/n1/ip-route.json")
    assert e.value.problem == "not JSON: unexpected end of data at byte 1234"
    assert str(e.value).startswith("nodes/n1/ip-route.json: ")


def test_malformed_json_names_the_byte() -> None:
    with pytest.raises(ParseError) as e:
        parse_ip_neigh(b'[{"dst": 10.0.0.1}]', "f")
    assert e.value.problem.startswith("not JSON: ")
    assert e.value.problem == "not JSON: expected ',' or '}' at byte 13"


def test_an_object_instead_of_a_list_is_named() -> None:
    with pytest.raises(ParseError) as e:
        parse_ip_addr(b'{"ifname": "eth0"}', "f")
    assert e.value.problem == "expected a JSON list of interfaces, got an object"


def test_a_field_of_the_wrong_kind_names_its_place() -> None:
    with pytest.raises(ParseError) as e:
        parse_ip_addr(b'[{"ifname":"eth0","mtu":"big"}]', "f")
    assert "mtu" in e.value.problem
    assert "\n" not in e.value.problem


def test_invalid_utf8_inside_a_string_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as e:
        parse_ip_addr(b'[{"ifname":"eth\xff0"}]', "f")
    assert "UTF-8" in e.value.problem


def test_deep_nesting_is_a_parse_error_not_a_crash() -> None:
    deep = (
        b'[{"ifname":"x","linkinfo":{"info_data":' + b'{"a":' * 50000 + b"1" + b"}" * 50002 + b"]"
    )
    with pytest.raises(ParseError):
        parse_ip_addr(deep, "f")
    with pytest.raises(ParseError):
        parse_ip_rule(b"[" * 100000, "f")
