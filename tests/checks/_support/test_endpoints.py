"""``--from``/``--to`` names without a namespace, read as kubectl reads them (issue #12 item 10).

A bare name is looked up in the namespace (``default``, or the asking pod's for ``--to``): a
pod for ``--from``; a Service first, then a pod, for ``--to``. A bare name that is neither is
refused (exit status 2) naming the closest pods, never taken silently as a name outside the
cluster (which made ``diagnose --from nosuchpod`` say HEALTHY).
"""

from __future__ import annotations

import pytest
from builders import node, pod, snapshot

from netdoctor.checks._support.endpoints import resolve_endpoint
from netdoctor.errors import UsageError

SVC = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop", "uid": "uid-svc-web"},
    "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.143.27", "ports": [{"port": 80}]},
}


def world(services=None):  # type: ignore[no-untyped-def]
    return snapshot(
        nodes=[node("n1", "10.0.0.1")],
        pods=[
            pod("default", "netdebug04", "n1", "10.244.0.4"),
            pod("default", "netdebug05", "n1", "10.244.0.5"),
            pod("shop", "web-0", "n1", "10.244.0.9"),
            pod("shop", "web", "n1", "10.244.0.10"),
        ],
        services=[SVC] if services is None else services,
    )


def test_a_bare_source_name_is_the_pod_of_that_name_in_default() -> None:
    e = resolve_endpoint(world(), "netdebug04", "--from")
    assert (e.kind, e.pod.ref if e.pod else None, e.ip) == (
        "pod",
        "default/netdebug04",
        "10.244.0.4",
    )


def test_a_bare_source_name_no_pod_has_is_refused_naming_the_closest_pods() -> None:
    with pytest.raises(UsageError) as e:
        resolve_endpoint(world(), "netdbug04", "--from")
    assert e.value.exit_status == 2
    assert str(e.value) == (
        "--from 'netdbug04': no Pod default/netdbug04 in k8s/pods.json"
        " (closest: default/netdebug04, default/netdebug05)"
    )


def test_a_bare_name_far_from_every_pod_says_there_is_no_close_one() -> None:
    with pytest.raises(UsageError, match=r"no Pod default/nosuchpod .*\(closest: -\)"):
        resolve_endpoint(world(), "nosuchpod", "--from")


def test_a_bare_target_is_the_service_first_then_a_pod_in_the_asking_namespace() -> None:
    snap = world()
    assert resolve_endpoint(snap, "web", "--to", namespace="shop").kind == "service"
    e = resolve_endpoint(snap, "web-0", "--to", namespace="shop")
    assert (e.kind, e.pod.ref if e.pod else None) == ("pod", "shop/web-0")
    with pytest.raises(UsageError, match=r"--to 'web-1': no Pod shop/web-1 .*closest: shop/web"):
        resolve_endpoint(snap, "web-1", "--to", namespace="shop")


def test_without_the_pods_file_a_bare_source_stays_unresolved_and_names_stay_dns() -> None:
    snap = snapshot(nodes=[node("n1", "10.0.0.1")])
    assert resolve_endpoint(snap, "netdebug04", "--from").kind == "unresolved"
    assert resolve_endpoint(snap, "web", "--to").kind == "dns"


def test_a_dotted_name_is_still_a_dns_name() -> None:
    e = resolve_endpoint(world(), "example.com", "--to")
    assert (e.kind, e.dns_name) == ("dns", "example.com")
