"""sysctl -a parser, on output captured in a network namespace (procps 4.0.2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from netdoctor.errors import ParseError
from netdoctor.parsers.sysctl import parse_sysctl

Load = Callable[[str], bytes]


def test_values_with_tabs_keep_their_tabs(command_output: Load) -> None:
    values = parse_sysctl(command_output("sysctl.txt"), "nodes/n1/sysctl.txt")
    assert values["net.ipv4.tcp_rmem"] == "4096\t131072\t33554432"
    assert values["net.ipv4.ip_local_port_range"] == "32768\t60999"


def test_interface_keys_keep_the_slashes_sysctl_prints_for_dots(command_output: Load) -> None:
    values = parse_sysctl(command_output("sysctl.txt"), "f")
    assert values["net.ipv4.conf.eth0/100.rp_filter"] == "0"
    assert values["net.ipv4.conf.flannel/1.forwarding"] == "0"
    assert values["net.ipv4.conf.vxlan/calico.rp_filter"] == "0"
    assert "net.ipv4.conf.eth0.100.rp_filter" not in values


def test_plain_values_are_read(command_output: Load) -> None:
    values = parse_sysctl(command_output("sysctl.txt"), "f")
    assert values["net.ipv4.ip_forward"] == "0"
    assert values["net.bridge.bridge-nf-call-iptables"] == "1"
    assert values["net.netfilter.nf_conntrack_max"] == "262144"


def test_permission_denied_lines_mixed_in_by_2_to_1_are_ignored(command_output: Load) -> None:
    data = command_output("sysctl.txt")
    assert b"sysctl: permission denied on key" in data
    values = parse_sysctl(data, "f")
    assert not any(k.startswith("sysctl") for k in values)
    assert len(values) == data.count(b" = ")


def test_reading_key_errors_of_procps_3_are_ignored(command_output: Load) -> None:
    values = parse_sysctl(command_output("sysctl-procps-3.3-reading-key.txt"), "f")
    assert values["net.ipv4.conf.eth0/100.rp_filter"] == "2"
    assert values["net.ipv6.conf.all.forwarding"] == "1"
    assert values["net.ipv4.tcp_rmem"] == "4096\t87380\t6291456"
    assert "kernel.domainname" not in values  # not networking: outside the model
    assert len(values) == 6


def test_crlf_and_a_byte_order_mark_are_accepted(command_output: Load) -> None:
    data = command_output("sysctl.txt")
    assert parse_sysctl(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"), "f") == parse_sysctl(
        data, "f"
    )


def test_blank_lines_and_sysctl_conf_style_lines_are_accepted() -> None:
    values = parse_sysctl(
        b"\n# a note\nnet.ipv4.ip_forward=1\n\n  net.core.somaxconn = 4096  \n", "f"
    )
    assert values == {"net.ipv4.ip_forward": "1", "net.core.somaxconn": "4096"}


def test_a_file_of_only_error_lines_is_an_empty_result() -> None:
    assert parse_sysctl(b"sysctl: permission denied on key 'kernel.cad_pid'\n", "f") == {}


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\xef\xbb\xbf \r\n"])
def test_an_empty_file_is_a_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError) as e:
        parse_sysctl(data, "nodes/n1/sysctl.txt")
    assert e.value.problem == "empty file; expected `sysctl -a` output"


def test_a_line_without_a_value_names_its_line_number() -> None:
    with pytest.raises(ParseError) as e:
        parse_sysctl(b"net.ipv4.ip_forward = 1\n$ sysctl -a\n", "f")
    assert e.value.problem.startswith("line 2: expected `key = value`")


def test_invalid_utf8_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as e:
        parse_sysctl(b"kernel.hostname = n\xe91\n", "f")
    assert e.value.problem == "not UTF-8 text: byte 0xe9 at offset 19"


def test_only_the_networking_subset_is_kept_per_interface_and_globally() -> None:
    text = (
        b"kernel.hostname = node1\n"
        b"vm.swappiness = 60\n"
        b"net.ipv4.conf.all.rp_filter = 1\n"
        b"net.ipv4.conf.default.accept_source_route = 0\n"
        b"net.ipv4.conf.cali1234.rp_filter = 2\n"
        b"net.ipv4.conf.cali1234.bootp_relay = 0\n"
        b"net.ipv4.neigh.cali1234.gc_stale_time = 60\n"
        b"net.ipv4.neigh.default.gc_thresh3 = 1024\n"
        b"net.ipv6.conf.eth0.forwarding = 1\n"
        b"net.netfilter.nf_conntrack_max = 262144\n"
    )
    assert parse_sysctl(text, "f") == {
        "net.ipv4.conf.all.rp_filter": "1",
        "net.ipv4.conf.default.accept_source_route": "0",
        "net.ipv4.conf.cali1234.rp_filter": "2",
        "net.ipv4.neigh.default.gc_thresh3": "1024",
        "net.ipv6.conf.eth0.forwarding": "1",
        "net.netfilter.nf_conntrack_max": "262144",
    }
