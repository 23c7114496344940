"""NET-204 / NET-205 against a real kernel: a node's flannel.1 built in a network namespace,
its `ip -j` / `bridge -j` output read by the bundle parsers, and the printed workaround run
there to prove it is the command that repairs what the check found."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from builders import daemonset, node, pod, snapshot
from netns_support import netns_unavailable

from netdoctor.engine import diagnose
from netdoctor.model.findings import Finding
from netdoctor.model.nodefacts import NetFacts
from netdoctor.parsers.iproute import (
    parse_bridge_fdb,
    parse_ip_addr,
    parse_ip_neigh,
    parse_ip_route,
)

pytestmark = pytest.mark.root

PEER_MAC = "aa:bb:cc:00:00:02"
FLANNEL = {
    "name": "kube-flannel",
    "image": "docker.io/flannel/flannel:v0.24.2",
    "args": ["--ip-masq", "--kube-subnet-mgr"],
}
OWNER = ("DaemonSet", "kube-flannel-ds", "uid-ds-kube-flannel-ds")


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.fixture
def ns() -> Iterator[str]:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    if shutil.which("bridge") is None:
        pytest.skip("needs bridge (iproute2)")
    name = f"ndt-overlay-{uuid.uuid4().hex[:6]}"
    try:
        assert run("ip", "netns", "add", name).returncode == 0
        steps = [
            ("link", "add", "eth0", "type", "veth", "peer", "name", "uplink"),
            ("addr", "add", "10.6.131.11/24", "dev", "eth0"),
            ("link", "set", "eth0", "up"),
            ("link", "set", "uplink", "up"),
            (
                *("link", "add", "flannel.1", "type", "vxlan", "id", "1"),
                *("local", "10.6.131.11", "dev", "eth0", "dstport", "8472", "nolearning"),
            ),
            ("link", "set", "flannel.1", "mtu", "1450", "up"),
            ("addr", "add", "10.244.0.0/32", "dev", "flannel.1"),
        ]
        for step in steps:
            done = run("ip", "-n", name, *step)
            if done.returncode != 0:
                pytest.skip(f"ip {' '.join(step)} fails here: {done.stderr.strip()}")
        yield name
    finally:
        run("ip", "netns", "del", name)
        assert name not in run("ip", "netns", "list").stdout


def sh(ns: str, command: str) -> None:
    done = run("ip", "netns", "exec", ns, "sh", "-c", command)
    assert done.returncode == 0, (command, done.stderr)


def capture(ns: str) -> NetFacts:
    def out(*cmd: str) -> bytes:
        done = subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, check=True)
        return done.stdout

    return NetFacts(
        interfaces=parse_ip_addr(out("ip", "-j", "-d", "addr", "show"), "ip-addr.json"),
        routes=parse_ip_route(out("ip", "-j", "route", "show", "table", "all"), "ip-route.json"),
        neighbours=parse_ip_neigh(out("ip", "-j", "neigh", "show"), "ip-neigh.json"),
        fdb=parse_bridge_fdb(out("bridge", "-j", "fdb", "show"), "bridge-fdb.json"),
    )


def findings(facts: NetFacts, check: str) -> list[Finding]:
    ann = {
        "flannel.alpha.coreos.com/backend-type": "vxlan",
        "flannel.alpha.coreos.com/kube-subnet-manager": "true",
    }

    def flannel_node(name: str, ip: str, cidr: str, mac: str):  # type: ignore[no-untyped-def]
        data = json.dumps({"VNI": 1, "VtepMAC": mac})
        return node(
            name,
            ip,
            pod_cidr=cidr,
            annotations={
                **ann,
                "flannel.alpha.coreos.com/public-ip": ip,
                "flannel.alpha.coreos.com/backend-data": data,
            },
        )

    snap = snapshot(
        nodes=[
            flannel_node("n1", "10.6.131.11", "10.244.0.0/24", "aa:bb:cc:00:00:01"),
            flannel_node("n2", "10.6.131.12", "10.244.1.0/24", PEER_MAC),
        ],
        pods=[
            pod(
                "kube-flannel",
                f"kube-flannel-ds-{n}",
                n,
                ip,
                host_network=True,
                owner=OWNER,
                containers=[FLANNEL],
            )
            for n, ip in (("n1", "10.6.131.11"), ("n2", "10.6.131.12"))
        ],
        daemonsets=[daemonset("kube-flannel", "kube-flannel-ds", FLANNEL, uid=OWNER[2])],
        node_facts={"n1": facts},
    )
    d = diagnose(snap, only=(check,))
    return [r.finding for r in d.findings if r.finding.subject.name == "n1"]


def test_the_printed_route_is_what_the_kernel_was_missing(ns: str) -> None:
    fs = findings(capture(ns), "node-missing-pod-route")
    assert [(f.variant, f.params["prefix"]) for f in fs] == [("missing", "10.244.1.0/24")]
    sh(ns, fs[0].fix[1].command)
    assert findings(capture(ns), "node-missing-pod-route") == []


def test_an_fdb_entry_to_a_stale_address_is_found_and_the_printed_entries_repair_it(
    ns: str,
) -> None:
    sh(ns, "ip route replace 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink")
    sh(ns, f"ip neigh replace 10.244.1.0 lladdr {PEER_MAC} dev flannel.1 nud permanent")
    sh(ns, f"bridge fdb append {PEER_MAC} dev flannel.1 dst 10.6.131.99 self permanent")
    fs = findings(capture(ns), "overlay-fdb-missing")
    assert [(f.variant, f.params["found"], f.params["underlay"]) for f in fs] == [
        ("fdb_wrong", "10.6.131.99", "10.6.131.12")
    ]
    sh(ns, fs[0].fix[1].command)
    assert findings(capture(ns), "overlay-fdb-missing") == []


def test_a_missing_neighbour_entry_is_found_on_real_output(ns: str) -> None:
    sh(ns, "ip route replace 10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink")
    fs = findings(capture(ns), "overlay-fdb-missing")
    assert [f.variant for f in fs] == ["no_neigh"]
    sh(ns, fs[0].fix[1].command)
    assert findings(capture(ns), "overlay-fdb-missing") == []
