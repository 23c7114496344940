"""NET-401 / NET-402: the public IP flannel registered for each node."""

from __future__ import annotations

import json

from builders import daemonset, facts, iface, node, pod, snapshot

from netdoctor.engine import diagnose

PUB = "flannel.alpha.coreos.com/public-ip"
FLANNEL = {
    "name": "kube-flannel",
    "image": "docker.io/flannel/flannel:v0.24.2",
    "command": ["/opt/bin/flanneld"],
    "args": ["--ip-masq", "--kube-subnet-mgr"],
}


def vbox(
    master_pub: str = "10.0.2.15",
    node_pub: str = "10.0.2.15",
    *,
    node_facts: bool = True,
    args=None,
):
    c = dict(FLANNEL, args=args if args is not None else FLANNEL["args"])
    nodes = [
        node(
            "k8s-master1", "192.168.56.101", annotations={PUB: master_pub}, pod_cidr="10.244.0.0/24"
        ),
        node("k8s-node1", "192.168.56.102", annotations={PUB: node_pub}, pod_cidr="10.244.1.0/24"),
    ]
    owner = ("DaemonSet", "kube-flannel-ds", "uid-ds-kube-flannel-ds")
    pods = [
        pod(
            "kube-flannel",
            "kube-flannel-ds-x1",
            "k8s-master1",
            "192.168.56.101",
            host_network=True,
            owner=owner,
            containers=[c],
        ),
        pod(
            "kube-flannel",
            "kube-flannel-ds-x2",
            "k8s-node1",
            "192.168.56.102",
            host_network=True,
            owner=owner,
            containers=[c],
        ),
    ]
    nf = {}
    if node_facts:
        for name, ip in (("k8s-master1", "192.168.56.101"), ("k8s-node1", "192.168.56.102")):
            nf[name] = facts(
                [
                    iface("lo", index=1),
                    iface("enp0s3", "10.0.2.15/24"),
                    iface("enp0s8", f"{ip}/24", index=3),
                ],
                [{"dst": "default", "gateway": "10.0.2.2", "dev": "enp0s3"}],
                fdb=[
                    {
                        "mac": "aa:bb:cc:dd:ee:01",
                        "ifname": "flannel.1",
                        "dst": "10.0.2.15",
                        "flags": ["self"],
                        "state": "permanent",
                    }
                ],
            )
    logs = {
        "kube-flannel/kube-flannel-ds-x1/kube-flannel": (
            "I0214 09:00:01.000000       1 main.go:212] "
            "Using interface with name enp0s3 and address 10.0.2.15\n"
        )
    }
    return snapshot(
        nodes=nodes,
        pods=pods,
        daemonsets=[daemonset("kube-flannel", "kube-flannel-ds", c)],
        node_facts=nf,
        logs=logs,
    )


def test_virtualbox_nat_address_on_every_node_is_a_duplicate_fixed_with_iface_enp0s8():
    d = diagnose(vbox())
    top = d.findings[0].finding
    assert top.id == "flannel-public-ip-duplicate"
    assert top.params["address"] == "10.0.2.15"
    assert top.params["ifaces"] == "enp0s3"
    patch = json.loads(top.fix[0].command.split(" -p ", 1)[1].strip("'"))
    assert patch == [
        {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--iface=enp0s8"}
    ]
    assert top.fix[0].command.startswith(
        "kubectl -n kube-flannel patch daemonset kube-flannel-ds --type=json"
    )
    fields = {(e.object, e.field) for e in top.evidence}
    assert ("FDB/flannel.1/aa:bb:cc:dd:ee:01", "dst") in fields
    assert any(e.field == "line 1" and "enp0s3" in e.value for e in top.evidence)


def test_an_existing_wrong_iface_argument_is_replaced_not_duplicated():
    d = diagnose(vbox(args=["--ip-masq", "--kube-subnet-mgr", "--iface=enp0s3"]))
    patch = json.loads(d.findings[0].finding.fix[0].command.split(" -p ", 1)[1].strip("'"))
    assert patch[0] == {"op": "remove", "path": "/spec/template/spec/containers/0/args/2"}
    assert patch[1]["value"] == "--iface=enp0s8"


def test_distinct_public_ips_on_the_internal_network_are_healthy():
    d = diagnose(vbox("192.168.56.101", "192.168.56.102"))
    assert [r.finding.id for r in d.findings] == []


def test_unique_public_ip_that_peers_cannot_reach_is_a_mismatch():
    d = diagnose(vbox("10.0.2.15", "192.168.56.102"))
    ids = [r.finding.id for r in d.findings]
    assert ids == ["flannel-public-ip-mismatch"]
    f = d.findings[0].finding
    assert f.params["node"] == "k8s-master1"
    assert f.params["peers"] == "k8s-node1"


def test_mismatch_is_silent_without_peer_facts_to_prove_it():
    d = diagnose(vbox("10.0.2.15", "192.168.56.102", node_facts=False))
    assert [r.finding.id for r in d.findings] == []


def test_when_kubelet_also_took_the_nat_address_the_iface_is_the_shared_subnet_not_the_nat():
    snap = vbox()
    nodes = [
        node("k8s-master1", "10.0.2.15", annotations={PUB: "10.0.2.15"}, pod_cidr="10.244.0.0/24"),
        node("k8s-node1", "10.0.2.15", annotations={PUB: "10.0.2.15"}, pod_cidr="10.244.1.0/24"),
    ]
    snap = snapshot(
        nodes=nodes,
        pods=list(_raw_pods(snap)),
        daemonsets=[daemonset("kube-flannel", "kube-flannel-ds", FLANNEL)],
        node_facts=dict(snap.node_facts),
    )
    d = diagnose(snap)
    dup = next(r.finding for r in d.findings if r.finding.id == "flannel-public-ip-duplicate")
    assert '"value":"--iface=enp0s8"' in dup.fix[0].command


def _raw_pods(snap):
    import msgspec

    return msgspec.to_builtins(snap.pods)
