"""NET-201, NET-204..NET-209: the decisions behind each overlay finding, on in-memory snapshots
in the shapes kubectl and ip print."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec
from builders import daemonset, facts, iface, node, pod, route, snapshot

from netdoctor.engine import diagnose
from netdoctor.model import k8s
from netdoctor.model.findings import Finding, Severity
from netdoctor.model.nodefacts import FdbEntry, Neighbour, NetFacts
from netdoctor.model.snapshot import Snapshot

CALICO = {"name": "calico-node", "image": "docker.io/calico/node:v3.27.2"}
CALICO_OWNER = ("DaemonSet", "calico-node", "uid-ds-calico-node")
FLANNEL = {
    "name": "kube-flannel",
    "image": "docker.io/flannel/flannel:v0.24.2",
    "command": ["/opt/bin/flanneld"],
    "args": ["--ip-masq", "--kube-subnet-mgr"],
}
FLANNEL_OWNER = ("DaemonSet", "kube-flannel-ds", "uid-ds-kube-flannel-ds")
OVN = {"name": "cni-server", "image": "docker.io/kubeovn/kube-ovn:v1.12.8"}
OVN_OWNER = ("DaemonSet", "kube-ovn-cni", "uid-ds-kube-ovn-cni")


def found(snap: Snapshot, check: str) -> list[Finding]:
    d = diagnose(snap, only=(check,))
    return [r.finding for r in d.findings]


def with_(snap: Snapshot, **fields: Any) -> Snapshot:
    return dataclasses.replace(snap, **fields)


def agent_pods(ns: str, owner: tuple[str, str, str], c: dict[str, Any], nodes: dict[str, str]):  # type: ignore[no-untyped-def]
    return [
        pod(ns, f"{owner[1]}-{n[-1]}", n, ip, host_network=True, owner=owner, containers=[c])
        for n, ip in nodes.items()
    ]


NODES = {"n1": "10.6.131.11", "n2": "10.6.131.12", "n3": "10.6.131.13"}


# --- NET-206 --------------------------------------------------------------------------------


def kube_ovn(pod_mtu: int):  # type: ignore[no-untyped-def]
    """Kube-OVN over Geneve on a 1500-byte underlay, pods at ``pod_mtu``."""
    nf = {}
    for i, (n, ip) in enumerate(NODES.items()):
        nf[n] = facts(
            [
                iface("eth0", f"{ip}/24", index=2),
                iface("genev_sys_6081", index=5, kind="geneve", mtu=65000),
                # a pod's host end, a port of OVS as ip -d prints it
                {
                    **iface(f"{i}a1b2c3d4_h", index=9, kind="veth", mtu=pod_mtu),
                    "master": "ovs-system",
                },
            ],
            routes=[route("10.6.131.0/24", dev="eth0")],
        )
    return snapshot(
        nodes=[node(n, ip) for n, ip in NODES.items()],
        pods=agent_pods("kube-system", OVN_OWNER, OVN, NODES),
        daemonsets=[daemonset("kube-system", "kube-ovn-cni", OVN, uid=OVN_OWNER[2])],
        node_facts=nf,
    )


def test_geneve_is_judged_on_its_58_wire_bytes_but_fixed_with_kube_ovns_100_byte_budget():
    # 1450 + 58 = 1508 does not fit 1500: proof of a drop; Kube-OVN's own fix is 1500 - 100.
    fs = found(kube_ovn(1450), "mtu-mismatch")
    assert [f.params["encap"] for f in fs] == ["geneve"] * 3
    assert fs[0].params["required"] == "1442"
    assert any("--mtu=1400" in a.command and "kube-ovn-cni" in a.command for a in fs[0].fix)
    # 1442 + 58 = 1500 fits, even though it exceeds Kube-OVN's 1400 budget: no proof, no finding.
    assert found(kube_ovn(1442), "mtu-mismatch") == []


def calico_wireguard(pod_mtu: int, *, operator: bool):  # type: ignore[no-untyped-def]
    nf = {
        n: facts(
            [
                iface("eth0", f"{ip}/24", index=2),
                iface("wireguard.cali", f"10.30.{k}.1/32", index=6, kind="wireguard", mtu=1440),
                iface("cali12ab34cd56e", index=8, kind="veth", mtu=pod_mtu),
            ],
            routes=[
                route("10.30.0.0/16", dev="wireguard.cali", table="1"),
                route(f"10.30.{k}.5", dev="cali12ab34cd56e", scope="link"),  # the pod's
            ],
        )
        for k, (n, ip) in enumerate(NODES.items())
    }
    inst = [
        {
            "apiVersion": "operator.tigera.io/v1",
            "kind": "Installation",
            "metadata": {"name": "default"},
            "spec": {},
        }
    ]
    ns = "calico-system" if operator else "kube-system"
    return snapshot(
        nodes=[node(n, ip) for n, ip in NODES.items()],
        pods=agent_pods(ns, CALICO_OWNER, CALICO, NODES),
        daemonsets=[daemonset(ns, "calico-node", CALICO, uid=CALICO_OWNER[2])],
        installations=inst if operator else None,
        node_facts=nf,
    )


def test_wireguard_pods_at_1480_need_1440_and_the_operator_install_is_patched():
    fs = found(calico_wireguard(1480, operator=True), "mtu-mismatch")
    assert len(fs) == 3
    assert fs[0].params["encap"] == "wireguard"
    assert fs[0].params["required"] == "1440"
    cmd = fs[0].fix[0].command
    assert cmd.startswith("kubectl patch installation.operator.tigera.io default")
    assert '"mtu":1440' in cmd
    assert found(calico_wireguard(1440, operator=True), "mtu-mismatch") == []


def test_a_node_without_ip_addr_facts_is_named_not_judged():
    snap = kube_ovn(1450)
    nf = dict(snap.node_facts)
    del nf["n3"]
    d = diagnose(with_(snap, node_facts=nf), only=("mtu-mismatch",))
    outcome = d.outcomes[0]
    assert [f.subject.name for f in outcome.findings] == ["n1", "n2"]
    assert [(m.key, m.params["node"]) for m in outcome.notes] == [("note.node_file_missing", "n3")]


# --- NET-201 --------------------------------------------------------------------------------

CALICO_CONF = json.dumps(
    {"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [{"type": "calico"}]}
)
FLANNEL_CONF = json.dumps({"name": "cbr0", "cniVersion": "0.3.1", "plugins": [{"type": "flannel"}]})
MULTUS_CONF = json.dumps({"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus"})


def calico_with_cni_files(files: dict[str, dict[str, str]]) -> Snapshot:
    snap = snapshot(
        nodes=[node(n, ip) for n, ip in NODES.items()],
        pods=agent_pods("kube-system", CALICO_OWNER, CALICO, NODES),
        daemonsets=[daemonset("kube-system", "calico-node", CALICO, uid=CALICO_OWNER[2])],
    )
    return with_(
        snap,
        node_facts={
            n: NetFacts(cni_files=files.get(n, {"10-calico.conflist": CALICO_CONF})) for n in NODES
        },
    )


def test_a_leftover_config_that_sorts_after_the_cnis_own_is_only_information():
    fs = found(
        calico_with_cni_files(
            {"n2": {"10-calico.conflist": CALICO_CONF, "10-flannel.conflist": FLANNEL_CONF}}
        ),
        "cni-config-conflict",
    )
    assert [(f.subject.name, f.variant, f.severity) for f in fs] == [
        ("n2", "leftover", Severity.INFO)
    ]
    assert fs[0].params["stale"] == "10-flannel.conflist"


def test_a_foreign_config_that_sorts_first_is_critical_and_moved_away():
    fs = found(
        calico_with_cni_files(
            {"n2": {"10-calico.conflist": CALICO_CONF, "00-flannel.conf": FLANNEL_CONF}}
        ),
        "cni-config-conflict",
    )
    assert [(f.variant, f.severity) for f in fs] == [("wrong_first", Severity.CRITICAL)]
    assert "mv /etc/cni/net.d/00-flannel.conf /etc/cni/net.d.disabled/" in fs[0].fix[0].command
    assert [n.key for n in fs[0].notes] == ["note.odd_one_out.cni_config"]


def test_multus_in_front_of_the_cnis_config_is_how_multus_works():
    files = {n: {"00-multus.conf": MULTUS_CONF, "10-calico.conflist": CALICO_CONF} for n in NODES}
    assert found(calico_with_cni_files(files), "cni-config-conflict") == []


# --- NET-208 --------------------------------------------------------------------------------


def test_a_pod_holding_a_nodes_address_conflicts_but_host_network_pods_do_not():
    pods = [
        pod("default", "web", "n2", "10.6.131.11"),  # not host-network, yet n1's address
        pod("kube-system", "kube-proxy-a", "n1", "10.6.131.11", host_network=True),
    ]
    snap = snapshot(nodes=[node(n, ip) for n, ip in NODES.items()], pods=pods)
    fs = found(snap, "pod-ip-conflict")
    assert [(f.variant, f.params["ip"], f.params["node"]) for f in fs] == [
        ("node", "10.6.131.11", "n1")
    ]
    snap2 = snapshot(nodes=[node(n, ip) for n, ip in NODES.items()], pods=pods[1:])
    assert found(snap2, "pod-ip-conflict") == []


# --- NET-207 --------------------------------------------------------------------------------


def apiserver(service_range: str) -> dict[str, Any]:
    p = pod(
        "kube-system",
        "kube-apiserver-n1",
        "n1",
        "10.6.131.11",
        host_network=True,
        containers=[
            {
                "name": "kube-apiserver",
                "image": "registry.k8s.io/kube-apiserver:v1.29.1",
                "command": ["kube-apiserver", f"--service-cluster-ip-range={service_range}"],
            }
        ],
    )
    p["metadata"]["labels"] = {"component": "kube-apiserver", "tier": "control-plane"}
    return p


def calico_pool(cidr: str, pods: list[dict[str, Any]]) -> Snapshot:
    snap = snapshot(
        nodes=[node(n, ip) for n, ip in NODES.items()],
        pods=[*agent_pods("kube-system", CALICO_OWNER, CALICO, NODES), *pods],
        daemonsets=[daemonset("kube-system", "calico-node", CALICO, uid=CALICO_OWNER[2])],
    )
    pool = {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "IPPool",
        "metadata": {"name": "default-ipv4-ippool"},
        "spec": {"cidr": cidr, "ipipMode": "Always", "natOutgoing": True, "blockSize": 26},
    }
    return with_(snap, ippools=(msgspec.convert(pool, k8s.IPPool),))


def test_a_pool_over_the_service_range_named_by_the_apiserver_flag_is_an_overlap():
    fs = found(calico_pool("10.96.0.0/16", [apiserver("10.96.0.0/12")]), "pod-cidr-overlap")
    assert [(f.variant, f.params["pool"], f.params["other"]) for f in fs] == [
        ("service", "10.96.0.0/16", "10.96.0.0/12")
    ]
    new_pool = fs[0].fix[-1].command
    assert '"ipipMode":"Always"' in new_pool
    assert "calicoctl patch ippool default-ipv4-ippool" in new_pool


def test_without_the_apiserver_or_kubeadm_config_the_service_range_is_not_guessed():
    assert found(calico_pool("10.96.0.0/16", []), "pod-cidr-overlap") == []


def test_a_pool_containing_a_nodes_address_is_an_overlap():
    fs = found(calico_pool("10.6.0.0/16", []), "pod-cidr-overlap")
    assert {f.variant for f in fs} == {"node_ip", "iface"} or {f.variant for f in fs} == {"node_ip"}


# --- NET-209 --------------------------------------------------------------------------------


def flannel(args: list[str], *, ksm_annotation: bool) -> Snapshot:
    c = dict(FLANNEL, args=args)
    ann = {"flannel.alpha.coreos.com/kube-subnet-manager": "true"} if ksm_annotation else {}
    nodes = [
        node("n1", NODES["n1"], pod_cidr="10.244.0.0/24", annotations=ann),
        node("n2", NODES["n2"], pod_cidr="10.244.2.0/24", annotations=ann),
        node("n3", NODES["n3"]),
    ]
    return snapshot(
        nodes=nodes,
        pods=agent_pods("kube-flannel", FLANNEL_OWNER, c, NODES),
        daemonsets=[daemonset("kube-flannel", "kube-flannel-ds", c, uid=FLANNEL_OWNER[2])],
    )


def test_a_flannel_node_without_pod_cidr_gets_the_first_free_subnet_of_the_cluster_cidr():
    snap = flannel(["--ip-masq", "--kube-subnet-mgr"], ksm_annotation=False)
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-flannel-cfg", "namespace": "kube-flannel"},
        "data": {"net-conf.json": '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'},
    }
    snap = with_(snap, configmaps=(msgspec.convert(cm, k8s.ConfigMap),))
    fs = found(snap, "node-pod-cidr-missing")
    assert [f.subject.name for f in fs] == ["n3"]
    assert '"podCIDR":"10.244.1.0/24"' in fs[0].fix[0].command  # 10.244.0.0 and .2.0 are taken


def test_flannel_with_the_etcd_subnet_manager_does_not_need_pod_cidrs():
    snap = flannel(["--ip-masq", "--etcd-endpoints=https://10.6.131.11:2379"], ksm_annotation=False)
    assert found(snap, "node-pod-cidr-missing") == []
    assert [
        f.subject.name
        for f in found(flannel(["--ip-masq"], ksm_annotation=True), "node-pod-cidr-missing")
    ] == ["n3"]


# --- NET-204 / NET-205 ------------------------------------------------------------------------


def flannel_vxlan(
    n1_routes: list[dict[str, Any]], n1_neigh: list[dict[str, Any]], n1_fdb: list[dict[str, Any]]
) -> Snapshot:
    macs = {"n1": "aa:00:00:00:00:01", "n2": "aa:00:00:00:00:02"}
    nodes = [
        node(
            n,
            NODES[n],
            pod_cidr=f"10.244.{k}.0/24",
            annotations={
                "flannel.alpha.coreos.com/public-ip": NODES[n],
                "flannel.alpha.coreos.com/backend-type": "vxlan",
                "flannel.alpha.coreos.com/backend-data": json.dumps({"VNI": 1, "VtepMAC": macs[n]}),
                "flannel.alpha.coreos.com/kube-subnet-manager": "true",
            },
        )
        for k, n in enumerate(("n1", "n2"))
    ]
    two = {n: NODES[n] for n in ("n1", "n2")}
    nf = {}
    for k, n in enumerate(("n1", "n2")):
        vx = iface("flannel.1", f"10.244.{k}.0/32", index=4, kind="vxlan", mtu=1450)
        vx["address"] = macs[n]
        base = facts(
            [iface("eth0", f"{NODES[n]}/24"), vx],
            routes=[route("10.6.131.0/24", dev="eth0"), route(f"10.244.{k}.0/24", dev="cni0")],
        )
        nf[n] = base
    n1 = nf["n1"]
    nf["n1"] = msgspec.structs.replace(
        n1,
        routes=(*(n1.routes or ()), *msgspec.convert(n1_routes, list[type(n1.routes[0])])),  # type: ignore[index]
        neighbours=tuple(msgspec.convert(n1_neigh, list[Neighbour])),
        fdb=tuple(msgspec.convert(n1_fdb, list[FdbEntry])),
    )
    nf["n2"] = msgspec.structs.replace(
        nf["n2"],
        neighbours=(),
        fdb=(),
        routes=(
            *(nf["n2"].routes or ()),
            *msgspec.convert(
                [route("10.244.0.0/24", dev="flannel.1", gateway="10.244.0.0", flags=["onlink"])],
                list[type(n1.routes[0])],
            ),
        ),
    )  # type: ignore[index]
    return snapshot(
        nodes=nodes,
        pods=agent_pods("kube-flannel", FLANNEL_OWNER, FLANNEL, two),
        daemonsets=[daemonset("kube-flannel", "kube-flannel-ds", FLANNEL, uid=FLANNEL_OWNER[2])],
        node_facts=nf,
    )


TO_N2 = route("10.244.1.0/24", dev="flannel.1", gateway="10.244.1.0", flags=["onlink"])
NEIGH_N2 = {
    "dst": "10.244.1.0",
    "dev": "flannel.1",
    "lladdr": "aa:00:00:00:00:02",
    "state": ["PERMANENT"],
}


def fdb_entry_to(dst: str) -> dict[str, Any]:
    """A permanent fdb entry on n1 for n2's VTEP MAC, sending to ``dst``."""
    return {
        "mac": "aa:00:00:00:00:02",
        "ifname": "flannel.1",
        "dst": dst,
        "flags": ["self"],
        "state": "permanent",
    }


def n1_fdb_findings(fdb: list[dict[str, Any]]) -> list[Finding]:
    """NET-205's findings on n1, whose route and neighbour entry for n2 are in place."""
    return [
        f
        for f in found(flannel_vxlan([TO_N2], [NEIGH_N2], fdb), "overlay-fdb-missing")
        if f.subject.name == "n1"
    ]


def test_an_fdb_entry_sending_to_an_old_address_is_wrong_and_rewritten_to_the_peers():
    fs = n1_fdb_findings([fdb_entry_to("10.6.131.13")])
    assert [(f.variant, f.params["found"], f.params["underlay"]) for f in fs] == [
        ("fdb_wrong", "10.6.131.13", "10.6.131.12")
    ]
    assert (
        "bridge fdb replace aa:00:00:00:00:02 dev flannel.1 dst 10.6.131.12 self permanent"
        in fs[0].fix[1].command
    )


def test_an_fdb_entry_sending_to_another_node_quotes_that_nodes_address():
    fs = n1_fdb_findings([fdb_entry_to("10.6.131.11")])
    assert [f.variant for f in fs] == ["fdb_wrong"]
    assert any(
        e.object == "Node/n1" and e.field == "status.addresses[InternalIP]" for e in fs[0].evidence
    )


def test_a_missing_fdb_entry_behind_a_good_neighbour_entry_is_reported():
    fs = n1_fdb_findings([])
    assert [f.variant for f in fs] == ["no_fdb"]


def test_without_a_route_through_the_tunnel_the_missing_entries_are_the_routes_finding():
    snap = flannel_vxlan([], [], [])
    assert [f.subject.name for f in found(snap, "overlay-fdb-missing")] == [
        "n2"
    ]  # n2 has no entries either
    assert [(f.subject.name, f.variant) for f in found(snap, "node-missing-pod-route")] == [
        ("n1", "missing")
    ]


def test_an_aggregate_route_covering_the_peers_subnet_is_not_called_missing():
    agg = route("10.244.0.0/16", dev="eth0", gateway="10.6.131.1")
    assert [
        f.subject.name for f in found(flannel_vxlan([agg], [], []), "node-missing-pod-route")
    ] == []


def test_a_blackhole_for_the_peers_subnet_is_a_wrong_route():
    hole = {"type": "blackhole", "dst": "10.244.1.0/24", "flags": []}
    fs = found(flannel_vxlan([hole], [], []), "node-missing-pod-route")
    assert [(f.subject.name, f.variant, f.params["route"]) for f in fs] == [
        ("n1", "wrong", "blackhole 10.244.1.0/24")
    ]


def test_an_mtu_set_in_flannels_cni_config_is_the_knob_printed_for_flannel():
    conf = json.dumps(
        {
            "name": "cbr0",
            "cniVersion": "0.3.1",
            "plugins": [{"type": "flannel", "delegate": {"hairpinMode": True, "mtu": 1500}}],
        }
    )
    snap = flannel_vxlan([TO_N2], [NEIGH_N2], [])
    nf = {
        n: msgspec.structs.replace(f, cni_files={"10-flannel.conflist": conf})
        for n, f in snap.node_facts.items()
    }
    fs = found(with_(snap, node_facts=nf), "mtu-mismatch")
    assert [(f.subject.name, f.params["pod_mtu"], f.params["required"]) for f in fs] == [
        ("n1", "1500", "1450"),
        ("n2", "1500", "1450"),
    ]
    assert fs[0].fix[0].message.key == "fix.overlay.mtu_flannel_delegate"
    assert fs[0].fix[0].message.params["field"] == "plugins[0].delegate.mtu"
