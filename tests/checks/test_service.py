"""NET-801..805: the Service walk, kube-proxy and the cluster DNS, over kubectl-shaped objects."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest
from builders import daemonset, node, pod, snapshot

from netdoctor.checks._support.detect import kube_proxy_replaced
from netdoctor.checks._support.endpoints import resolve_endpoint
from netdoctor.engine import diagnose
from netdoctor.errors import UsageError
from netdoctor.model.findings import CheckStatus
from netdoctor.model.k8s import DaemonSet
from netdoctor.model.snapshot import Question

WEB = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.25"}


def service(ns, name, selector, *, target_port=8080, port=80, cluster_ip="10.96.143.27", **spec):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-svc-{name}"},
        "spec": {
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip] if cluster_ip != "None" else ["None"],
            "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": target_port}],
            "selector": selector,
            "type": "ClusterIP",
            **spec,
        },
    }


def endpoint_slice(ns, svc, endpoints, ports=(("http", 8080),)):
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "addressType": "IPv4",
        "metadata": {
            "name": f"{svc}-abcde",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": svc},
        },
        "endpoints": endpoints,
        "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports] if ports else None,
    }


def ep(ip, pod_name, *, ready=True, serving=None, terminating=False, ns="shop"):
    return {
        "addresses": [ip],
        "conditions": {
            "ready": ready,
            "serving": ready if serving is None else serving,
            "terminating": terminating,
        },
        "nodeName": "b",
        "targetRef": {"kind": "Pod", "name": pod_name, "namespace": ns},
    }


def web_pod(name="web-1", ip="10.244.1.5", *, labels=None, ready=True, port=8080, pname="http"):
    c = {**WEB, "ports": [{"containerPort": port, "name": pname, "protocol": "TCP"}]}
    return pod("shop", name, "b", ip, labels=labels or {"app": "web"}, ready=ready, containers=[c])


def client():
    return pod("shop", "client", "a", "10.244.0.7", labels={"app": "client"})


def cluster(svc, pods, slices=None, *, to="svc/shop/web", port=80, extra_pods=(), **kw):
    return snapshot(
        nodes=[node("a", "10.0.0.1"), node("b", "10.0.0.2")],
        pods=[client(), *pods, *extra_pods],
        services=[svc],
        endpointslices=slices if slices is not None else [],
        question=Question(from_="shop/client", to=to, port=port),
        **kw,
    )


def ids(d):
    return [r.finding.id for r in d.findings]


def outcome(d, id_):
    return next(o for o in d.outcomes if o.check_id == id_)


# --- NET-801 -----------------------------------------------------------------------------------


def test_a_selector_no_pod_matches_names_the_closest_pod_and_the_key_that_differs():
    svc = service("shop", "web", {"app": "web", "tier": "frontend"})
    d = diagnose(cluster(svc, [web_pod(labels={"app": "web", "tier": "front"})]))
    f = d.findings[0].finding
    assert (f.id, f.variant) == ("service-no-endpoints", "closest")
    assert f.params["pod"] == "web-1"
    assert f.params["have"] == "tier=front"
    assert f.fix[0].command == (
        'kubectl -n shop patch service web -p \'{"spec":{"selector":{"tier":"front"}}}\''
    )
    # The pod has no Deployment in the snapshot: relabel the pod itself.
    assert f.fix[1].command == "kubectl -n shop label pod web-1 tier=frontend --overwrite"


def test_a_selector_fix_removes_a_key_the_pods_do_not_carry():
    svc = service("shop", "web", {"app": "web", "version": "v2"})
    d = diagnose(cluster(svc, [web_pod()]))
    f = d.findings[0].finding
    assert f.params["have"] == "version=<none>"
    assert '"selector":{"version":null}' in f.fix[0].command


def test_the_deployment_template_is_patched_when_the_key_is_not_in_its_own_selector():
    svc = service("shop", "web", {"app": "web", "tier": "frontend"})
    p = web_pod(labels={"app": "web", "tier": "front"})
    p["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": "u-rs"}
    ]
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}},
    }
    d = diagnose(cluster(svc, [p], deployments=[deploy]))
    f = d.findings[0].finding
    assert f.fix[1].command == (
        "kubectl -n shop patch deployment web -p"
        ' \'{"spec":{"template":{"metadata":{"labels":{"tier":"frontend"}}}}}\''
    )


def test_a_selector_sharing_nothing_with_any_pod_says_so():
    svc = service("shop", "web", {"app": "webshop"})
    d = diagnose(cluster(svc, [web_pod()]))
    f = d.findings[0].finding
    assert (f.id, f.variant) == ("service-no-endpoints", "no_pods")
    assert f.fix[0].command == "kubectl -n shop get pods --show-labels"


def test_services_without_a_selector_and_externalname_services_are_not_judged():
    manual = service("shop", "web", {})
    d = diagnose(cluster(manual, [web_pod()]))
    assert outcome(d, "service-no-endpoints").status is CheckStatus.OK
    ext = service("shop", "web", {"app": "gone"}, cluster_ip="", externalName="db.example.com")
    ext["spec"]["type"] = "ExternalName"
    d = diagnose(cluster(ext, [web_pod()]))
    assert "service-no-endpoints" not in ids(d)


def test_service_checks_do_not_apply_to_a_pod_to_pod_question():
    svc = service("shop", "web", {"app": "nothing"})
    d = diagnose(cluster(svc, [web_pod()], to="shop/web-1", port=8080))
    ran = {o.check_id for o in d.outcomes}
    assert not ran & {"service-no-endpoints", "service-endpoints-not-ready"}


# --- NET-802 -----------------------------------------------------------------------------------


def test_matching_pods_none_ready_is_reported_with_the_slice_conditions():
    svc = service("shop", "web", {"app": "web"})
    slices = [endpoint_slice("shop", "web", [ep("10.244.1.5", "web-1", ready=False)])]
    d = diagnose(cluster(svc, [web_pod(ready=False)], slices))
    f = d.findings[0].finding
    assert (f.id, f.variant) == ("service-endpoints-not-ready", "default")
    assert f.evidence[0].field == "endpoints[0].conditions"
    assert f.evidence[0].value.endswith("ready=false, serving=false, terminating=false")


def test_one_ready_endpoint_is_enough():
    svc = service("shop", "web", {"app": "web"})
    slices = [
        endpoint_slice(
            "shop",
            "web",
            [ep("10.244.1.5", "web-1", ready=False), ep("10.244.1.6", "web-2")],
        )
    ]
    pods = [web_pod(ready=False), web_pod("web-2", "10.244.1.6")]
    d = diagnose(cluster(svc, pods, slices))
    assert outcome(d, "service-endpoints-not-ready").status is CheckStatus.OK


def test_an_unset_ready_condition_counts_as_ready_as_the_api_says():
    svc = service("shop", "web", {"app": "web"})
    e = ep("10.244.1.5", "web-1")
    e["conditions"] = {}
    d = diagnose(cluster(svc, [web_pod()], [endpoint_slice("shop", "web", [e])]))
    assert outcome(d, "service-endpoints-not-ready").status is CheckStatus.OK


def test_every_endpoint_terminating_is_its_own_variant():
    svc = service("shop", "web", {"app": "web"})
    e = ep("10.244.1.5", "web-1", ready=False, serving=True, terminating=True)
    d = diagnose(cluster(svc, [web_pod()], [endpoint_slice("shop", "web", [e])]))
    f = next(r.finding for r in d.findings if r.finding.id == "service-endpoints-not-ready")
    assert f.variant == "terminating"


# --- NET-803 -----------------------------------------------------------------------------------


def test_a_numeric_targetport_no_container_declares_gets_the_declared_port_as_fix():
    svc = service("shop", "web", {"app": "web"}, target_port=80)
    slices = [endpoint_slice("shop", "web", [ep("10.244.1.5", "web-1")], ports=(("http", 80),))]
    d = diagnose(cluster(svc, [web_pod()], slices))
    f = d.findings[0].finding
    assert (f.id, f.variant) == ("service-targetport-mismatch", "default")
    assert f.params["suggested"] == "8080"
    assert f.fix[0].command.endswith(
        '[{"op":"replace","path":"/spec/ports/0/targetPort","value":8080}]\''
    )


def test_the_patch_names_the_index_of_the_port_asked_about():
    svc = service("shop", "web", {"app": "web"})
    svc["spec"]["ports"] = [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9100},
    ]
    d = diagnose(cluster(svc, [web_pod()], port=9090))
    f = d.findings[0].finding
    assert f.params["index"] == "1"
    assert '"path":"/spec/ports/1/targetPort"' in f.fix[0].command


def test_a_named_targetport_resolves_against_the_container_port_names():
    svc = service("shop", "web", {"app": "web"}, target_port="http")
    assert ids(diagnose(cluster(svc, [web_pod()]))) == []
    d = diagnose(cluster(svc, [web_pod(pname="web")]))
    f = d.findings[0].finding
    assert (f.id, f.variant, f.params["suggested"]) == (
        "service-targetport-mismatch",
        "named",
        "8080",
    )


def test_pods_that_declare_no_port_leave_a_numeric_targetport_undecided():
    svc = service("shop", "web", {"app": "web"})
    p = pod("shop", "web-1", "b", "10.244.1.5", labels={"app": "web"}, containers=[WEB])
    d = diagnose(cluster(svc, [p]))
    o = outcome(d, "service-targetport-mismatch")
    assert o.status is CheckStatus.OK
    assert [n.key for n in o.notes] == ["note.service_no_container_ports"]


# --- NET-804 -----------------------------------------------------------------------------------

KP = {"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.28.6"}
KP_OWNER = ("DaemonSet", "kube-proxy", "uid-ds-kube-proxy")


def kube_proxy_pod(node_name, ip, *, ready=True, restarts=0, waiting=None):
    return pod(
        "kube-system",
        f"kube-proxy-{node_name}",
        node_name,
        ip,
        host_network=True,
        owner=KP_OWNER,
        containers=[KP],
        ready=ready,
        restarts=restarts,
        waiting=waiting,
        labels={"k8s-app": "kube-proxy"},
    )


def kube_proxy_cluster(a_pod, *, configmaps=None, to="svc/shop/web"):
    svc = service("shop", "web", {"app": "web"})
    slices = [endpoint_slice("shop", "web", [ep("10.244.1.5", "web-1")])]
    pods = [kube_proxy_pod("b", "10.0.0.2")]
    if a_pod is not None:
        pods.append(a_pod)
    return cluster(
        svc,
        [web_pod()],
        slices,
        to=to,
        extra_pods=pods,
        daemonsets=[daemonset("kube-system", "kube-proxy", KP)],
        configmaps=configmaps,
    )


def test_kube_proxy_crashing_on_the_clients_node_is_found():
    d = diagnose(
        kube_proxy_cluster(
            kube_proxy_pod(
                "a", "10.0.0.1", ready=False, restarts=6, waiting=("CrashLoopBackOff", "back-off")
            )
        )
    )
    f = d.findings[0].finding
    assert (f.id, f.variant, f.params["node"]) == ("kube-proxy-unhealthy", "not_ready", "a")
    assert f.fix[1].command == "kubectl -n kube-system delete pod kube-proxy-a"


def test_kube_proxy_missing_on_the_clients_node_is_found():
    d = diagnose(kube_proxy_cluster(None))
    f = d.findings[0].finding
    assert (f.id, f.variant, f.nodes) == ("kube-proxy-unhealthy", "missing", ("a",))


def _cilium_cluster(replacement: str):
    """The kube-proxy question's cluster, with a Cilium agent on the client's node instead of
    kube-proxy, and cilium-config saying whether it replaces kube-proxy."""
    agent = pod(
        "kube-system",
        "cilium-x1",
        "a",
        "10.0.0.1",
        host_network=True,
        owner=("DaemonSet", "cilium", "uid-ds-cilium"),
        containers=[{"name": "cilium-agent", "image": "quay.io/cilium/cilium:v1.15.6"}],
    )
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cilium-config", "namespace": "kube-system"},
        "data": {"kube-proxy-replacement": replacement},
    }
    snap = kube_proxy_cluster(agent, configmaps=[cm])
    cilium_ds = daemonset(
        "kube-system",
        "cilium",
        {"name": "cilium-agent", "image": "quay.io/cilium/cilium:v1.15.6"},
        labels={"k8s-app": "cilium"},
    )
    extra = msgspec.convert([cilium_ds], list[DaemonSet])
    return dataclasses.replace(snap, daemonsets=(*(snap.daemonsets or ()), *extra))


def test_kube_proxy_is_not_judged_when_cilium_replaces_it():
    assert kube_proxy_replaced(_cilium_cluster("true")) is True
    d = diagnose(_cilium_cluster("true"))
    assert "kube-proxy-unhealthy" not in {o.check_id for o in d.outcomes}


def test_kube_proxy_missing_beside_a_cilium_that_does_not_replace_it_is_found():
    d = diagnose(_cilium_cluster("false"))
    f = d.findings[0].finding
    assert (f.id, f.variant, f.nodes) == ("kube-proxy-unhealthy", "missing", ("a",))


def test_the_kube_proxy_mode_comes_from_its_configmap_and_empty_means_iptables():
    def cm(mode):
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "data": {
                "config.conf": f"kind: KubeProxyConfiguration\nmode: {mode}\nudpIdleTimeout: 0s\n"
            },
        }

    bad = kube_proxy_pod("a", "10.0.0.1", ready=False, waiting=("CrashLoopBackOff", ""))
    for mode, name in (('""', "iptables"), ("ipvs", "ipvs")):
        d = diagnose(kube_proxy_cluster(bad, configmaps=[cm(mode)]))
        assert d.findings[0].finding.params["mode"] == name


# --- NET-805 -----------------------------------------------------------------------------------

DNS = {"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.10.1"}


def coredns(name, *, ready=True, waiting=None):
    return pod(
        "kube-system",
        name,
        "a",
        "10.244.0.2" if name.endswith("x") else "10.244.0.3",
        labels={"k8s-app": "kube-dns"},
        containers=[DNS],
        ready=ready,
        waiting=waiting,
    )


def dns_cluster(*dns_pods, logs=None):
    return snapshot(
        nodes=[node("a", "10.0.0.1")],
        pods=list(dns_pods),
        services=[
            service("kube-system", "kube-dns", {"k8s-app": "kube-dns"}, cluster_ip="10.96.0.10")
        ],
        logs=logs,
    )


def test_no_ready_coredns_pod_is_critical_and_one_of_two_is_a_warning():
    down = coredns("coredns-x", ready=False, waiting=("CrashLoopBackOff", "back-off"))
    d = diagnose(dns_cluster(down, coredns("coredns-y", ready=False)))
    assert (d.findings[0].finding.id, d.findings[0].finding.variant) == (
        "dns-unhealthy",
        "not_ready",
    )
    d = diagnose(dns_cluster(down, coredns("coredns-y")))
    r = d.findings[0]
    assert (r.finding.variant, r.severity.value) == ("degraded", "warning")
    assert r.finding.params["pod"] == "coredns-x"


def test_the_loop_plugins_fatal_line_is_the_loop_variant_quoted_from_the_log():
    line = (
        '[FATAL] plugin/loop: Loop (127.0.0.1:55953 -> :53) detected for zone ".", see'
        ' https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO 1.2."'
    )
    down = coredns("coredns-x", ready=False, waiting=("CrashLoopBackOff", ""))
    d = diagnose(dns_cluster(down, logs={"kube-system/coredns-x/coredns": f".:53\n{line}\n"}))
    f = d.findings[0].finding
    assert f.variant == "loop"
    assert f.evidence[0].value == line
    assert f.evidence[0].source == "logs/kube-system/coredns-x/coredns.log"
    # Without the upstream resolvers in the bundle the Corefile fix keeps a visible placeholder.
    assert "forward . <upstream DNS IP>" in f.fix[1].command


def test_a_cluster_without_any_dns_add_on_is_not_judged():
    d = diagnose(snapshot(nodes=[node("a", "10.0.0.1")], pods=[], services=[]))
    assert "dns-unhealthy" not in {o.check_id for o in d.outcomes}


# --- targets -----------------------------------------------------------------------------------


def corefile_cm(domain):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "data": {
            "Corefile": (
                ".:53 {\n    errors\n    kubernetes "
                f"{domain} in-addr.arpa ip6.arpa {{\n       pods insecure\n    }}\n"
                "    forward . /etc/resolv.conf\n}\n"
            )
        },
    }


@pytest.mark.parametrize(
    "name",
    ["web", "web.shop", "web.shop.svc", "web.shop.svc.corp.example", "WEB.shop.svc.corp.example."],
)
def test_dns_names_resolve_to_the_service_with_the_corefiles_cluster_domain(name):
    svc = service("shop", "web", {"app": "web"})
    snap = snapshot(services=[svc], pods=[], configmaps=[corefile_cm("corp.example")])
    e = resolve_endpoint(snap, name, "--to", namespace="shop")
    assert (e.kind, e.service.ref, e.ip, e.dns_name) == (
        "service",
        "shop/web",
        "10.96.143.27",
        name.lower().rstrip("."),
    )


def test_a_full_service_name_that_does_not_exist_is_a_usage_error_and_others_stay_names():
    snap = snapshot(services=[], pods=[], configmaps=[corefile_cm("cluster.local")])
    with pytest.raises(UsageError, match=r"no such Service in k8s/services\.json"):
        resolve_endpoint(snap, "web.shop.svc.cluster.local", "--to")
    e = resolve_endpoint(snap, "example.com", "--to")
    assert (e.kind, e.dns_name) == ("dns", "example.com")


def test_a_headless_service_has_no_clusterip_and_its_backends_come_from_selector_and_slices():
    svc = service("shop", "db", {"app": "db"}, cluster_ip="None")
    by_selector = pod("shop", "db-0", "b", "10.244.1.9", labels={"app": "db"})
    by_slice_only = pod("shop", "db-old", "b", "10.244.1.8", labels={"app": "db-old"})
    sl = endpoint_slice(
        "shop", "db", [ep("10.244.1.9", "db-0"), ep("10.244.1.8", "db-old")], ports=None
    )
    snap = snapshot(services=[svc], pods=[by_selector, by_slice_only], endpointslices=[sl])
    e = resolve_endpoint(snap, "svc/shop/db", "--to")
    assert e.ip is None
    assert [p.ref for p in e.backend_pods(snap)] == ["shop/db-0", "shop/db-old"]


def test_a_clusterip_resolves_to_its_service_and_a_node_ip_to_its_node():
    svc = service("shop", "web", {"app": "web"})
    snap = snapshot(services=[svc], pods=[], nodes=[node("a", "10.0.0.1")])
    assert resolve_endpoint(snap, "10.96.143.27", "--to").service.ref == "shop/web"
    assert resolve_endpoint(snap, "10.0.0.1", "--to").node.metadata.name == "a"


# --- the walk ----------------------------------------------------------------------------------


def test_the_walk_lists_each_step_with_its_checks_verdict():
    svc = service("shop", "web", {"app": "web"})
    slices = [endpoint_slice("shop", "web", [ep("10.244.1.5", "web-1", ready=False)])]
    d = diagnose(cluster(svc, [web_pod(ready=False)], slices, to="web.shop"))
    assert [(w.step, w.status) for w in d.walk] == [
        # no DNS add-on, and no networkpolicies file for the DNS-policy check: not a pass
        ("dns", "skipped"),
        ("service", "ok"),
        ("selector", "ok"),
        ("endpoints", "failed"),
        ("target-port", "ok"),
        ("kube-proxy", "not-checked"),
        ("policy", "skipped"),  # the backends' policies cannot be read without that file
    ]
    assert d.walk[3].detail.params == {"ready": "0", "total": "1"}


def test_an_externalname_service_ends_the_walk_after_the_service_step():
    ext = service("shop", "web", {}, cluster_ip="", externalName="db.example.com")
    ext["spec"]["type"] = "ExternalName"
    d = diagnose(cluster(ext, [web_pod()]))
    assert [w.step for w in d.walk] == ["service"]
    assert d.walk[0].detail.key == "walk.service_external"


def test_a_pod_target_has_no_walk():
    d = diagnose(cluster(service("shop", "web", {"app": "web"}), [web_pod()], to="shop/web-1"))
    assert d.walk == ()


def test_a_node_address_on_a_nodeport_is_a_question_about_that_service():
    svc = service("shop", "web", {"app": "nothing"})
    svc["spec"]["type"] = "NodePort"
    svc["spec"]["ports"][0]["nodePort"] = 30309
    d = diagnose(cluster(svc, [web_pod()], to="10.0.0.2", port=30309))
    assert (d.target.kind, d.target.service.ref) == ("node", "shop/web")
    assert "service-no-endpoints" in ids(d)
    other_port = diagnose(cluster(svc, [web_pod()], to="10.0.0.2", port=30310))
    assert other_port.target.service is None
    assert other_port.walk == ()
