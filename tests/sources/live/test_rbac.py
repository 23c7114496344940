"""deploy/rbac.yaml: valid Kubernetes RBAC that grants each mode exactly what the code uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from netdoctor.sources.live.permissions import MODES

RBAC = Path(__file__).resolve().parents[3] / "deploy" / "rbac.yaml"

# mode -> the Roles / ClusterRoles that carry it
ROLES = {
    "read-only": ("netdoctor-read", "netdoctor-read-configmaps"),
    "node-facts": ("netdoctor-node-facts", "netdoctor-exec-cni-agent"),
    "probes": ("netdoctor-probe",),
}


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC.read_text()) if d]


def grants(docs: list[dict[str, Any]], names: tuple[str, ...]) -> set[tuple[str, str, str, str]]:
    out = set()
    for d in docs:
        if d["kind"] in ("Role", "ClusterRole") and d["metadata"]["name"] in names:
            scope = "cluster" if d["kind"] == "ClusterRole" else "namespace"
            for rule in d["rules"]:
                for verb in rule["verbs"]:
                    for url in rule.get("nonResourceURLs", ()):
                        out.add(("", url, verb, "nonResource"))
                    for group in rule.get("apiGroups", ()):
                        for res in rule.get("resources", ()):
                            out.add((group, res, verb, scope))
    return out


def test_every_document_is_well_formed(docs):
    kinds = {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    }
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for d in docs:
        assert d["kind"] in kinds
        assert d["apiVersion"] == (
            "v1" if d["kind"] in ("Namespace", "ServiceAccount") else "rbac.authorization.k8s.io/v1"
        )
        if d["kind"].endswith("Binding"):
            ref = d["roleRef"]
            assert (ref["kind"], ref["name"]) in names, ref
            if d["kind"] == "RoleBinding":
                role = next(
                    r
                    for r in docs
                    if r["kind"] == ref["kind"] and r["metadata"]["name"] == ref["name"]
                )
                if ref["kind"] == "Role":
                    assert role["metadata"]["namespace"] == d["metadata"]["namespace"]
            for s in d["subjects"]:
                assert ("ServiceAccount", s["name"]) in names


@pytest.mark.parametrize("mode", sorted(MODES))
def test_each_mode_grants_exactly_what_the_code_uses(docs, mode):
    assert grants(docs, ROLES[mode]) == set(MODES[mode])


def test_read_only_never_writes_and_nothing_reads_secrets(docs):
    read = grants(docs, ROLES["read-only"])
    assert {verb for _, _, verb, _ in read} == {"get", "list"}
    for d in docs:
        for rule in d.get("rules", ()):
            assert "secrets" not in rule.get("resources", ())
            assert "*" not in rule.get("resources", ())
            assert "*" not in rule["verbs"]


def used_permissions(calls) -> set[tuple[str, str, str]]:
    """(API group, resource, verb) of every request the stand-in saw."""
    from netdoctor.sources.live.api import API_PATHS

    lists = {}
    for path, rbac in API_PATHS.values():
        resource, _, group = rbac.partition(".")
        lists[path] = (group, resource)
    out = set()
    for key in calls:
        method, _, path = key.partition(" ") if " " in key else ("GET", "", key)
        parts = path.strip("/").split("/")
        if path == "/version":
            out.add(("", "/version", "get"))
        elif method == "GET" and path in lists:
            out.add((*lists[path], "list"))
        elif parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "configmaps":
            out.add(("", "configmaps", "list"))
        elif parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            sub = parts[6] if len(parts) > 6 else ""
            if sub == "exec":
                out.add(("", "pods/exec", "create"))
            elif sub == "ephemeralcontainers":
                out.add(("", "pods/ephemeralcontainers", method.lower()))
            elif method == "GET":
                out.add(("", "pods", "get" if len(parts) > 5 else "list"))
            else:
                out.add(("", "pods", {"POST": "create", "DELETE": "delete"}[method]))
        else:
            raise AssertionError(f"unexpected call {key}")
    return out


def granted(*modes: str) -> set[tuple[str, str, str]]:
    return {(g, r, v) for m in modes for g, r, v, _ in MODES[m]}


def test_the_calls_each_mode_makes_are_the_ones_granted(calico, capsys):
    from test_collect import run

    api, kc = calico
    run(capsys, "diagnose", "--kubeconfig", str(kc), "-o", "json")
    assert used_permissions(api.calls) <= granted("read-only")
    assert ("", "pods", "list") in used_permissions(api.calls)
    # node facts with debug pods, and probes through an ephemeral container
    api.objects["pods"] = [
        (ns, raw) for ns, raw in api.objects["pods"] if b"calico-node" not in raw
    ]
    api.probe_replies.update({"ping": "ping-ok", "nc": "nc-ok"})
    q = ("--from", "default/netdebug04", "--to", "default/netdebug05", "--port", "22/tcp")
    api.calls.clear()
    run(capsys, "diagnose", "--kubeconfig", str(kc), "--node-facts", "-o", "json", *q)
    used = used_permissions(api.calls)
    assert used - granted("read-only") <= granted("node-facts")
    assert ("", "pods", "create") in used
    api.calls.clear()
    run(capsys, "diagnose", "--kubeconfig", str(kc), "--probe", "-o", "json", *q)
    used = used_permissions(api.calls)
    # the leftover sweep lists netdoctor's namespace (the node-facts Role)
    assert used - granted("read-only") <= granted("probes", "node-facts")
    assert ("", "pods/ephemeralcontainers", "patch") in used
