"""NET-101, NET-105, NET-202: forwarding, duplicate InternalIPs, the CNI agent on each node."""

from __future__ import annotations

from builders import daemonset, facts, iface, node, pod, snapshot

from netdoctor.engine import diagnose
from netdoctor.model.findings import CheckStatus, Verdict

CALICO = {"name": "calico-node", "image": "calico/node:v3.26.1"}
OWNER = ("DaemonSet", "calico-node", "uid-ds-calico-node")


def cluster(sysctl_a="1", sysctl_b="1", *, b_facts=True, agent_b=None, events=None):
    nodes = [node("a", "10.0.0.1"), node("b", "10.0.0.2")]
    pods = [
        pod(
            "kube-system",
            "calico-node-a",
            "a",
            "10.0.0.1",
            host_network=True,
            owner=OWNER,
            containers=[CALICO],
        )
    ]
    if agent_b is not False:
        pods.append(
            agent_b
            or pod(
                "kube-system",
                "calico-node-b",
                "b",
                "10.0.0.2",
                host_network=True,
                owner=OWNER,
                containers=[CALICO],
            )
        )
    nf = {"a": facts([iface("eth0", "10.0.0.1/24")], sysctl={"net.ipv4.ip_forward": sysctl_a})}
    if b_facts:
        nf["b"] = facts([iface("eth0", "10.0.0.2/24")], sysctl={"net.ipv4.ip_forward": sysctl_b})
    return snapshot(
        nodes=nodes,
        pods=pods,
        daemonsets=[daemonset("kube-system", "calico-node", CALICO)],
        node_facts=nf,
        events=events,
    )


# These tests are about NET-101/105/202; the firewall and rp_filter checks need iptables and
# routes these minimal snapshots do not hold, so they are left out here.
THESE = ("NET-101", "NET-105", "NET-202")


def outcome(d, id_):
    return next(o for o in d.outcomes if o.check_id == id_)


def test_ip_forward_off_on_one_node_is_reported_as_the_odd_one_out():
    d = diagnose(cluster(sysctl_b="0"))
    f = d.findings[0].finding
    assert (f.id, f.subject.name, f.variant) == ("node-ip-forward-disabled", "b", "odd_one_out")
    assert f.evidence[0].source == "nodes/b/sysctl.txt"
    assert f.fix[0].command == "sysctl -w net.ipv4.ip_forward=1"


def test_ip_forward_on_everywhere_passes():
    d = diagnose(cluster(), only=THESE)
    assert outcome(d, "node-ip-forward-disabled").status is CheckStatus.OK
    assert d.verdict is Verdict.HEALTHY


def test_a_node_without_sysctl_is_named_in_a_note_not_guessed():
    d = diagnose(cluster(b_facts=False))
    o = outcome(d, "node-ip-forward-disabled")
    assert o.status is CheckStatus.OK
    assert [(m.key, m.params["node"]) for m in o.notes] == [("note.node_file_missing", "b")]


def test_missing_sysctl_everywhere_skips_with_the_file_named_and_is_inconclusive():
    snap = cluster()
    snap = type(snap)(nodes=snap.nodes, pods=snap.pods, daemonsets=snap.daemonsets)
    d = diagnose(snap)
    o = outcome(d, "node-ip-forward-disabled")
    assert o.status is CheckStatus.SKIPPED
    assert o.reason is not None
    assert o.reason.params["path"] == "nodes/<node>/sysctl.txt"
    assert d.verdict is Verdict.INCONCLUSIVE


def test_two_nodes_with_one_internal_ip_are_reported_with_a_node_ip_fix_per_node():
    snap = snapshot(
        nodes=[node("m", "10.0.2.15"), node("n", "10.0.2.15")],
        node_facts={
            "m": facts(
                [iface("enp0s3", "10.0.2.15/24"), iface("enp0s8", "192.168.56.101/24", index=3)]
            ),
            "n": facts(
                [iface("enp0s3", "10.0.2.15/24"), iface("enp0s8", "192.168.56.102/24", index=3)]
            ),
        },
    )
    d = diagnose(snap)
    f = next(r.finding for r in d.findings if r.finding.id == "node-internal-ip-duplicate")
    assert f.params == {"address": "10.0.2.15", "nodes": "m, n"}
    assert [
        "--node-ip=192.168.56.101" in f.fix[0].command,
        "--node-ip=192.168.56.102" in f.fix[1].command,
    ] == [True, True]


def test_crashlooping_agent_is_reported_with_its_state_and_last_log_error():
    bad = pod(
        "kube-system",
        "calico-node-b",
        "b",
        "10.0.0.2",
        host_network=True,
        owner=OWNER,
        containers=[CALICO],
        ready=False,
        restarts=12,
        waiting=("CrashLoopBackOff", "back-off 5m0s restarting failed container"),
    )
    snap = cluster(agent_b=bad)
    logs = {
        "kube-system/calico-node-b/calico-node": (
            "2026 [INFO] ok\n"
            "2026 [ERROR][1] felix/int_dataplane.go 1034: Failed to set ip_forward\n"
        )
    }
    snap = type(snap)(**{**snap.__dict__, "logs": logs})
    d = diagnose(snap)
    f = d.findings[0].finding
    assert (f.id, f.variant, f.params["reason"], f.params["node"]) == (
        "cni-agent-unhealthy",
        "not_ready",
        "CrashLoopBackOff",
        "b",
    )
    assert any(e.field == "line 2" and "Failed to set ip_forward" in e.value for e in f.evidence)


def test_node_without_an_agent_pod_is_reported_missing():
    d = diagnose(cluster(agent_b=False))
    f = d.findings[0].finding
    assert (f.id, f.variant, f.subject.name) == ("cni-agent-unhealthy", "missing", "b")


def test_node_tainted_against_the_agent_is_not_expected_to_run_it():
    # The DaemonSet tolerates NoSchedule only; a NoExecute taint keeps its pod away on purpose.
    tainted = node(
        "b", "10.0.0.2", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]
    )
    d = diagnose(
        snapshot(
            nodes=[node("a", "10.0.0.1"), tainted],
            pods=[
                pod(
                    "kube-system",
                    "calico-node-a",
                    "a",
                    "10.0.0.1",
                    host_network=True,
                    owner=OWNER,
                    containers=[CALICO],
                )
            ],
            daemonsets=[daemonset("kube-system", "calico-node", CALICO)],
        )
    )
    assert [r.finding.id for r in d.findings] == []
    assert (
        next(o for o in d.outcomes if o.check_id == "cni-agent-unhealthy").status is CheckStatus.OK
    )


def test_a_node_on_the_questions_path_without_data_makes_the_answer_inconclusive():
    from netdoctor.model.snapshot import Question

    snap = cluster(b_facts=False)
    asked = type(snap)(
        **{**snap.__dict__, "manifest": type(snap.manifest)(question=Question(to="node/b"))}
    )
    d = diagnose(asked, only=THESE)
    assert d.verdict is Verdict.INCONCLUSIVE
    assert [(m.key, m.params["node"]) for m in d.reasons] == [
        ("inconclusive.path_node_unchecked", "b")
    ]
    off_path = type(snap)(
        **{**snap.__dict__, "manifest": type(snap.manifest)(question=Question(to="node/a"))}
    )
    assert diagnose(off_path, only=THESE).verdict is Verdict.HEALTHY
