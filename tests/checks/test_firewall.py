"""NET-102 / NET-203 over real iptables-save captures, and NET-103 / NET-106 thresholds."""

from __future__ import annotations

from pathlib import Path

import msgspec
from builders import facts, iface, node, pod, route, snapshot

from netdoctor.checks._support.registry import Context, Note
from netdoctor.checks.node import conntrack_counters
from netdoctor.engine import diagnose
from netdoctor.model.findings import Finding
from netdoctor.parsers.iptables import parse_iptables_save

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "commands"
DOCKER = (FIX / "iptables-save-docker-legacy.txt").read_text()
FLANNEL = (FIX / "iptables-save-flannel.txt").read_text()
KUBE_PROXY = (FIX / "iptables-save-kube-proxy.txt").read_text()
ONLY = ("NET-102", "NET-203")


def _vxlan(name: str, port: int) -> dict:
    out = iface(name, index=5, kind="vxlan")
    out["linkinfo"]["info_data"] = {"id": 1, "port": port}
    return out


def _facts(n: int, rules: str, sysctl: dict[str, str] | None = None, conntrack: str | None = None):
    other = 2 if n == 1 else 1
    f = facts(
        [
            iface("eth0", f"10.0.0.{n}/24"),
            iface("cni0", f"10.244.{n}.1/24", index=3, kind="bridge"),
            _vxlan("flannel.1", 8472),
        ],
        [
            route("10.0.0.0/24", dev="eth0", protocol="kernel", scope="link"),
            route(f"10.244.{n}.0/24", dev="cni0", protocol="kernel", scope="link"),
            route(f"10.244.{other}.0/24", dev="flannel.1", gateway=f"10.244.{other}.0"),
        ],
        sysctl=sysctl,
    )
    ruleset = parse_iptables_save(rules.encode(), f"nodes/n{n}/iptables-save.txt")
    return msgspec.structs.replace(f, iptables=ruleset, conntrack=conntrack)


def _cluster(rules2: str, rules1: str = FLANNEL, **kw):
    return snapshot(
        nodes=[
            node("n1", "10.0.0.1", pod_cidr="10.244.1.0/24"),
            node("n2", "10.0.0.2", pod_cidr="10.244.2.0/24"),
        ],
        pods=[pod("default", "a", "n1", "10.244.1.5"), pod("default", "b", "n2", "10.244.2.7")],
        node_facts={"n1": _facts(1, rules1), "n2": _facts(2, rules2, **kw)},
    )


def _findings(d, id_: str) -> list[Finding]:
    return [r.finding for r in d.findings if r.finding.id == id_]


def test_docker_forward_drop_without_a_cni_accept_is_named_with_its_policy_line():
    (f,) = _findings(diagnose(_cluster(DOCKER), only=ONLY), "node-forward-policy-drop")
    assert f.subject.name == "n2"
    assert f.evidence[0].value == ":FORWARD DROP"
    assert f.evidence[0].source == "nodes/n2/iptables-save.txt"
    # the pod CIDR: the smallest prefix over both nodes' spec.podCIDR
    assert f.fix[0].command == (
        "iptables -I DOCKER-USER 1 -s 10.244.0.0/22 -j ACCEPT && "
        "iptables -I DOCKER-USER 1 -d 10.244.0.0/22 -j ACCEPT"
    )


def test_docker_drop_policy_with_flannels_forward_accept_is_not_a_finding():
    # flannel's FLANNEL-FWD chain (the real capture's lines) placed in Docker's filter table
    fwd = [ln for ln in FLANNEL.splitlines() if "FLANNEL-FWD" in ln]
    chains = [ln for ln in fwd if ln.startswith(":")]
    rules = [ln for ln in fwd if ln.startswith("-A")]
    lines = DOCKER.splitlines()
    at = lines.index(":FORWARD DROP [0:0]")
    lines[at + 1 : at + 1] = chains
    commit = max(i for i, ln in enumerate(lines) if ln == "COMMIT")
    lines[commit:commit] = rules
    d = diagnose(_cluster("\n".join(lines) + "\n"), only=ONLY)
    assert _findings(d, "node-forward-policy-drop") == []


def test_kube_proxy_rules_with_forward_accept_pass():
    d = diagnose(_cluster(KUBE_PROXY), only=ONLY)
    assert [o.status.value for o in d.outcomes] == ["ok", "ok"]


def _input_drop(rule: str) -> str:
    return FLANNEL.replace(":OUTPUT ACCEPT [0:0]\n", f":OUTPUT ACCEPT [0:0]\n{rule}\n", 1)


def test_a_drop_of_vxlan_from_the_peer_names_the_rule_its_line_and_the_delete_command():
    rule = "-A INPUT -s 10.0.0.1/32 -p udp -m udp --dport 8472 -j DROP"
    (f,) = _findings(diagnose(_cluster(_input_drop(rule)), only=ONLY), "overlay-port-blocked")
    assert (f.subject.name, f.variant) == ("n2", "rule")
    assert f.params["peers"] == "n1 (10.0.0.1)"
    assert f.params["line"] == str(_input_drop(rule).splitlines().index(rule) + 1)
    assert f.evidence[1].object == "Interface/flannel.1"
    assert f.fix[0].command == "iptables -D INPUT -s 10.0.0.1/32 -p udp -m udp --dport 8472 -j DROP"
    assert f.fix[1].command == "iptables -I INPUT 1 -s 10.0.0.1/32 -p udp --dport 8472 -j ACCEPT"


def test_a_drop_of_vxlan_from_an_address_that_is_no_peer_is_not_a_finding():
    rule = "-A INPUT -s 10.9.9.9/32 -p udp -m udp --dport 8472 -j DROP"
    d = diagnose(_cluster(_input_drop(rule)), only=ONLY)
    assert _findings(d, "overlay-port-blocked") == []


def test_a_drop_of_the_other_vxlan_port_is_not_a_finding_on_flannel():
    rule = "-A INPUT -p udp -m udp --dport 4789 -j DROP"
    d = diagnose(_cluster(_input_drop(rule)), only=ONLY)
    assert _findings(d, "overlay-port-blocked") == []


def test_conntrack_counters_sum_the_real_per_cpu_lines():
    text = (FIX / "conntrack-stats.txt").read_text()
    assert conntrack_counters(text) == {"drop": 0, "early_drop": 0, "insert_failed": 0}
    line = text.splitlines()[1].replace("drop=0 early_drop=0", "drop=3 early_drop=4")
    assert conntrack_counters(line + "\n" + line) == {
        "drop": 6,
        "early_drop": 8,
        "insert_failed": 0,
    }


def _ct(count: int, stats: str | None = None):
    sysctl = {
        "net.netfilter.nf_conntrack_count": str(count),
        "net.netfilter.nf_conntrack_max": "1000",
    }
    return diagnose(_cluster(FLANNEL, sysctl=sysctl, conntrack=stats), only=("NET-106",))


def test_conntrack_at_90_percent_is_a_warning_and_89_percent_is_not():
    (f,) = _findings(_ct(900), "conntrack-table-full")
    assert (f.variant, f.severity.value if f.severity else None) == ("default", "warning")
    assert _findings(_ct(899), "conntrack-table-full") == []


def test_conntrack_drops_are_critical_even_with_room_left():
    stats = (
        (FIX / "conntrack-stats.txt").read_text().replace("drop=0 early_drop", "drop=2 early_drop")
    )
    (f,) = _findings(_ct(100, stats), "conntrack-table-full")
    assert (f.variant, f.severity, f.params["drop"]) == ("dropping", None, "4")


def _bridge_nf(sysctl: dict[str, str]):
    from netdoctor.checks.node import bridge_nf_disabled

    snap = snapshot(
        nodes=[node("n1", "10.0.0.1")],
        node_facts={
            "n1": msgspec.structs.replace(
                facts([], sysctl=sysctl),
                cni_files={"10-flannel.conflist": '{"name":"cbr0","plugins":[{"type":"flannel"}]}'},
            )
        },
    )
    return list(bridge_nf_disabled(Context(snap)))


def test_a_missing_bridge_nf_key_in_a_full_sysctl_dump_means_br_netfilter_is_not_loaded():
    full = {f"net.ipv4.conf.veth{i}.rp_filter": "0" for i in range(250)}
    (f,) = _bridge_nf(full)
    assert isinstance(f, Finding)
    assert f.variant == "module_missing"
    assert f.fix[0].command.startswith("modprobe br_netfilter")


def test_a_missing_bridge_nf_key_in_a_hand_made_subset_is_only_a_note():
    (n,) = _bridge_nf({"net.ipv4.ip_forward": "1"})
    assert isinstance(n, Note)
    assert n.message.params["key"] == "net.bridge.bridge-nf-call-iptables"


# --- nftables hosts (nft-ruleset.json), real captures from tests/fixtures/commands/nft ---------

NFT = FIX / "nft"


def _nft_doc(name: str) -> dict:
    import json

    return json.loads((NFT / f"nft-ruleset-{name}.json").read_text())


def _nft_cluster(
    nft2: str, *, pod_net: str = "10.30", iptables2: str | None = None, vxlan_port: int = 8472
):
    def nf(n: int, nft_name: str | None, rules: str | None):
        other = 36 if n == 35 else 35
        f = facts(
            [
                iface("eno1", f"10.6.131.{n}/24"),
                iface("cni0", f"{pod_net}.{n}.1/24", index=3, kind="bridge"),
                _vxlan("flannel.1", vxlan_port),
            ],
            [
                route("10.6.131.0/24", dev="eno1", protocol="kernel", scope="link"),
                route(f"{pod_net}.{n}.0/24", dev="cni0", protocol="kernel", scope="link"),
                route(f"{pod_net}.{other}.0/24", dev="flannel.1", gateway=f"{pod_net}.{other}.0"),
            ],
        )
        ipt = parse_iptables_save(rules.encode(), "x") if rules else None
        return msgspec.structs.replace(
            f, nft=_nft_doc(nft_name) if nft_name else None, iptables=ipt
        )

    return snapshot(
        nodes=[
            node("n35", "10.6.131.35", pod_cidr=f"{pod_net}.35.0/24"),
            node("n36", "10.6.131.36", pod_cidr=f"{pod_net}.36.0/24"),
        ],
        pods=[
            pod("default", "a", "n35", f"{pod_net}.35.5"),
            pod("default", "b", "n36", f"{pod_net}.36.7"),
        ],
        node_facts={"n35": nf(35, None, KUBE_PROXY), "n36": nf(36, nft2, iptables2)},
    )


def test_an_nft_drop_of_vxlan_is_named_by_table_chain_and_handle_with_nft_commands():
    d = diagnose(_nft_cluster("host"), only=ONLY)
    (f,) = _findings(d, "overlay-port-blocked")
    assert (f.subject.name, f.variant, f.params["handle"]) == ("n36", "nft_rule", "12")
    assert f.evidence[0].source == "nodes/n36/nft-ruleset.json"
    assert f.evidence[0].field == "table inet filter chain input handle 12 (rule 6)"
    assert f.fix[0].command == "nft delete rule inet filter input handle 12"
    assert f.fix[1].command == (
        "nft insert rule inet filter input ip saddr 10.6.131.35 udp dport 8472 accept"
    )
    # pod traffic from 10.30.0.0/16 is accepted by the host's forward chain: no NET-102
    assert _findings(d, "node-forward-policy-drop") == []


def test_an_nft_forward_policy_drop_without_an_accept_for_the_pod_cidr_is_net_102():
    d = diagnose(_nft_cluster("host", pod_net="10.244"), only=ONLY)
    (f,) = _findings(d, "node-forward-policy-drop")
    assert (f.variant, f.params["rule"], f.params["chain"]) == (
        "nft_policy",
        "policy drop",
        "forward",
    )
    assert f.fix[0].command.startswith("nft insert rule inet filter forward ip saddr 10.244.")


def test_firewalld_accepting_the_vxlan_port_in_use_is_not_a_finding_but_rejecting_it_is():
    (f,) = _findings(diagnose(_nft_cluster("firewalld"), only=ONLY), "overlay-port-blocked")
    # firewalld's public zone allows 4789, not flannel's 8472: the final reject drops it
    assert (f.params["handle"], f.params["rule"]) == ("19", "reject")


def test_iptables_nft_tables_are_left_to_iptables_save_and_the_other_nft_tables_evaluated():
    # iptables-save (nf_tables backend) is the view of the ip filter table; the nft ruleset's
    # copy of it (INPUT handle 8 drops 8472) must not be read a second time.
    rules = (
        "# Generated by iptables-save v1.8.9 (nf_tables) on Sun Nov 22 17:24:00 2026\n"
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
    )
    d = diagnose(_nft_cluster("iptables-nft", iptables2=rules), only=("NET-203",))
    assert _findings(d, "overlay-port-blocked") == []
    # the inet filter table beside it drops 4789: found, by its handle
    d = diagnose(_nft_cluster("iptables-nft", iptables2=rules, vxlan_port=4789), only=("NET-203",))
    (f,) = _findings(d, "overlay-port-blocked")
    assert (f.variant, f.params["table"], f.params["handle"]) == ("nft_rule", "inet filter", "2")


def test_peers_grouped_by_the_prefixes_the_rules_name_are_still_told_apart():
    # n4 drops VXLAN from n2's address only: n1 and n3 share a cell and stay accepted
    names = ["n1", "n2", "n3", "n4"]
    rule = "-A INPUT -s 10.0.0.2/32 -p udp -m udp --dport 8472 -j DROP"
    nf = {}
    for i, name in enumerate(names, 1):
        f = facts(
            [iface("eth0", f"10.0.0.{i}/24"), _vxlan("flannel.1", 8472)],
            [route("10.0.0.0/24", dev="eth0", protocol="kernel", scope="link")],
        )
        rules = _input_drop(rule) if name == "n4" else FLANNEL
        nf[name] = msgspec.structs.replace(f, iptables=parse_iptables_save(rules.encode(), "x"))
    snap = snapshot(nodes=[node(n, f"10.0.0.{i}") for i, n in enumerate(names, 1)], node_facts=nf)
    (f,) = _findings(diagnose(snap, only=("NET-203",)), "overlay-port-blocked")
    assert (f.subject.name, f.params["peers"]) == ("n4", "n2 (10.0.0.2)")
