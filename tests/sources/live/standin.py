"""A stand-in Kubernetes API server for the live-source tests and the benchmark.

It speaks the real wire format for what netdoctor uses, so the real ``kubernetes`` client sits
on the other side: ``GET /version``; list endpoints (``/api/v1/pods``,
``/apis/apps/v1/daemonsets``, ``/api/v1/namespaces/NS/configmaps``, ...) returning
``<Kind>List`` JSON with ``metadata.resourceVersion`` and ``metadata.continue`` under
``limit``/``continue`` pagination (items, as the API serves them, without apiVersion/kind);
``Status`` bodies for 403/404/410/500. Objects come from a bundle's ``k8s/*.json`` or are
given directly (the benchmark's generated cluster).

Faults are programmable per resource (the bundle name, ``networkpolicies.networking.k8s.io``):
``403``, ``404``, ``500`` (always), ``500-once``, ``410-once`` (the first stale ``continue`` is
answered 410 Gone), ``410`` (every ``continue``), ``hang`` (never answers until the server
stops), ``slow:SECONDS`` (each page waits). ``calls`` counts requests per path.

Node facts: ``POST/GET/DELETE /api/v1/namespaces/NS/pods[/NAME]`` for debug pods (kept in
``created``; ``deleted`` lists what was deleted), a label-selector list of them, and exec over
a websocket (subprotocol ``v4.channel.k8s.io``, frames from the ``websockets`` library): the
command's stdout (channel 1) is the bundle's ``nodes/<node>/<file>`` for the pod's node, found
through the command that writes that file; then the ``Status`` on channel 3. ``faults["exec"]``
may be ``hang`` (no answer until the server stops) or ``fail`` (exit status 1, stderr).
``execs`` records (pod, argv) of every exec.

Probes: ``PATCH .../pods/NAME/ephemeralcontainers`` adds the container (running at once) unless
``faults["ephemeral"]`` is an HTTP status; an exec into an ephemeral container or a
``netdoctor-probe-*`` pod answers from ``probe_replies`` (command -> a captured case of
``tests/fixtures/probes``, e.g. ``{"ping": "ping-timeout"}``).
"""

from __future__ import annotations

import base64
import json
import secrets as _secrets
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.frames import Frame, Opcode
from websockets.utils import accept_key

from netdoctor.sources.live.api import API_PATHS
from netdoctor.sources.live.nodes import NODE_COMMANDS

# list path -> (bundle resource name, List kind, apiVersion)
_KINDS = {
    "nodes": ("NodeList", "v1"),
    "pods": ("PodList", "v1"),
    "services": ("ServiceList", "v1"),
    "endpointslices.discovery.k8s.io": ("EndpointSliceList", "discovery.k8s.io/v1"),
    "networkpolicies.networking.k8s.io": ("NetworkPolicyList", "networking.k8s.io/v1"),
    "daemonsets.apps": ("DaemonSetList", "apps/v1"),
    "deployments.apps": ("DeploymentList", "apps/v1"),
    "configmaps": ("ConfigMapList", "v1"),
    "events": ("EventList", "v1"),
    "ippools.crd.projectcalico.org": ("IPPoolList", "crd.projectcalico.org/v1"),
    "nodes.crd.projectcalico.org": ("NodeList", "crd.projectcalico.org/v1"),
    "felixconfigurations.crd.projectcalico.org": (
        "FelixConfigurationList",
        "crd.projectcalico.org/v1",
    ),
    "installations.operator.tigera.io": ("InstallationList", "operator.tigera.io/v1"),
    "subnets.kubeovn.io": ("SubnetList", "kubeovn.io/v1"),
    "ips.kubeovn.io": ("IPList", "kubeovn.io/v1"),
    "ciliumnodes.cilium.io": ("CiliumNodeList", "cilium.io/v2"),
}

_PROBES = Path(__file__).resolve().parents[2] / "fixtures" / "probes"

_FILE_ALIASES = {
    "endpointslices": "endpointslices.discovery.k8s.io",
    "networkpolicies": "networkpolicies.networking.k8s.io",
    "daemonsets": "daemonsets.apps",
    "deployments": "deployments.apps",
}


def _status(code: int, reason: str, message: str) -> bytes:
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
    ).encode()


class _Item(msgspec.Struct):
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class StandIn:
    """The server: ``with StandIn.from_bundle(path) as api: api.url ...``."""

    def __init__(self, objects: dict[str, list[bytes]], version: bytes | None = None) -> None:
        # resource -> encoded items (each one object's JSON, as served), with its namespace
        self.objects: dict[str, list[tuple[str, bytes]]] = {}
        for res, items in objects.items():
            rows = []
            for raw in items:
                ns = msgspec.json.decode(raw, type=_Item).metadata.get("namespace", "")
                rows.append((ns, raw))
            self.objects[res] = rows
        self.version = version or b'{"major": "1", "minor": "30", "gitVersion": "v1.30.2"}'
        self.faults: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.auth: list[str] = []
        self.resource_version = "4242"
        self.bundle: Path | None = None
        self.created: dict[tuple[str, str], dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.execs: list[tuple[str, tuple[str, ...]]] = []
        self.patched: dict[tuple[str, str], dict[str, Any]] = {}
        self.probe_replies: dict[str, str] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._fired: set[str] = set()
        standin = self

        class Handler(_Handler):
            server_ref = standin

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @classmethod
    def from_bundle(cls, bundle: Path) -> StandIn:
        objects: dict[str, list[bytes]] = {}
        for f in sorted((bundle / "k8s").glob("*.json")):
            name = _FILE_ALIASES.get(f.stem, f.stem)
            if name == "version":
                continue
            data = json.loads(f.read_text())
            items = []
            for obj in data.get("items", []):
                # The API serves list items without apiVersion/kind (kubectl adds them).
                obj = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
                items.append(json.dumps(obj).encode())
            objects[name] = items
        version = None
        vf = bundle / "k8s" / "version.json"
        if vf.exists():
            sv = json.loads(vf.read_text()).get("serverVersion")
            if sv:
                version = json.dumps(sv).encode()
        api = cls(objects, version)
        api.bundle = bundle
        return api

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def kubeconfig(
        self, path: Path, *, token: str = "t0ken", user: dict[str, Any] | None = None
    ) -> Path:
        """Write a kubeconfig pointing at this server (context ``standin``)."""
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "u", "user": user if user is not None else {"token": token}}],
            "contexts": [
                {
                    "name": "standin",
                    "context": {"cluster": "standin", "user": "u", "namespace": "default"},
                }
            ],
            "current-context": "standin",
        }
        path.write_text(json.dumps(cfg))
        return path

    # --- request handling -------------------------------------------------------------------

    def fire_once(self, key: str) -> bool:
        with self._lock:
            if key in self._fired:
                return False
            self._fired.add(key)
            return True

    def route(self, path: str) -> tuple[str, str | None] | None:
        """(resource, namespace) for a list path, else None."""
        for res, (tmpl, _) in API_PATHS.items():
            if "{namespace}" in tmpl:
                head, tail = tmpl.split("{namespace}")
                if path.startswith(head) and path.endswith(tail):
                    ns = path[len(head) : len(path) - len(tail)]
                    if ns and "/" not in ns:
                        return res, ns
            elif path == tmpl:
                return res, None
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_ref: StandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # --- debug pods and exec ---------------------------------------------------------------

    def _pod_path(self, path: str) -> tuple[str, str, str] | None:
        """(namespace, name, subresource) of /api/v1/namespaces/NS/pods[/NAME[/SUB]]."""
        parts = path.strip("/").split("/")
        if len(parts) >= 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            return parts[3], parts[5] if len(parts) > 5 else "", "/".join(parts[6:])
        return None

    def _find_pod(self, ns: str, name: str) -> dict[str, Any] | None:
        s = self.server_ref
        if (ns, name) in s.created:
            return s.created[(ns, name)]
        if (ns, name) in s.patched:
            return s.patched[(ns, name)]
        for pod_ns, raw in s.objects.get("pods", []):
            if pod_ns == ns:
                obj = json.loads(raw)
                if obj["metadata"]["name"] == name:
                    return dict(obj)
        return None

    def _body(self) -> Any:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}") if n else {}

    def do_POST(self) -> None:
        s = self.server_ref
        url = urlsplit(self.path)
        s.calls[f"POST {url.path}"] += 1
        where = self._pod_path(url.path)
        body = self._body()
        if where is None or where[1]:
            self._send(404, _status(404, "NotFound", "not found"))
            return
        ns = where[0]
        if s.faults.get("pods/create") == "403":
            self._send(
                403, _status(403, "Forbidden", 'pods is forbidden: cannot create resource "pods"')
            )
            return
        name = body["metadata"]["name"]
        if (ns, name) in s.created:
            self._send(409, _status(409, "AlreadyExists", f'pods "{name}" already exists'))
            return
        body["metadata"]["uid"] = _secrets.token_hex(8)
        body["status"] = {"phase": "Running"}
        s.created[(ns, name)] = body
        self._send(201, json.dumps(body).encode())

    def do_PATCH(self) -> None:
        s = self.server_ref
        url = urlsplit(self.path)
        s.calls[f"PATCH {url.path}"] += 1
        body = self._body()
        where = self._pod_path(url.path)
        if where is None or where[2] != "ephemeralcontainers":
            self._send(405, _status(405, "MethodNotAllowed", "not allowed"))
            return
        if self.headers.get("Content-Type") != "application/strategic-merge-patch+json":
            self._send(415, _status(415, "UnsupportedMediaType", "unsupported patch type"))
            return
        fault = s.faults.get("ephemeral", "")
        if fault.isdigit():
            self._send(int(fault), _status(int(fault), "Forbidden", "ephemeral containers refused"))
            return
        pod = self._find_pod(where[0], where[1])
        if pod is None:
            self._send(404, _status(404, "NotFound", "not found"))
            return
        new = body["spec"]["ephemeralContainers"]
        spec = pod.setdefault("spec", {})
        spec["ephemeralContainers"] = list(spec.get("ephemeralContainers", [])) + new
        statuses = pod.setdefault("status", {}).setdefault("ephemeralContainerStatuses", [])
        statuses += [{"name": c["name"], "state": {"running": {}}} for c in new]
        s.patched[(where[0], where[1])] = pod
        self._send(200, json.dumps(pod).encode())

    def do_DELETE(self) -> None:
        s = self.server_ref
        url = urlsplit(self.path)
        s.calls[f"DELETE {url.path}"] += 1
        self._body()
        where = self._pod_path(url.path)
        if where is None or (where[0], where[1]) not in s.created:
            self._send(404, _status(404, "NotFound", "not found"))
            return
        obj = s.created.pop((where[0], where[1]))
        s.deleted.append(where[1])
        self._send(200, json.dumps(obj).encode())

    def _exec(self, ns: str, name: str, query: dict[str, list[str]]) -> None:
        s = self.server_ref
        pod = self._find_pod(ns, name)
        if pod is None:
            self._send(404, _status(404, "NotFound", f'pods "{name}" not found'))
            return
        offered = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        if "v4.channel.k8s.io" not in offered:
            self._send(400, _status(400, "BadRequest", "v4.channel.k8s.io not offered"))
            return
        argv = tuple(query.get("command", []))
        s.execs.append((f"{ns}/{name}", argv))
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(self.headers["Sec-WebSocket-Key"]))
        self.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
        self.end_headers()
        self.close_connection = True
        fault = s.faults.get("exec", "")
        if fault == "hang":
            s._stop.wait()
            return
        container = query.get("container", [""])[0]
        ephemeral = {c["name"] for c in pod.get("spec", {}).get("ephemeralContainers", [])}
        if container in ephemeral or name.startswith("netdoctor-probe-"):
            case = s.probe_replies.get(argv[0] if argv else "", "")
            rec = json.loads((_PROBES / f"{case}.json").read_text()) if case else None
            if rec is None:
                rec = {"stdout": "", "stderr": f"{argv[0]}: not found\n", "code": 127}
            if rec["stdout"]:
                self._frame(1, rec["stdout"].encode())
            if rec["stderr"]:
                self._frame(2, rec["stderr"].encode())
            if rec["code"] == 0:
                status: dict[str, Any] = {"metadata": {}, "status": "Success"}
            else:
                status = {
                    "metadata": {},
                    "status": "Failure",
                    "reason": "NonZeroExitCode",
                    "details": {"causes": [{"reason": "ExitCode", "message": str(rec["code"])}]},
                }
            self._frame(3, json.dumps(status).encode())
            self.wfile.write(Frame(Opcode.CLOSE, b"\x03\xe8").serialize(mask=False))
            self.wfile.flush()
            return
        node = pod.get("spec", {}).get("nodeName", "")
        file = next((f for f, cmd in NODE_COMMANDS.items() if cmd == argv), None)
        path = s.bundle / "nodes" / node / file if (s.bundle and file) else None
        if fault == "fail" or path is None or not path.exists():
            self._frame(2, f"{argv[0] if argv else '?'}: not available\n".encode())
            status = {
                "metadata": {},
                "status": "Failure",
                "message": "command terminated with non-zero exit code",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": "1"}]},
            }
        else:
            data = path.read_bytes()
            for i in range(0, len(data), 32768):
                self._frame(1, data[i : i + 32768])
            status = {"metadata": {}, "status": "Success"}
        self._frame(3, json.dumps(status).encode())
        self.wfile.write(Frame(Opcode.CLOSE, b"\x03\xe8").serialize(mask=False))
        self.wfile.flush()

    def _frame(self, channel: int, data: bytes) -> None:
        self.wfile.write(Frame(Opcode.BINARY, bytes([channel]) + data).serialize(mask=False))

    def do_GET(self) -> None:
        s = self.server_ref
        url = urlsplit(self.path)
        s.calls[url.path] += 1
        s.auth.append(self.headers.get("Authorization", ""))
        where = self._pod_path(url.path)
        if where is not None:
            ns, name, sub = where
            if sub == "exec" and self.headers.get("Upgrade", "").lower() == "websocket":
                self._exec(ns, name, parse_qs(url.query))
                return
            if name and not sub:
                pod = self._find_pod(ns, name)
                if pod is None:
                    self._send(404, _status(404, "NotFound", f'pods "{name}" not found'))
                else:
                    self._send(200, json.dumps(pod).encode())
                return
            if not name:
                selector = parse_qs(url.query).get("labelSelector", [""])[0]
                k, _, v = selector.partition("=")
                items = [
                    p
                    for (pns, _), p in s.created.items()
                    if pns == ns and (not k or p["metadata"].get("labels", {}).get(k) == v)
                ]
                body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
                self._send(200, json.dumps(body).encode())
                return
        if url.path == "/version":
            self._send(200, s.version)
            return
        routed = s.route(url.path)
        if routed is None:
            self._send(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        res, ns = routed
        query = parse_qs(url.query)
        fault = s.faults.get(res, "")
        token = query.get("continue", [""])[0]
        if fault == "hang":
            s._stop.wait()
            return
        if fault.startswith("slow:"):
            time.sleep(float(fault.split(":", 1)[1]))
        if fault == "403":
            group = res.split(".", 1)[1] if "." in res else ""
            self._send(
                403,
                _status(
                    403,
                    "Forbidden",
                    f"{res.split('.')[0]}{'.' + group if group else ''} is forbidden: User "
                    f'"system:serviceaccount:default:netdoctor" cannot list resource '
                    f'"{res.split(".")[0]}" in API group "{group}" at the cluster scope',
                ),
            )
            return
        if fault == "404" or (res not in s.objects and res not in _KINDS):
            self._send(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        if fault == "500" or (fault == "500-once" and s.fire_once(res)):
            self._send(500, _status(500, "InternalError", "etcdserver: request timed out"))
            return
        if token and (fault == "410" or (fault == "410-once" and s.fire_once(res))):
            self._send(
                410,
                _status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.",
                ),
            )
            return
        if res not in s.objects:
            self._send(
                404, _status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        rows = s.objects[res]
        if ns is not None:
            rows = [r for r in rows if r[0] == ns]
        offset = int(base64.b64decode(token).decode().split(":")[1]) if token else 0
        limit = int(query.get("limit", ["0"])[0] or 0)
        end = len(rows) if limit <= 0 else min(len(rows), offset + limit)
        cont = ""
        if end < len(rows):
            cont = base64.b64encode(f"{s.resource_version}:{end}".encode()).decode()
        kind, api_version = _KINDS.get(res, ("List", "v1"))
        meta = {"resourceVersion": s.resource_version}
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = len(rows) - end  # type: ignore[assignment]
        head = json.dumps({"kind": kind, "apiVersion": api_version, "metadata": meta})[:-1]
        body = head.encode() + b', "items": [' + b",".join(r[1] for r in rows[offset:end]) + b"]}"
        self._send(200, body)
