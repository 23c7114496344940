"""Probes, live (``--probe``): ping, TCP connect, DNS lookup and path MTU from the source pod.

sources layer. The probes run inside the source pod's own network namespace through an
ephemeral debug container (``PATCH pods/<pod>/ephemeralcontainers``, image configurable,
default ``nicolaka/netshoot``), then exec into it. When ephemeral containers are refused (RBAC,
an old cluster, admission), a probe pod pinned to the source pod's node stands in, as in the
manual reproduction with two netshoot pods; its records name the node as their source (and the
probe pod in ``detail``), since it is not the source pod's network namespace. Probe pods are
labelled and deleted like debug pods; an ephemeral container cannot be removed, so it runs
``sleep`` for a bounded time and stops by itself.

Results are the bundle's ``probes/<name>.json`` records (bundle-format.md), parsed by
``parsers.probe_output``; they reach the Snapshot and ``collect`` exactly as a bundle's do.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

from netdoctor.model.snapshot import InputNote, Question, Snapshot
from netdoctor.parsers.probe_output import Measured, parse_dig, parse_nc, parse_ping
from netdoctor.sources.live.nodes import DEFAULT_IMAGE, DEFAULT_NAMESPACE, NodeCollector

__all__ = ["PlannedProbe", "ProbeRunner", "plan_probes"]

_PARSE: Final = {"icmp": parse_ping, "pmtu": parse_ping, "tcp": parse_nc, "dns": parse_dig}


@dataclass(frozen=True)
class PlannedProbe:
    name: str
    kind: str
    argv: tuple[str, ...]
    to: dict[str, Any]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")[:60]


def plan_probes(snap: Snapshot, question: Question, size: int) -> list[PlannedProbe]:
    """What to measure for the question: ping and path MTU to an IP, TCP connect to IP:port,
    a DNS lookup of a Service or a name. ``size`` is the IP packet size for the MTU probe."""
    to = question.to or ""
    ip: str | None = None
    dns: str | None = None
    end: dict[str, Any] = {}
    if to.startswith("svc/") and to.count("/") == 2:
        _, ns, name = to.split("/")
        svc = snap.service_by_ref.get(f"{ns}/{name}")
        if svc is not None and svc.spec.cluster_ip not in (None, "", "None"):
            ip = svc.spec.cluster_ip
        dns = f"{name}.{ns}.svc"
        end = {"service": f"{ns}/{name}"}
    elif to.count("/") == 1 and to in snap.pod_by_ref:
        pod = snap.pod_by_ref[to]
        ip = pod.ips[0] if pod.ips else None
        end = {"pod": to}
    elif re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", to):
        ip, end = to, {"ip": to}
    elif to:
        dns, end = to, {"ip": to}
    src = _slug((question.from_ or "").replace("/", "-"))
    dst = _slug(to.replace("/", "-"))
    out: list[PlannedProbe] = []
    is_service = "service" in end
    if ip and not is_service:
        out.append(
            PlannedProbe(
                f"{src}--{dst}-icmp", "icmp", ("ping", "-c", "3", "-W", "2", ip), {**end, "ip": ip}
            )
        )
        payload = str(max(size - 28, 0))
        out.append(
            PlannedProbe(
                f"{src}--{dst}-pmtu",
                "pmtu",
                ("ping", "-M", "do", "-s", payload, "-c", "3", "-W", "2", ip),
                {**end, "ip": ip},
            )
        )
    if ip and question.port and question.protocol == "TCP":
        port = str(question.port)
        out.append(
            PlannedProbe(
                f"{src}--{dst}-tcp",
                "tcp",
                ("nc", "-z", "-v", "-w", "3", ip, port),
                {**end, "ip": ip, "port": question.port, "protocol": "TCP"},
            )
        )
    if dns:
        out.append(
            PlannedProbe(
                f"{src}--{dst}-dns", "dns", ("dig", "+search", "+time=2", "+tries=1", dns), end
            )
        )
    return out


class ProbeRunner(NodeCollector):
    """Runs planned probes from a pod; ``created`` holds fallback probe pods not yet deleted."""

    def __init__(
        self,
        api_client: Any,
        *,
        image: str = DEFAULT_IMAGE,
        namespace: str = DEFAULT_NAMESPACE,
        timeout: float = 60.0,
        request_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            api_client,
            namespace=namespace,
            image=image,
            timeout=timeout,
            request_timeout=request_timeout,
        )

    def _ephemeral(self, ns: str, pod: str) -> tuple[str | None, str]:
        """Add an ephemeral container to the pod; (its name once running, or None and why)."""
        name = f"netdoctor-probe-{secrets.token_hex(3)}"
        life = str(int(max(self.timeout * 3, 300)))
        patch = {
            "spec": {
                "ephemeralContainers": [
                    {"name": name, "image": self.image, "command": ["sleep", life]}
                ]
            }
        }
        path = f"/api/v1/namespaces/{ns}/pods/{pod}/ephemeralcontainers"
        status, data = self._patch(path, patch)
        if status != 200:
            return (
                None,
                f"HTTP {status} {data.get('message', '') if isinstance(data, dict) else ''}",
            )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            status, data = self._call("GET", f"/api/v1/namespaces/{ns}/pods/{pod}")
            for st in (data.get("status") or {}).get("ephemeralContainerStatuses") or ():
                if st.get("name") == name and "running" in (st.get("state") or {}):
                    return name, ""
            self._stop.wait(0.5)
        return None, f"ephemeral container {name} not running in {self.timeout:g}s"

    def _patch(self, path: str, body: Any) -> tuple[int, Any]:
        return self._call(
            "PATCH", path, body, content_type="application/strategic-merge-patch+json"
        )

    def _probe_pod(self, node: str) -> str:
        """A probe pod pinned to ``node`` (the pod network, not the host's)."""
        name = f"netdoctor-probe-{node.lower()[:30].rstrip('.-')}-{secrets.token_hex(3)}"
        life = int(max(self.timeout * 3, 300))
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "netdoctor"},
            },
            "spec": {
                "nodeName": node,
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "activeDeadlineSeconds": life,
                "tolerations": [{"operator": "Exists"}],
                "containers": [
                    {"name": "netdoctor", "image": self.image, "command": ["sleep", str(life)]}
                ],
            },
        }
        return self._create_and_wait(name, pod)

    def run(
        self, snap: Snapshot, question: Question, size: int
    ) -> tuple[dict[str, bytes], list[InputNote]]:
        """``probes/<name>.json`` contents, and notes on what could not be probed."""
        records: dict[str, bytes] = {}
        notes: list[InputNote] = []
        src = question.from_ or ""
        pod = snap.pod_by_ref.get(src)
        if pod is None:
            return records, [_note("", "probe_no_source", src=src or "-")]
        planned = plan_probes(snap, question, size)
        if not planned:
            return records, [_note("", "probe_nothing", src=src)]
        ns, name = pod.metadata.namespace, pod.metadata.name
        fallback: str | None = None
        try:
            self.cleanup_leftovers()
            container, why = self._ephemeral(ns, name)
            from_: dict[str, str] = {"pod": src}
            if container is None:
                if not pod.spec.node_name:
                    return records, [_note("", "probe_failed", src=src, detail=why)]
                fallback = self._probe_pod(pod.spec.node_name)
                ns, name, container = self.namespace, fallback, "netdoctor"
                # Not the source pod's namespace: the node it shares, and the pod in the detail.
                from_ = {"node": pod.spec.node_name}
                notes.append(_note("", "probe_fallback", src=src, detail=why, via=fallback))
            for p in planned:
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                out, err, code = self.exec(ns, name, container, p.argv, self.timeout)
                if code is None:
                    m = Measured("timeout", f"no answer from {' '.join(p.argv)} in time")
                else:
                    m = _PARSE[p.kind](
                        out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), code
                    )
                rec = {
                    "from": from_,
                    "to": p.to,
                    "kind": p.kind,
                    "attempts": m.attempts,
                    "succeeded": m.succeeded,
                    "result": m.result,
                    "detail": m.detail
                    if fallback is None
                    else f"{m.detail} (from the probe pod {self.namespace}/{fallback})",
                    "rttMs": m.rtt_ms,
                    "at": at,
                }
                records[p.name] = (json.dumps(rec, indent=2, ensure_ascii=False) + "\n").encode()
        except Exception as e:  # the diagnosis goes on without the probes it could not make
            notes.append(_note("", "probe_failed", src=src, detail=str(e)[:200]))
        finally:
            self.cleanup()
        return records, notes


def _note(file: str, reason: str, **params: str) -> InputNote:
    return InputNote(file=file or "probes/", note="missing", reason=reason, params=params)
