"""The router: deterministic, explained, negation-aware, calibrated, and it abstains."""

from __future__ import annotations

import pytest

from netdoctor.runbooks.loader import load_runbooks
from netdoctor.runbooks.router import (
    Calibration,
    extract_entities,
    load_calibration,
    normalize,
    route,
)

BOOKS = load_runbooks()


@pytest.mark.parametrize(
    ("text", "expected", "terms"),
    [
        ("跨节点 Pod ping 不通，同节点正常", "cross-node-pod-traffic", {"跨节点", "ping 不通"}),
        ("Cross-node pod ping fails, same node works", "cross-node-pod-traffic", {"cross-node"}),
        ("nginx 无法解析 backend-svc 域名", "dns-resolution", {"解析"}),
        ("nginx cannot resolve the backend-svc domain name", "dns-resolution", {"resolve"}),
        ("curl svc timeout but pod IP works", "pod-to-service", {"svc", "timeout"}),
        ("curl svc 超时，但 pod IP 可以", "pod-to-service", {"svc", "超时"}),
    ],
)
def test_the_issues_three_symptoms_route_in_both_languages_with_their_matched_terms(
    text, expected, terms
):
    r = route(text, BOOKS)
    assert not r.abstained
    assert r.best is not None
    assert r.best.runbook.id == expected
    assert terms <= set(r.best.matched)


def test_an_all_clear_after_a_term_cancels_it_and_is_shown_as_negated():
    r = route("跨节点 Pod ping 不通，同节点正常", BOOKS)
    same = next(m for m in r.matches if m.runbook.id == "same-node-pod-traffic")
    assert "同节点" in same.negated
    assert "同节点" not in same.matched
    assert r.entities.locality == "cross"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("同节点 pod 不通，不是跨节点的问题", "same-node-pod-traffic"),
        (
            "not a cross-node issue: pods on one node cannot reach each other",
            "same-node-pod-traffic",
        ),
        ("两个节点之间的 pod 网络不通，不是 DNS 问题", "cross-node-pod-traffic"),
        ("it's not dns, pod IPs on different nodes just don't answer", "cross-node-pod-traffic"),
    ],
)
def test_a_negation_before_a_term_cancels_it(text, expected):
    r = route(text, BOOKS)
    assert r.best is not None
    assert r.best.runbook.id == expected


def test_cannot_is_a_symptom_not_a_negation():
    r = route("pods cannot resolve names", BOOKS)
    assert r.best is not None
    assert r.best.runbook.id == "dns-resolution"
    assert "resolve" in r.best.matched


def test_english_terms_match_on_word_boundaries_and_chinese_as_substrings():
    svc = next(b for b in BOOKS if b.id == "pod-to-service")
    r = route("backend-svc hangs", [svc])
    # "svc" inside the name "backend-svc" is not the word svc: only the entity counts.
    assert r.matches
    assert "svc" not in r.matches[0].matched
    assert "<service>" in r.matches[0].entity
    r = route("访问svc超时", [svc])
    assert r.matches
    assert {"svc", "超时"} <= set(r.matches[0].matched)


def test_a_typo_one_edit_away_still_matches_and_says_so():
    r = route("calcio cross node pods timeout", BOOKS)
    assert r.best is not None
    assert r.best.runbook.id == "calico-cross-node"
    assert "calico~calcio" in r.best.matched


def test_full_width_input_is_normalised_first():
    assert normalize("ＣＵＲＬ ｓｖｃ　ｔｉｍｅｏｕｔ，ＯＫ") == "curl svc timeout,ok"
    wide = route("ｃｕｒｌ ｓｖｃ ｔｉｍｅｏｕｔ", BOOKS)
    assert wide.best is not None
    assert wide.best.runbook.id == "pod-to-service"


def test_entities_are_pulled_out_of_the_text():
    e = extract_entities(
        normalize(
            "prod/api-7f9 -> 10.244.2.7 via svc/prod/backend on node/worker-2, nodeport 30080, "
            "orders.prod.svc.cluster.local and 8.8.8.8, cidr 10.96.0.0/12, port 8080/tcp"
        )
    )
    assert "prod/api-7f9" in e.pods
    assert e.ips == ("10.244.2.7", "8.8.8.8")
    assert e.cidrs == ("10.96.0.0/12",)
    assert "prod/backend" in e.services
    assert "orders" in e.services
    assert "worker-2" in e.nodes
    assert set(e.ports) >= {30080, 8080}
    assert e.nodeports == (30080,)
    assert e.cluster_domains == ("orders.prod.svc.cluster.local",)
    assert e.public_ips == ("8.8.8.8",)


def test_off_topic_text_abstains_with_no_match():
    r = route("how do I upgrade the helm chart", BOOKS)
    assert r.abstained
    assert r.reason == "no_match"
    assert r.best is None


def test_a_tie_abstains_shows_the_candidates_and_asks_for_the_locality():
    r = route("pods cannot reach each other", BOOKS)
    assert r.abstained
    assert r.reason == "low_confidence"
    ids = {m.runbook.id for m in r.matches[:3]}
    assert {"cross-node-pod-traffic", "same-node-pod-traffic"} <= ids
    assert "locality" in r.ask
    assert "endpoints" in r.ask
    # Naming the locality decides it.
    r2 = route("pods on different nodes cannot reach each other", BOOKS)
    assert r2.best is not None
    assert r2.best.runbook.id == "cross-node-pod-traffic"


def test_confidence_follows_the_margin_and_is_not_a_constant():
    cal = load_calibration()
    assert cal.a > 0
    assert cal.fitted_on > 0
    confidences = {
        route(t, BOOKS).matches[0].confidence
        for t in (
            "跨节点 Pod ping 不通，同节点正常",
            "calico 集群跨节点 pod 不通",
            "kube-proxy 挂了，service 不通",
            "pods cannot reach each other",
        )
    }
    assert len(confidences) >= 3
    assert cal.confidence(2.0) > cal.confidence(0.5) > cal.confidence(0.0)


def test_the_clusters_cni_prefers_its_own_runbook_over_the_generic_one():
    text = "跨节点 Pod ping 不通，同节点正常"
    assert route(text, BOOKS).matches[0].runbook.id == "cross-node-pod-traffic"
    r = route(text, BOOKS, cni=("calico",))
    assert r.best is not None
    assert r.best.runbook.id == "calico-cross-node"
    assert "<cni>" in r.best.entity
    # Runbooks for another CNI are not candidates at all.
    assert all(m.runbook.id != "flannel-cross-node" for m in r.matches)


def test_routing_is_deterministic_and_priority_only_breaks_ties():
    a = route("pods cannot reach each other", BOOKS, calibration=Calibration(threshold=0.0))
    b = route("pods cannot reach each other", BOOKS, calibration=Calibration(threshold=0.0))
    assert a == b
    # the two tie on score; the higher priority (cross-node, 60 > 50) comes first
    assert a.matches[0].score == a.matches[1].score
    assert a.matches[0].runbook.priority > a.matches[1].runbook.priority
