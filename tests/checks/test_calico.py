"""NET-301 / NET-302: the address calico-node uses for each node."""

from __future__ import annotations

import json

from builders import daemonset, facts, iface, node, pod, route, snapshot

from netdoctor.engine import diagnose
from netdoctor.model.findings import CheckStatus, Verdict
from netdoctor.model.snapshot import Question

CALICO = {
    "name": "calico-node",
    "image": "docker.io/calico/node:v3.26.1",
    "env": [{"name": "IP", "value": "autodetect"}],
}
ANN = "projectcalico.org/IPv4Address"


def calico_cluster(
    gpu05_addr: str = "10.6.130.201/24",
    *,
    with_facts: bool = True,
    peer_has_ib: bool = False,
    operator: bool = False,
    log: str | None = None,
    annotate: bool = True,
):
    nodes = [
        node("l20-gpu-04", "10.6.131.35", annotations={ANN: "10.6.131.35/24"}),
        node("l20-gpu-05", "10.6.131.36", annotations={ANN: gpu05_addr} if annotate else {}),
    ]
    ns = "calico-system" if operator else "kube-system"
    ds = daemonset(ns, "calico-node", CALICO)
    owner = ("DaemonSet", "calico-node", "uid-ds-calico-node")
    pods = [
        pod(
            ns,
            "calico-node-aaaaa",
            "l20-gpu-04",
            "10.6.131.35",
            host_network=True,
            owner=owner,
            containers=[CALICO],
        ),
        pod(
            ns,
            "calico-node-bbbbb",
            "l20-gpu-05",
            "10.6.131.36",
            host_network=True,
            owner=owner,
            containers=[CALICO],
        ),
        pod("default", "netdebug04", "l20-gpu-04", "10.30.142.10"),
        pod("default", "netdebug05", "l20-gpu-05", "10.30.229.240"),
    ]
    node_facts = {}
    if with_facts:
        gpu04 = [iface("lo", index=1), iface("eno1", "10.6.131.35/24")]
        if peer_has_ib:
            gpu04.append(iface("ibs845f0", "10.6.130.200/24", index=3))
        node_facts = {
            "l20-gpu-04": facts(
                gpu04,
                [
                    route("default", dev="eno1", gateway="10.6.131.1"),
                    route("10.6.131.0/24", dev="eno1", scope="link"),
                ],
            ),
            "l20-gpu-05": facts(
                [
                    iface("lo", index=1),
                    iface("eno1", "10.6.131.36/24"),
                    iface("ibs845f0", "10.6.130.201/24", index=3),
                ],
                [route("default", dev="eno1", gateway="10.6.131.1")],
            ),
        }
    logs = {f"{ns}/calico-node-bbbbb/calico-node": log} if log else None
    installations = (
        [
            {
                "apiVersion": "operator.tigera.io/v1",
                "kind": "Installation",
                "metadata": {"name": "default"},
                "spec": {"calicoNetwork": {"nodeAddressAutodetectionV4": {"firstFound": True}}},
            }
        ]
        if operator
        else None
    )
    return snapshot(
        nodes=nodes,
        pods=pods,
        daemonsets=[ds],
        node_facts=node_facts,
        logs=logs,
        installations=installations,
        question=Question(from_="default/netdebug04", to="default/netdebug05"),
    )


def ids(d):
    return [r.finding.id for r in d.findings]


def test_ib_autodetect_is_the_first_finding_with_the_cidr_of_the_internal_ip_interface():
    d = diagnose(calico_cluster())
    assert d.verdict is Verdict.BROKEN
    top = d.findings[0]
    assert top.finding.id == "calico-node-address-mismatch"
    assert top.on_path
    assert top.finding.params["iface"] == "ibs845f0"
    assert top.finding.params["internal_ip"] == "10.6.131.36"
    assert top.finding.fix[0].command == (
        "kubectl set env daemonset/calico-node -n kube-system "
        "IP_AUTODETECTION_METHOD=cidr=10.6.131.0/24"
    )
    assert "kubernetes-internal-ip" in top.finding.fix[1].command
    quoted = {(e.object, e.field, e.value) for e in top.finding.evidence}
    assert ("Node/l20-gpu-05", f"metadata.annotations[{ANN}]", "10.6.130.201/24") in quoted
    assert ("Interface/ibs845f0", "addr_info[].local", "10.6.130.201/24") in quoted
    assert ids(d) == ["calico-node-address-mismatch"]


def test_address_on_the_internal_ip_is_healthy():
    d = diagnose(calico_cluster("10.6.131.36/24"))
    assert ids(d) == []
    by_id = {o.check_id: o for o in d.outcomes}
    assert by_id["calico-node-address-mismatch"].status is CheckStatus.OK


def test_second_network_that_every_peer_shares_is_not_a_fault():
    # A deliberate choice: the peers have a leg on 10.6.130.0/24 too, so they reach it.
    assert ids(diagnose(calico_cluster(peer_has_ib=True))) == []


def test_without_node_facts_the_odd_one_out_is_a_warning_and_the_cidr_is_the_supernet():
    d = diagnose(calico_cluster(with_facts=False))
    top = d.findings[0]
    assert top.finding.id == "calico-node-address-mismatch"
    assert top.severity.value == "warning"
    assert top.finding.variant == "unconfirmed"
    assert top.finding.fix[0].message.key == "fix.calico_cidr_supernet"
    assert top.finding.fix[0].command.endswith("cidr=10.6.131.32/29")


def test_the_log_line_alone_is_enough_to_find_the_address_and_interface():
    log = (
        "2026-02-14 09:20:11.123 [INFO][9] startup/autodetection_methods.go 103: "
        "Using autodetected IPv4 address on interface ibs845f0: 10.6.130.201/24\n"
    )
    d = diagnose(calico_cluster(annotate=False, log=log))
    top = d.findings[0].finding
    assert top.id == "calico-node-address-mismatch"
    assert top.params["calico_ip"] == "10.6.130.201/24"
    assert any(e.field == "line 1" and "ibs845f0" in e.value for e in top.evidence)


def test_operator_install_gets_an_installation_patch_that_clears_first_found():
    d = diagnose(calico_cluster(operator=True))
    cmd = d.findings[0].finding.fix[0].command
    assert cmd.startswith("kubectl patch installation.operator.tigera.io default --type=merge -p '")
    body = json.loads(cmd.split(" -p ", 1)[1].strip("'"))
    method = body["spec"]["calicoNetwork"]["nodeAddressAutodetectionV4"]
    assert method == {"firstFound": None, "cidrs": ["10.6.131.0/24"]}


def test_two_nodes_with_one_calico_address_are_a_duplicate():
    snap = calico_cluster("10.6.131.35/24")
    d = diagnose(snap)
    assert "calico-duplicate-node-address" in ids(d)
    dup = next(r.finding for r in d.findings if r.finding.id == "calico-duplicate-node-address")
    assert dup.params["nodes"] == "l20-gpu-04, l20-gpu-05"
