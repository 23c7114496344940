"""Kube-OVN checks and the ovn-trace command builder, on the healthy-kubeovn example."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import msgspec
import pytest

from netdoctor.checks import REGISTRY
from netdoctor.checks._support.endpoints import Endpoint
from netdoctor.checks._support.ovntrace import TraceFlow, ko_trace_command, ovn_trace_command
from netdoctor.checks._support.registry import Context, NotApplicable, Skip
from netdoctor.checks.kubeovn.ovn_trace import matches_selector
from netdoctor.model.findings import Finding, Severity
from netdoctor.model.k8s import LabelSelector
from netdoctor.model.snapshot import Question, Snapshot
from netdoctor.sources.bundle import BundleSource

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "healthy-kubeovn"


def load(tmp_path: Path, edit: object = None) -> Snapshot:
    dest = tmp_path / "b"
    shutil.copytree(EXAMPLE, dest)
    if callable(edit):
        edit(dest)
    return BundleSource(dest).load()


def run(check_id: str, ctx: Context) -> list[object]:
    return list(REGISTRY[check_id].run(ctx))


# --- the command builder -----------------------------------------------------------------------


def test_ko_trace_names_the_port_only_for_tcp_and_udp() -> None:
    icmp = TraceFlow(namespace="default", pod="a", dst_ip="10.16.0.9", port=22)
    assert ko_trace_command(icmp) == "kubectl ko trace default/a 10.16.0.9 icmp"
    tcp = TraceFlow(namespace="default", pod="a", dst_ip="10.16.0.9", protocol="TCP", port=22)
    assert ko_trace_command(tcp) == "kubectl ko trace default/a 10.16.0.9 tcp 22"


def test_raw_ovn_trace_matches_ip4_dst_and_puts_macs_after_eth() -> None:
    flow = TraceFlow(
        namespace="default",
        pod="a",
        dst_ip="10.16.0.9",
        protocol="udp",
        port=53,
        logical_switch="ovn-default",
        src_ip="10.16.0.7",
        src_mac="00:00:00:5E:A1:07",
        dst_mac="00:00:00:7c:32:09",
    )
    cmd = ovn_trace_command(flow)
    assert cmd is not None
    assert "ovn-trace --ct=new ovn-default '" in cmd
    assert 'inport == "a.default"' in cmd
    assert "eth.src == 00:00:00:5e:a1:07 && eth.dst == 00:00:00:7c:32:09" in cmd
    assert "ip4.dst == 10.16.0.9" in cmd
    assert "udp.dst == 53" in cmd
    assert "eth.dst == 10." not in cmd


def test_raw_ovn_trace_is_withheld_without_the_next_hop_mac() -> None:
    flow = TraceFlow(
        namespace="default",
        pod="a",
        dst_ip="10.17.0.12",
        logical_switch="ovn-default",
        src_ip="10.16.0.7",
        src_mac="00:00:00:5e:a1:07",
    )
    assert ovn_trace_command(flow) is None


def test_ipv6_flows_use_ip6_and_icmp6() -> None:
    flow = TraceFlow(
        namespace="ns",
        pod="p",
        dst_ip="fd00:10:16::9",
        logical_switch="ovn-default",
        src_ip="fd00:10:16::7",
        src_mac="00:00:00:00:00:07",
        dst_mac="00:00:00:00:00:09",
    )
    cmd = ovn_trace_command(flow)
    assert cmd is not None
    assert "ip6.dst == fd00:10:16::9" in cmd
    assert "icmp6.type == 128" in cmd


# --- label selectors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels", "want"),
    [
        ({}, {"app": "x"}, True),
        ({"matchLabels": {"app": "x"}}, {"app": "x", "tier": "db"}, True),
        ({"matchLabels": {"app": "x"}}, {"app": "y"}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]}, {}, False),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]}, {}, True),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {"app": ""}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {"app": "x"}, False),
    ],
)
def test_label_selectors_follow_kubernetes_semantics(
    selector: dict[str, object], labels: dict[str, str], want: bool
) -> None:
    assert matches_selector(msgspec.convert(selector, LabelSelector), labels) is want


# --- NET-502 without a trace -------------------------------------------------------------------


def test_without_a_trace_a_question_from_a_pod_skips_with_the_command_to_run(
    tmp_path: Path,
) -> None:
    snap = load(tmp_path)
    src = snap.pod_by_ref["default/netdebug04"]
    dst = snap.pod_by_ref["default/netdebug05"]
    ctx = Context(
        snapshot=snap,
        question=Question(from_="default/netdebug04", to="default/netdebug05", port=22),
        source=Endpoint(raw="default/netdebug04", kind="pod", pod=src),
        target=Endpoint(raw="default/netdebug05", kind="pod", pod=dst),
    )
    out = run("ovn-trace-drop", ctx)
    assert len(out) == 1
    assert isinstance(out[0], Skip)
    params = out[0].message.params
    assert params["command"] == "kubectl ko trace default/netdebug04 10.16.0.9 tcp 22"
    assert params["path"] == "nodes/l20-gpu-04/extra/ovn-trace-<label>.txt"


def test_without_a_trace_or_a_question_the_trace_check_does_not_apply(tmp_path: Path) -> None:
    out = run("ovn-trace-drop", Context(snapshot=load(tmp_path)))
    assert len(out) == 1
    assert isinstance(out[0], NotApplicable)


def test_the_healthy_example_gives_no_kube_ovn_finding(tmp_path: Path) -> None:
    ctx = Context(snapshot=load(tmp_path))
    for check_id in ("ovn-controller-unhealthy", "kubeovn-encap-ip-mismatch"):
        assert run(check_id, ctx) == []


# --- NET-503: a /32 VIP as encap IP ------------------------------------------------------------


def _vip_as_encap(dest: Path) -> None:
    addr_file = dest / "nodes/l20-master-01/ip-addr.json"
    addrs = json.loads(addr_file.read_text())
    eno1 = next(i for i in addrs if i["ifname"] == "eno1")
    eno1["addr_info"].insert(
        1,
        {
            "family": "inet",
            "local": "10.6.131.100",
            "prefixlen": 32,
            "scope": "global",
            "secondary": True,
            "label": "eno1",
        },
    )
    addr_file.write_text(json.dumps(addrs))
    for peer in ("l20-gpu-04", "l20-gpu-05"):
        show = dest / f"nodes/{peer}/extra/ovs-vsctl-show.txt"
        show.write_text(show.read_text().replace('"10.6.131.10"', '"10.6.131.100"'))


def test_a_vip_taken_as_encap_ip_is_a_warning_even_though_peers_reach_it(tmp_path: Path) -> None:
    ctx = Context(snapshot=load(tmp_path, _vip_as_encap))
    out = run("kubeovn-encap-ip-mismatch", ctx)
    assert len(out) == 1
    f = out[0]
    assert isinstance(f, Finding)
    assert (f.variant, f.severity) == ("vip", Severity.WARNING)
    assert f.params["encap_ip"] == "10.6.131.100"
    assert f.params["iface"] == "eno1"
    assert f.fix[-1].command == "kubectl -n kube-system delete pod kube-ovn-cni-x7k2p"


def test_a_tunnel_port_with_an_ovs_error_is_reported_for_its_node(tmp_path: Path) -> None:
    def broken(dest: Path) -> None:
        show = dest / "nodes/l20-gpu-04/extra/ovs-vsctl-show.txt"
        text = show.read_text().replace(
            'remote_ip="10.6.131.36"}',
            'remote_ip="10.6.131.36"}\n                error: "could not add network device'
            ' ovn-5c0e9b-0 to ofproto (File exists)"',
        )
        show.write_text(text)

    out = run("ovn-controller-unhealthy", Context(snapshot=load(tmp_path, broken)))
    assert [(f.variant, f.subject.name) for f in out if isinstance(f, Finding)] == [
        ("tunnel_error", "l20-gpu-04")
    ]
    f = out[0]
    assert isinstance(f, Finding)
    assert f.evidence[0].field == "line 13: error"
    assert f.fix[1].command == "kubectl -n kube-system delete pod ovs-ovn-h3w6t"


def test_a_summary_trace_that_drops_asks_for_the_detailed_form(tmp_path: Path) -> None:
    def summary_drop(dest: Path) -> None:
        (dest / "nodes/l20-gpu-04/extra/ovn-trace-ssh.txt").write_text(
            "# tcp,reg14=0x7,vlan_tci=0x0000,dl_src=00:00:00:5e:a1:07,"
            "dl_dst=00:00:00:7c:32:09,nw_src=10.16.0.7,nw_dst=10.16.0.9,tp_src=10000,tp_dst=22\n"
            'ingress(dp="ovn-default", inport="netdebug04.default") {\n'
            "    reg0[15] = check_in_port_sec();\n"
            "    next;\n"
            "    drop;\n"
            "};\n"
        )

    out = run("ovn-trace-drop", Context(snapshot=load(tmp_path, summary_drop)))
    findings = [f for f in out if isinstance(f, Finding)]
    assert [(f.variant, f.params["src"], f.params["dst"]) for f in findings] == [
        ("unstaged", "default/netdebug04", "default/netdebug05")
    ]
    assert findings[0].evidence[-1].field == "line 5"
    assert findings[0].verify[0].command == "kubectl ko trace default/netdebug04 10.16.0.9 tcp 22"


def test_an_odd_encap_ip_without_peer_facts_is_a_guarded_warning(tmp_path: Path) -> None:
    def odd_one(dest: Path) -> None:
        log = dest / "logs/kube-system/kube-ovn-cni-f2c9v/cni-server.log"
        log.write_text(log.read_text().replace("10.6.131.36", "192.168.100.36"))
        addr_file = dest / "nodes/l20-gpu-05/ip-addr.json"
        addrs = json.loads(addr_file.read_text())
        eno1 = next(i for i in addrs if i["ifname"] == "eno1")
        eno1["addr_info"].append(
            {"family": "inet", "local": "192.168.100.36", "prefixlen": 24, "scope": "global"}
        )
        addr_file.write_text(json.dumps(addrs))
        for peer in ("l20-master-01", "l20-gpu-04"):
            shutil.rmtree(dest / "nodes" / peer)

    out = run("kubeovn-encap-ip-mismatch", Context(snapshot=load(tmp_path, odd_one)))
    findings = [f for f in out if isinstance(f, Finding)]
    assert [(f.subject.name, f.variant) for f in findings] == [("l20-gpu-05", "unconfirmed")]
    # no peer facts: nobody is known to miss it, so nobody is named as cut off
    assert findings[0].params["peers"] == ""
    assert findings[0].severity == Severity.WARNING
    assert findings[0].confidence < 1


@pytest.mark.parametrize(
    ("text", "variant", "quoted"),
    [
        (
            "ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed"
            " (No such file or directory)\n",
            "db_down",
            "database connection failed",
        ),
        (
            "7e2a9c15-3b8d-4e6f-a0c4-5d1b9f8e2a36\n    Bridge br-ex\n        Port br-ex\n"
            "            Interface br-ex\n                type: internal\n"
            '    ovs_version: "3.1.7"\n',
            "no_br_int",
            "absent (bridges: br-ex)",
        ),
    ],
)
def test_ovs_that_is_down_or_lacks_br_int_on_a_ready_node_is_reported(
    tmp_path: Path, text: str, variant: str, quoted: str
) -> None:
    def damage(dest: Path) -> None:
        (dest / "nodes/l20-gpu-05/extra/ovs-vsctl-show.txt").write_text(text)

    out = run("ovn-controller-unhealthy", Context(snapshot=load(tmp_path, damage)))
    findings = [f for f in out if isinstance(f, Finding)]
    assert [(f.subject.name, f.variant) for f in findings] == [("l20-gpu-05", variant)]
    assert quoted in findings[0].evidence[0].value
    assert findings[0].evidence[0].source == "nodes/l20-gpu-05/extra/ovs-vsctl-show.txt"
