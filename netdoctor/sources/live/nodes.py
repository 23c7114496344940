"""Node facts, live: the bundle's node commands run on the nodes that matter.

sources layer. For each node, the commands of ``bundle-format.md`` (``ip -j -d addr show``,
``ip -j route show table all``, ``sysctl -a``, ``iptables-save``, ...) run by exec over the
API server's websocket (subprotocol ``v4.channel.k8s.io``, through the ``kubernetes``
client's ``WSClient``) in:

1. the CNI agent's own host-network pod on that node (calico-node, kube-flannel,
   kube-ovn-cni, cilium already carry ``ip`` and ``iptables-save``), else
2. a short-lived privileged debug pod pinned to the node (``hostNetwork``, image configurable,
   default ``nicolaka/netshoot``), created in netdoctor's namespace.

Debug pods are finalizer-free: each carries the label ``app.kubernetes.io/managed-by=netdoctor``
and ``activeDeadlineSeconds`` (the kubelet stops it even if netdoctor is killed outright), is
deleted on every exit path (success, failure, Ctrl-C), and any leftover with the label is
deleted when the next run starts. Nodes run concurrently (bounded), each with a timeout; a
node that fails or times out leaves notes, the others stand.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

from netdoctor.model.k8s import Pod
from netdoctor.model.snapshot import InputNote, Snapshot

__all__ = [
    "AGENTS",
    "DEFAULT_IMAGE",
    "DEFAULT_NAMESPACE",
    "MANAGED_BY",
    "NODE_COMMANDS",
    "NodeCollector",
    "NodeResult",
    "agent_pod",
    "question_nodes",
]

# bundle file under nodes/<node>/ -> the command that writes it
NODE_COMMANDS: Final[dict[str, tuple[str, ...]]] = {
    "ip-addr.json": ("ip", "-j", "-d", "addr", "show"),
    "ip-route.json": ("ip", "-j", "route", "show", "table", "all"),
    "ip-rule.json": ("ip", "-j", "rule", "show"),
    "ip-neigh.json": ("ip", "-j", "neigh", "show"),
    "bridge-fdb.json": ("bridge", "-j", "fdb", "show"),
    "sysctl.txt": ("sysctl", "-a"),
    "iptables-save.txt": ("iptables-save",),
}
# `sysctl -a` exits non-zero on keys it may not read (stable_secret): its output stands.
_NONZERO_OK: Final = frozenset({"sysctl.txt"})

# CNI agent DaemonSet name prefix -> the container that has the tools
AGENTS: Final[dict[str, str]] = {
    "calico-node": "calico-node",
    "kube-flannel": "kube-flannel",
    "kube-ovn-cni": "cni-server",
    "cilium": "cilium-agent",
}

DEFAULT_IMAGE: Final = "nicolaka/netshoot"
DEFAULT_NAMESPACE: Final = "netdoctor"
MANAGED_BY: Final = "app.kubernetes.io/managed-by=netdoctor"


@dataclass
class NodeResult:
    node: str
    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[InputNote] = field(default_factory=list)
    via: str = ""  # "ns/pod" the commands ran in


def agent_pod(snap: Snapshot, node: str) -> tuple[Pod, str] | None:
    """The CNI agent's running host-network pod on ``node`` and its tools container."""
    for pod in snap.pods_by_node.get(node, ()):
        if not pod.spec.host_network or pod.status.phase != "Running":
            continue
        owners = [o.name for o in pod.metadata.owner_references if o.kind == "DaemonSet"]
        for owner in owners:
            for prefix, container in AGENTS.items():
                names = [c.name for c in pod.spec.containers]
                if owner.startswith(prefix) and container in names:
                    return pod, container
    return None


class _Stopped(Exception):
    pass


class NodeCollector:
    """Runs the node commands; ``created`` holds every debug pod not yet deleted."""

    def __init__(
        self,
        api_client: Any,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        image: str = DEFAULT_IMAGE,
        timeout: float = 60.0,
        workers: int = 4,
        request_timeout: float = 30.0,
        progress: Callable[[NodeResult], None] | None = None,
    ) -> None:
        self.api = api_client
        self.namespace = namespace
        self.image = image
        self.timeout = timeout
        self.workers = workers
        self.request_timeout = request_timeout
        self.progress = progress
        self.created: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # --- REST ---------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        cfg = self.api.configuration
        with self._lock:
            if cfg.refresh_api_key_hook is not None:
                cfg.refresh_api_key_hook(cfg)
            token = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
        return {"authorization": str(token)} if token else {}

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Any = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """(HTTP status, decoded JSON body or {}) of one API request."""
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": "application/json", "Content-Type": content_type}
        headers.update({k.capitalize(): v for k, v in self._auth().items()})
        try:
            resp = self.api.call_api(
                path,
                method,
                query_params=query or [],
                header_params=headers,
                body=body,
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=(min(10.0, self.request_timeout), self.request_timeout),
            )
            status, data = resp.status, resp.data
            resp.release_conn()
        except ApiException as e:
            status, data = e.status or 0, e.body or b""
        try:
            return status, json.loads(data) if data else {}
        except ValueError:
            return status, {}

    def _pods_path(self, name: str = "") -> str:
        base = f"/api/v1/namespaces/{quote(self.namespace)}/pods"
        return f"{base}/{quote(name)}" if name else base

    def delete(self, name: str) -> None:
        status, _ = self._call("DELETE", self._pods_path(name), body={"gracePeriodSeconds": 0})
        if status in (200, 202, 404):
            with self._lock:
                self.created.discard(name)

    def cleanup_leftovers(self) -> list[str]:
        """Delete debug pods an earlier run left behind (by label); their names."""
        status, data = self._call("GET", self._pods_path(), query=[("labelSelector", MANAGED_BY)])
        if status != 200:
            return []
        names = [i["metadata"]["name"] for i in data.get("items") or ()]
        for name in names:
            self.delete(name)
        return names

    def cleanup(self) -> None:
        """Delete every debug pod this run created (every exit path calls it)."""
        self._stop.set()
        with self._lock:
            names = sorted(self.created)
        for name in names:
            try:
                self.delete(name)
            except Exception:  # keep deleting the others
                continue

    # --- exec -------------------------------------------------------------------------------

    def exec(
        self, namespace: str, pod: str, container: str | None, argv: Iterable[str], timeout: float
    ) -> tuple[bytes, bytes, int | None]:
        """Run ``argv`` in the pod over the websocket; (stdout, stderr, exit status or None)."""
        from kubernetes.stream.ws_client import WSClient, get_websocket_url

        cfg = self.api.configuration
        query: list[tuple[str, Any]] = [("command", list(argv))]
        if container:
            query.append(("container", container))
        query += [("stdin", "false"), ("stdout", "true"), ("stderr", "true"), ("tty", "false")]
        url = get_websocket_url(
            f"{cfg.host}/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/exec", query
        )
        ws = WSClient(cfg, url, self._auth(), capture_all=False, binary=True)
        try:
            end = time.monotonic() + timeout
            # run_forever, but a Ctrl-C elsewhere (self._stop) ends it within 0.2 s
            while ws.is_open() and not self._stop.is_set() and time.monotonic() < end:
                ws.update(timeout=min(0.2, max(end - time.monotonic(), 0.01)))
            finished = not ws.is_open()
            out, err, status = (_bytes(ws.read_channel(c)) for c in (1, 2, 3))
        finally:
            ws.close(timeout=0.5)  # a hung exec must not hold a Ctrl-C for 3 s
            # After the server's close frame websocket-client leaves its socket open.
            sock = getattr(ws, "sock", None)
            if sock is not None:
                sock.shutdown()
        if not finished:
            return out, err, None
        return out, err, _exit_status(status)

    # --- per node ---------------------------------------------------------------------------

    def _debug_pod(self, node: str) -> str:
        name = f"netdoctor-{node.lower()[:40].rstrip('.-')}-{secrets.token_hex(3)}"
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
                "hostNetwork": True,
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": 0,
                "activeDeadlineSeconds": int(max(self.timeout * 3, 300)),
                "tolerations": [{"operator": "Exists"}],
                "containers": [
                    {
                        "name": "netdoctor",
                        "image": self.image,
                        "command": ["sleep", str(int(max(self.timeout * 3, 300)))],
                        "securityContext": {"privileged": True},
                    }
                ],
            },
        }
        return self._create_and_wait(name, pod)

    def _create_and_wait(self, name: str, pod: dict[str, Any]) -> str:
        """Create ``pod`` (registered first, so every exit path deletes it); wait for Running."""
        with self._lock:
            if self._stop.is_set():
                raise _Stopped
            self.created.add(name)  # before the POST: a Ctrl-C during it still deletes
        status, data = self._call("POST", self._pods_path(), body=pod)
        if status not in (200, 201):
            with self._lock:
                self.created.discard(name)
            raise RuntimeError(f"create pod {self.namespace}/{name}: HTTP {status} {_msg(data)}")
        if self._stop.is_set():
            self.delete(name)
            raise _Stopped
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            status, data = self._call("GET", self._pods_path(name))
            phase = (data.get("status") or {}).get("phase") if status == 200 else None
            if phase == "Running":
                return name
            if phase in ("Failed", "Succeeded"):
                raise RuntimeError(f"debug pod {self.namespace}/{name} is {phase}")
            self._stop.wait(0.5)
        raise TimeoutError(f"debug pod {self.namespace}/{name} not running in {self.timeout:g}s")

    def _one(self, snap: Snapshot, node: str) -> NodeResult:
        result = NodeResult(node)
        debug: str | None = None
        start = time.monotonic()
        try:
            found = agent_pod(snap, node)
            if found is not None:
                pod, container = found
                ns, name, cont = pod.metadata.namespace, pod.metadata.name, container
            else:
                debug = self._debug_pod(node)
                ns, name, cont = self.namespace, debug, "netdoctor"
            result.via = f"{ns}/{name}"
            for file, argv in NODE_COMMANDS.items():
                left = self.timeout - (time.monotonic() - start)
                if left <= 0 or self._stop.is_set():
                    result.notes.append(_note(node, file, "node_timeout", result.via))
                    continue
                out, err, code = self.exec(ns, name, cont, argv, left)
                if code is None:
                    result.notes.append(_note(node, file, "node_timeout", result.via))
                elif (code != 0 and file not in _NONZERO_OK) or not out.strip():
                    detail = err.decode("utf-8", "replace").strip()[:200] or f"exit status {code}"
                    result.notes.append(
                        _note(node, file, "node_command_failed", result.via, detail)
                    )
                else:
                    result.files[file] = out
        except _Stopped:
            pass
        except Exception as e:  # one node's failure is a note, not the end
            for file in NODE_COMMANDS:
                if file not in result.files:
                    result.notes.append(
                        _note(node, file, "node_command_failed", result.via or node, str(e)[:200])
                    )
        finally:
            if debug is not None:
                self.delete(debug)
        return result

    def collect(self, snap: Snapshot, nodes: Iterable[str]) -> dict[str, NodeResult]:
        """Node facts for ``nodes``. Debug pods are gone when this returns or raises."""
        out: dict[str, NodeResult] = {}
        pool = ThreadPoolExecutor(max_workers=self.workers)
        try:
            self.cleanup_leftovers()
            pending: set[Future[NodeResult]] = {
                pool.submit(self._one, snap, n) for n in sorted(set(nodes))
            }
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for f in done:
                    r = f.result()
                    out[r.node] = r
                    if self.progress is not None:
                        self.progress(r)
        finally:
            self.cleanup()
            pool.shutdown(wait=False, cancel_futures=True)
        return out


def _note(node: str, file: str, reason: str, via: str, detail: str = "") -> InputNote:
    return InputNote(
        file=f"nodes/{node}/{file}",
        note="missing",
        reason=reason,
        params={"node": node, "via": via, "detail": detail},
    )


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value or "").encode()


def _exit_status(status: bytes) -> int | None:
    """The exit status from the error channel's ``Status`` (``v4.channel.k8s.io``)."""
    if not status.strip():
        return 0
    try:
        st = json.loads(status)
    except ValueError:
        return None
    if st.get("status") == "Success":
        return 0
    for cause in (st.get("details") or {}).get("causes") or ():
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                return None
    return 1


def _msg(data: Any) -> str:
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def question_nodes(snap: Snapshot, ends: Iterable[str | None]) -> list[str]:
    """The nodes a question's ends run on: ``node/N``, a pod ``NS/POD``, or an IP of either."""
    out: list[str] = []
    for end in ends:
        if not end:
            continue
        node: str | None = None
        if end.startswith("node/"):
            node = end.removeprefix("node/")
        elif end.count("/") == 1 and end in snap.pod_by_ref:
            node = snap.pod_by_ref[end].spec.node_name
        else:
            pods = snap.pods_by_ip.get(end, [])
            if pods:
                node = pods[0].spec.node_name
            elif snap.node_by_address.get(end):
                node = snap.node_by_address[end][0].metadata.name
        if node and node in snap.node_by_name and node not in out:
            out.append(node)
    return out
