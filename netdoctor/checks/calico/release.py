"""Calico root cause NET-305: the Calico release is not tested with this Kubernetes.

Checks layer: pure functions over the Snapshot and the packaged compatibility table
(``netdoctor.catalog.compat``). Advisory: an unknown version is a note, never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from netdoctor.catalog.compat import calico_release, minor_of
from netdoctor.checks._support.oddone import odd_one_out
from netdoctor.checks._support.registry import Context, Note, Yielded, check
from netdoctor.model.findings import Action, Evidence, Finding, Message, Severity, Subject

__all__ = ["version_unsupported"]


def _node_images(ctx: Context) -> dict[str, str]:
    agent = ctx.cni.agent("calico")
    out: dict[str, str] = {}
    if agent is None:
        return out
    for pod in agent.pods:
        for c in pod.spec.containers:
            if c.name == agent.agent.container and pod.spec.node_name:
                out[pod.spec.node_name] = c.image
    return out


@check("calico-version-unsupported", code="NET-305", cni=("calico",))
def version_unsupported(ctx: Context) -> Iterator[Yielded]:
    # Advisory: a missing version is a note, not a skip, so it never makes a reachability
    # answer inconclusive on its own. A node whose calico-node runs another image than its
    # peers is always said: on the finding when there is one, else as a note of its own.
    agent = ctx.cni.agent("calico")
    odd = odd_one_out(_node_images(ctx))
    odd_note = odd.note("agent_image", agent=agent.name) if odd and agent else None
    finding = None
    for item in _version_verdict(ctx):
        if isinstance(item, Finding):
            finding = item
        else:
            yield item
    if finding is not None:
        yield msgspec.structs.replace(finding, notes=(odd_note,) if odd_note else ())
    elif odd_note is not None:
        yield Note(odd_note)


def _version_verdict(ctx: Context) -> Iterator[Finding | Note]:
    snap = ctx.snapshot
    agent = ctx.cni.agent("calico")
    server = snap.version.server_version if snap.version else None
    k8s = minor_of(server.git_version) if server and server.git_version else None
    if agent is None or agent.version is None or k8s is None:
        what = snap.source("k8s.version") if k8s is None else snap.source("k8s.daemonsets")
        yield Note(Message("note.calico_version_unknown", {"path": what}))
        return
    version = agent.version
    row = calico_release(version)
    kube = f"{k8s[0]}.{k8s[1]}"
    if row is None:
        yield Note(Message("note.calico_release_unknown", {"version": version, "k8s": kube}))
        return
    tested = ", ".join(f"{a}.{b}" for a, b in row.tested)
    params = {"version": version, "k8s": kube, "tested": tested, "url": row.url}
    lo, hi = row.tested[0], row.tested[-1]
    if lo <= k8s <= hi:
        return
    if row.broken_at_or_below is not None and k8s <= row.broken_at_or_below:
        variant, severity = "will_not_work", Severity.CRITICAL
    elif k8s < lo:
        variant, severity = "older", Severity.WARNING
    elif k8s[1] - hi[1] >= 3 and k8s[0] == hi[0]:
        # Kubernetes removes beta APIs three minors after deprecating them: past the tested
        # window by three or more, the APIs the release was built against may be gone.
        variant, severity = "default", Severity.WARNING
    else:
        yield Note(Message("note.calico_release_untested", params))
        return
    c = agent.container
    image = c.image if c is not None else version
    ev = [
        Evidence(
            source=snap.source("k8s.daemonsets" if agent.daemonset else "k8s.pods"),
            object=f"DaemonSet/{agent.namespace}/{agent.name}",
            field=f"spec.template.spec.containers[{agent.agent.container}].image",
            value=image,
        ),
        Evidence(
            source=snap.source("k8s.version"),
            object="Version/server",
            field="serverVersion.gitVersion",
            value=server.git_version if server else "",
        ),
        Evidence(source=row.url, object=f"Calico/{row.release}", field="tested", value=tested),
    ]
    target = _release_for(k8s)
    fix = _upgrade_fix(ctx, params, target)
    yield Finding(
        id="calico-version-unsupported",
        subject=Subject(kind="DaemonSet", name=agent.name, namespace=agent.namespace),
        variant=variant,
        params={**params, "target": target or ""},
        evidence=tuple(ev),
        fix=fix,
        verify=(
            Action(
                message=Message("verify.calico_version", {"k8s": kube, "daemonset": agent.name}),
                command=f"kubectl -n {agent.namespace} rollout status daemonset/{agent.name}",
            ),
        ),
        severity=severity,
    )


def _upgrade_fix(ctx: Context, params: dict[str, str], target: str | None) -> tuple[Action, ...]:
    agent = ctx.cni.agent("calico")
    if target is None or agent is None:
        ns = agent.namespace if agent else "kube-system"
        name = agent.name if agent else "calico-node"
        return (
            Action(
                message=Message("fix.calico_upgrade_unknown", params),
                command=(
                    f"kubectl -n {ns} get daemonset {name}"
                    " -o jsonpath='{.spec.template.spec.containers[*].image}'"
                ),
            ),
        )
    manifest = "tigera-operator.yaml" if ctx.cni.calico_operator else "calico.yaml"
    url = f"https://raw.githubusercontent.com/projectcalico/calico/{target}.0/manifests/{manifest}"
    return (
        Action(
            message=Message(
                "fix.calico_upgrade_operator" if ctx.cni.calico_operator else "fix.calico_upgrade",
                {**params, "target": target},
            ),
            command=f"curl -fLO {url}",
        ),
    )


def _release_for(k8s: tuple[int, int]) -> str | None:
    """The newest Calico release in the table tested against this Kubernetes minor."""
    best = None
    for minor in range(40, 10, -1):
        row = calico_release(f"3.{minor}")
        if row is not None and k8s in row.tested:
            best = f"v{row.release}"
            break
    return best
