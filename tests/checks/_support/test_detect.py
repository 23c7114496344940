"""CNI detection from DaemonSets, pods, the Tigera Installation, CNI files and annotations."""

from __future__ import annotations

from builders import daemonset, facts, node, pod, snapshot

from netdoctor.checks._support.detect import detect_cni
from netdoctor.model.nodefacts import NetFacts


def test_calico_manifest_install_is_found_from_its_daemonset_with_its_version():
    snap = snapshot(
        nodes=[node("a", "10.0.0.1")],
        daemonsets=[
            daemonset(
                "kube-system",
                "calico-node",
                {"name": "calico-node", "image": "docker.io/calico/node:v3.26.1"},
            )
        ],
        pods=[],
    )
    info = detect_cni(snap)
    assert info.names == ("calico",)
    assert not info.calico_operator
    agent = info.agent("calico")
    assert agent is not None
    assert (agent.namespace, agent.name, agent.version) == ("kube-system", "calico-node", "v3.26.1")


def test_calico_operator_install_is_found_from_the_installation_and_calico_system():
    snap = snapshot(
        nodes=[node("a", "10.0.0.1")],
        daemonsets=[
            daemonset(
                "calico-system",
                "calico-node",
                {"name": "calico-node", "image": "quay.io/calico/node:v3.27.0"},
            )
        ],
        installations=[
            {
                "apiVersion": "operator.tigera.io/v1",
                "kind": "Installation",
                "metadata": {"name": "default"},
            }
        ],
    )
    info = detect_cni(snap)
    assert info.calico_operator
    assert info.agent("calico").namespace == "calico-system"


def test_flannel_pods_without_their_daemonset_still_identify_flannel():
    owner = ("DaemonSet", "kube-flannel-ds", "uid-x")
    c = {"name": "kube-flannel", "image": "docker.io/flannel/flannel:v0.24.2"}
    snap = snapshot(
        nodes=[node("a", "10.0.0.1")],
        pods=[
            pod(
                "kube-flannel",
                "kube-flannel-ds-abcde",
                "a",
                "10.0.0.1",
                owner=owner,
                containers=[c],
            )
        ],
    )
    info = detect_cni(snap)
    assert info.names == ("flannel",)
    assert info.agent("flannel").daemonset is None
    assert info.agent("flannel").version == "v0.24.2"


def test_kube_ovn_runs_two_agents_and_both_are_found():
    snap = snapshot(
        nodes=[node("a", "10.0.0.1")],
        daemonsets=[
            daemonset(
                "kube-system",
                "kube-ovn-cni",
                {"name": "cni-server", "image": "docker.io/kubeovn/kube-ovn:v1.12.8"},
            ),
            daemonset(
                "kube-system",
                "ovs-ovn",
                {"name": "openvswitch", "image": "docker.io/kubeovn/kube-ovn:v1.12.8"},
            ),
        ],
    )
    info = detect_cni(snap)
    assert info.names == ("kube-ovn",)
    assert sorted(a.name for a in info.agents) == ["kube-ovn-cni", "ovs-ovn"]


def test_cilium_is_found_from_cni_files_and_annotations_alone():
    snap = snapshot(
        nodes=[
            node("a", "10.0.0.1", annotations={"network.cilium.io/ipv4-cilium-host": "10.0.0.77"})
        ],
        node_facts={"a": NetFacts(cni_files={"05-cilium.conflist": "{}"})},
    )
    info = detect_cni(snap)
    assert info.names == ("cilium",)
    assert info.sources["cilium"] == ("nodes/a/cni/05-cilium.conflist", "Node/a annotations")
    assert info.agents == ()


def test_a_leftover_flannel_config_ranks_below_the_running_calico():
    snap = snapshot(
        nodes=[node("a", "10.0.0.1")],
        daemonsets=[
            daemonset(
                "kube-system",
                "calico-node",
                {"name": "calico-node", "image": "calico/node:v3.26.1"},
            )
        ],
        node_facts={
            "a": NetFacts(cni_files={"10-calico.conflist": "{}", "10-flannel.conflist": "{}"})
        },
    )
    assert detect_cni(snap).names == ("calico", "flannel")


def test_nothing_known_detects_nothing():
    assert (
        detect_cni(snapshot(nodes=[node("a", "10.0.0.1")], node_facts={"a": facts()})).names == ()
    )
