"""deploy/rbac.yaml: valid Kubernetes RBAC that grants each mode exactly what the code uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from netdoctor.sources.live.permissions import MODES

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"

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
