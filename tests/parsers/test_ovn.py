"""ovs-vsctl show and ovn-trace parsers, on output in the upstream formats (tests/fixtures/ovn)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netdoctor.errors import ParseError
from netdoctor.model.ovn import stage_kind
from netdoctor.parsers.ovn import parse_options, parse_ovn_trace, parse_ovs_vsctl_show

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ovn"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_geneve_tunnels_are_read_with_their_remote_ip() -> None:
    show = parse_ovs_vsctl_show(read("ovs-vsctl-show.txt"), "f")
    assert show.uuid == "7e2a9c15-3b8d-4e6f-a0c4-5d1b9f8e2a36"
    assert show.ovs_version == "3.1.7"
    tunnels = [(p.name, i.type, i.remote_ip) for _, p, i in show.tunnels()]
    assert tunnels == [
        ("ovn-3f9d2c-0", "geneve", "10.6.131.10"),
        ("ovn-5c0e9b-0", "geneve", "10.6.131.36"),
        ("ovn-b71e04-0", "geneve", "10.6.131.40"),
    ]


def test_an_interface_error_line_is_kept_and_others_have_none() -> None:
    show = parse_ovs_vsctl_show(read("ovs-vsctl-show.txt"), "f")
    errors = {i.name: i.error for _, _, i in show.tunnels()}
    assert errors["ovn-b71e04-0"] == (
        "could not add network device ovn-b71e04-0 to ofproto (File exists)"
    )
    assert errors["ovn-3f9d2c-0"] is None
    broken = next(i for _, _, i in show.tunnels() if i.error)
    assert (broken.line, broken.options_line, broken.error_line) == (15, 17, 18)


def test_quoted_port_names_tags_and_second_bridges_are_read() -> None:
    show = parse_ovs_vsctl_show(read("ovs-vsctl-show.txt"), "f")
    br_int = show.bridge("br-int")
    assert br_int is not None
    assert br_int.fail_mode == "secure"
    assert "6c1f0e9a2b7d_h" in [p.name for p in br_int.ports]
    provider = show.bridge("br-provider")
    assert provider is not None
    eno2 = next(p for p in provider.ports if p.name == "eno2")
    assert eno2.tag == "100"
    patch = next(p for p in provider.ports if p.name.startswith("patch-"))
    assert patch.interfaces[0].type == "patch"
    assert patch.interfaces[0].options == {"peer": "patch-br-int-to-localnet.provider"}


def test_a_failed_database_connection_is_kept_as_the_error() -> None:
    show = parse_ovs_vsctl_show(read("ovs-vsctl-show-db-down.txt"), "f")
    assert show.error is not None
    assert "database connection failed" in show.error
    assert show.bridges == ()


def test_text_that_is_not_ovs_vsctl_show_names_the_line() -> None:
    with pytest.raises(ParseError, match=r"f: line 1: expected the Open_vSwitch uuid"):
        parse_ovs_vsctl_show(b"Bridge br-int\n", "f")


def test_options_keep_quoted_commas_and_unquote_values() -> None:
    opts = parse_options('{csum="true", key=flow, remote_ip="10.0.0.2", note="a, b"}')
    assert opts == {"csum": "true", "key": "flow", "remote_ip": "10.0.0.2", "note": "a, b"}


def test_an_acl_drop_is_found_in_its_stage_with_line_and_match() -> None:
    trace = parse_ovn_trace(read("ovn-trace-acl-drop.txt"), "f")
    assert trace.form == "detailed"
    assert trace.verdict == "drop"
    assert trace.inport == "netdebug04.default"
    assert trace.microflow["nw_dst"] == "10.16.0.9"
    assert trace.microflow["tp_dst"] == "22"
    assert "tcp" in trace.microflow
    step = trace.drop_step
    assert step is not None
    assert (step.table, step.stage, step.priority) == (5, "ls_out_acl_action", 1000)
    assert trace.drop_text == "drop;"
    assert read("ovn-trace-acl-drop.txt").decode().splitlines()[trace.drop_line - 1].strip() == (
        "drop;"
    )
    pipe = trace.drop_pipeline
    assert pipe is not None
    assert pipe.direction == "egress"
    assert pipe.outport == "netdebug05.default"
    assert stage_kind(step.stage) == "acl"


def test_a_trace_through_the_router_ends_at_the_last_non_patch_port() -> None:
    trace = parse_ovn_trace(read("ovn-trace-router-output.txt"), "f")
    assert trace.verdict == "output"
    assert trace.output_port == "trainer-0.ml"
    assert [p.datapath for p in trace.pipelines] == [
        "ovn-default",
        "ovn-default",
        "ovn-cluster",
        "ovn-cluster",
        "gpu-subnet",
        "gpu-subnet",
    ]
    routing = trace.pipelines[2].steps[1]
    assert routing.stage == "lr_in_ip_routing"
    assert routing.match == "ip4.dst == 10.17.0.0/16"
    assert routing.uuid == "a3f2d7c5"


def test_an_implicit_drop_names_the_stage_that_matched_nothing() -> None:
    trace = parse_ovn_trace(read("ovn-trace-implicit-drop.txt"), "f")
    assert trace.verdict == "drop"
    assert trace.drop_step is not None
    assert trace.drop_step.implicit_drop
    assert trace.drop_step.stage == "lr_in_ip_routing"
    assert stage_kind(trace.drop_step.stage) == "routing"


def test_summary_and_minimal_forms_give_the_output_port() -> None:
    summary = parse_ovn_trace(read("ovn-trace-summary.txt"), "f")
    assert (summary.form, summary.verdict, summary.output_port) == (
        "summary",
        "output",
        "netdebug05.default",
    )
    minimal = parse_ovn_trace(read("ovn-trace-minimal.txt"), "f")
    assert (minimal.form, minimal.verdict, minimal.output_port) == (
        "minimal",
        "output",
        "netdebug05.default",
    )


def test_ovn_trace_errors_and_unrelated_text_are_parse_errors() -> None:
    with pytest.raises(ParseError, match="ovn-trace failed: ovn-trace: sw0: unknown datapath"):
        parse_ovn_trace(b"ovn-trace: sw0: unknown datapath\n", "f")
    with pytest.raises(ParseError, match="not ovn-trace output"):
        parse_ovn_trace(b"hello\nworld\n", "f")


@pytest.mark.parametrize(
    ("stage", "kind"),
    [
        ("ls_in_port_sec_l2", "port_security"),
        ("ls_in_check_port_sec", "port_security"),
        ("ls_out_apply_port_sec", "port_security"),
        ("ls_in_acl", "acl"),
        ("ls_out_acl_eval", "acl"),
        ("lr_in_ip_routing", "routing"),
        ("lr_in_admission", "routing"),
        ("ls_in_pre_lb", "other"),
    ],
)
def test_stages_are_sorted_into_what_a_fix_needs(stage: str, kind: str) -> None:
    assert stage_kind(stage) == kind


# --- robustness: random bytes and damaged real output -------------------------------------------

PARSERS = [
    (parse_ovs_vsctl_show, "ovs-vsctl-show.txt"),
    (parse_ovn_trace, "ovn-trace-acl-drop.txt"),
]


def _survives(parse: object, data: bytes) -> None:
    problem = None
    try:
        parse(data, "fuzz")  # type: ignore[operator]
    except ParseError as e:
        problem = e.problem
    assert problem is None or (problem and "\n" not in problem)


@pytest.mark.parametrize(("parse", "fixture"), PARSERS, ids=["ovs_vsctl_show", "ovn_trace"])
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=2048))
def test_random_bytes_return_or_raise_parse_error(parse: object, fixture: str, data: bytes) -> None:
    _survives(parse, data)


@pytest.mark.parametrize(("parse", "fixture"), PARSERS, ids=["ovs_vsctl_show", "ovn_trace"])
@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=4000), junk=st.binary(max_size=40))
def test_damaged_real_output_returns_or_raises_parse_error(
    parse: object, fixture: str, cut: int, junk: bytes
) -> None:
    data = read(fixture)
    _survives(parse, data[:cut] + junk + data[cut:])
