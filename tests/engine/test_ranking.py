"""How the engine ranks causes: what the client saw (the symptom) and the step on the way to a
Service. The knowledge comes from the catalog entries (tests/catalog/test_ranking_keys.py)."""

from __future__ import annotations

import msgspec

from netdoctor.checks._support.endpoints import Endpoint
from netdoctor.checks.workload import Symptom
from netdoctor.engine import service_walk_order, symptom_rank, walk_rank

SERVICE_WALK = service_walk_order()[0]


def test_refused_points_at_the_listener_and_timeout_rules_it_out():
    assert symptom_rank(Symptom.REFUSED, "target-not-listening") == 0
    assert symptom_rank(Symptom.REFUSED, "node-ip-forward-disabled") == 1
    assert symptom_rank(Symptom.TIMEOUT, "target-not-listening") == 2
    assert symptom_rank(None, "target-not-listening") == 1
    assert symptom_rank(Symptom.DNS, "dns-unhealthy") == 0


def test_the_walk_orders_a_service_questions_steps_and_counts_dns_only_for_a_name():
    from netdoctor.model.k8s import Service

    svc = msgspec.convert({"metadata": {"name": "web", "namespace": "shop"}}, Service)
    by_ref = Endpoint(raw="svc/shop/web", kind="service", service=svc)
    by_name = Endpoint(raw="web", kind="service", service=svc, dns_name="web")
    order = [walk_rank(i, by_name) for i in SERVICE_WALK]
    assert order == list(range(len(SERVICE_WALK)))
    assert walk_rank("dns-unhealthy", by_name) < walk_rank("service-no-endpoints", by_name)
    assert walk_rank("dns-unhealthy", by_ref) == len(SERVICE_WALK)
    assert walk_rank("service-no-endpoints", None) == len(SERVICE_WALK)
