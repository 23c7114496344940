"""What the Service path checks share: Service and pod-readiness evidence, selector text.

Checks layer: pure functions over the Snapshot.
"""

from __future__ import annotations

from netdoctor.checks._support.common import pod_evidence, waiting_evidence, warning_event_evidence
from netdoctor.checks._support.registry import Context
from netdoctor.model.findings import Evidence
from netdoctor.model.k8s import Pod, Service

__all__ = ["readiness_evidence", "selector_text", "service_evidence"]


def selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def service_evidence(ctx: Context, svc: Service, field: str, value: str) -> Evidence:
    return Evidence(
        source=ctx.snapshot.source("k8s.services"),
        object=f"Service/{svc.ref}",
        field=field,
        value=value,
    )


def readiness_evidence(ctx: Context, pod: Pod) -> list[Evidence]:
    snap = ctx.snapshot
    ev: list[Evidence] = []
    for cond in pod.status.conditions:
        if cond.type == "Ready" and cond.status != "True":
            text = " ".join(x for x in (cond.status, cond.reason, cond.message) if x)
            ev.append(pod_evidence(snap, pod, "status.conditions[Ready]", text[:300]))
    ev += waiting_evidence(snap, pod)
    ev += warning_event_evidence(snap, pod)
    return ev
