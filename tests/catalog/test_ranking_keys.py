"""The symptom and Service-walk knowledge lives in each cause's catalog entry (``symptoms:``,
``serviceStep:``), not in engine tables. These literals are the tables the engine had before:
the catalog must give exactly them, so the move changed no ranking."""

from __future__ import annotations

import pytest

from netdoctor.catalog import (  # the entry parsers, for the errors
    Catalog,
    _service_step,
    _symptoms,
    load_catalog,
    service_steps,
)

CAT = load_catalog()

SERVICE_WALK = (
    "dns-unhealthy",
    "networkpolicy-blocks-dns",
    "service-no-endpoints",
    "service-endpoints-not-ready",
    "service-targetport-mismatch",
    "kube-proxy-unhealthy",
    "networkpolicy-denies",
)
DNS_STEPS = {"dns-unhealthy", "networkpolicy-blocks-dns"}
SYMPTOM_FIRST = {
    "refused": {
        "target-not-listening",
        "service-targetport-mismatch",
        "service-no-endpoints",
        "service-endpoints-not-ready",
    },
    "timeout": set(),
    "host-unreachable": {
        "networkpolicy-denies",
        "node-missing-pod-route",
        "overlay-fdb-missing",
        "pod-not-ready",
    },
    "net-unreachable": {"pod-not-ready", "node-missing-pod-route"},
    "dns-failure": {"dns-unhealthy", "networkpolicy-blocks-dns", "kube-proxy-unhealthy"},
}
SYMPTOM_RULES_OUT = {"timeout": {"target-not-listening"}}


def test_the_service_walk_comes_from_the_catalog_in_the_engines_old_order() -> None:
    walk = service_steps(CAT)
    assert tuple(cause for cause, _ in walk) == SERVICE_WALK
    assert {cause for cause, step in walk if step.step == "dns"} == DNS_STEPS


@pytest.mark.parametrize("symptom", sorted(SYMPTOM_FIRST))
def test_what_each_symptom_points_at_and_rules_out_comes_from_the_catalog(symptom: str) -> None:
    first = {e.id for e in CAT.entries.values() if e.symptoms.get(symptom) == "first"}
    out = {e.id for e in CAT.entries.values() if e.symptoms.get(symptom) == "rules-out"}
    assert first == SYMPTOM_FIRST[symptom]
    assert out == SYMPTOM_RULES_OUT.get(symptom, set())


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"refussed": "first"}, "unknown symptom 'refussed'"),
        ({"refused": "last"}, "symptoms.refused: 'last' is not first or rules-out"),
        (["refused"], "symptoms must map a symptom to first or rules-out"),
    ],
)
def test_a_misspelt_symptom_key_is_a_load_error_naming_the_entry(raw: object, problem: str) -> None:
    with pytest.raises(ValueError, match=r"catalog rootcauses/x\.yaml: x-id") as e:
        _symptoms(raw, "rootcauses/x.yaml: x-id")
    assert problem in str(e.value)


@pytest.mark.parametrize(
    "raw", [{"step": "selectr", "order": 3}, {"step": "dns"}, {"step": "dns", "order": "1"}]
)
def test_a_bad_service_step_is_a_load_error(raw: object) -> None:
    with pytest.raises(ValueError, match="serviceStep must be"):
        _service_step(raw, "rootcauses/x.yaml: x-id")


def test_two_causes_on_one_step_order_are_refused() -> None:
    a, b = CAT.entries["dns-unhealthy"], CAT.entries["networkpolicy-blocks-dns"]
    clash = Catalog(
        {
            a.id: a,
            "other": b.__class__(
                **{**b.__dict__, "id": "other", "service_step": a.service_step, "messages": {}}
            ),
        },
        {},
    )
    with pytest.raises(ValueError, match="share a serviceStep order"):
        service_steps(clash)
