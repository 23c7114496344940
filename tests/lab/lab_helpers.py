"""Shared by the lab tests: which probes failed, grouped the way the fault table states them."""

from __future__ import annotations

from typing import Any


def node_of(pod_ref: str) -> int:
    """``default/pod-n2-1`` -> 2."""
    return int(pod_ref.split("pod-n", 1)[1].split("-", 1)[0])


def failed(records: list[dict[str, Any]], kinds: tuple[str, ...] = ("icmp", "tcp")) -> set[str]:
    return {
        f"{r['from']['pod']}->{r['to']['pod']}:{r['kind']}"
        for r in records
        if r["result"] != "ok" and r["kind"] in kinds
    }


def pairs(records: list[dict[str, Any]], predicate: Any, kinds: tuple[str, ...]) -> set[str]:
    """Every probe whose (source node, destination node, source pod, destination pod) match."""
    return {
        f"{r['from']['pod']}->{r['to']['pod']}:{r['kind']}"
        for r in records
        if r["kind"] in kinds
        and predicate(
            node_of(r["from"]["pod"]), node_of(r["to"]["pod"]), r["from"]["pod"], r["to"]["pod"]
        )
    }
