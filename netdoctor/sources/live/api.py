"""The Kubernetes API, read through the official client: kubeconfig, raw paginated lists.

sources layer. ``connect()`` builds a ``kubernetes.client.ApiClient`` from the user's kubeconfig
(context, exec auth plugins) or, inside a pod, the in-cluster service account. ``ApiReader``
lists one kind at a time as raw JSON pages (``limit`` / ``continue``), never through the
client's model classes: the pages go straight to the msgspec decoders the bundle uses.

Every call has a timeout, and a reader has an overall deadline: a hung or flapping API server
ends the read in bounded time with what was read so far. Failures are data, not exceptions:
``ListResult.status`` says ``ok``, ``forbidden`` (403), ``not-found`` (404: the kind is not
served, e.g. a CRD that is not installed), ``gone`` (410 twice), ``timeout`` or ``error``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from netdoctor.errors import InputError, UsageError

__all__ = [
    "API_PATHS",
    "DEFAULT_PAGE_SIZE",
    "ApiReader",
    "ListResult",
    "connect",
]

DEFAULT_PAGE_SIZE: Final = 500

# bundle resource name (model.layout.RESOURCES) -> (list path, RBAC resource as `kubectl auth`
# names it, namespaces to list in or None for all / cluster scope)
API_PATHS: Final[dict[str, tuple[str, str]]] = {
    "nodes": ("/api/v1/nodes", "nodes"),
    "pods": ("/api/v1/pods", "pods"),
    "services": ("/api/v1/services", "services"),
    "endpointslices.discovery.k8s.io": (
        "/apis/discovery.k8s.io/v1/endpointslices",
        "endpointslices.discovery.k8s.io",
    ),
    "networkpolicies.networking.k8s.io": (
        "/apis/networking.k8s.io/v1/networkpolicies",
        "networkpolicies.networking.k8s.io",
    ),
    "daemonsets.apps": ("/apis/apps/v1/daemonsets", "daemonsets.apps"),
    "deployments.apps": ("/apis/apps/v1/deployments", "deployments.apps"),
    "configmaps": ("/api/v1/namespaces/{namespace}/configmaps", "configmaps"),
    "events": ("/api/v1/events", "events"),
    "namespaces": ("/api/v1/namespaces", "namespaces"),
    "ippools.crd.projectcalico.org": (
        "/apis/crd.projectcalico.org/v1/ippools",
        "ippools.crd.projectcalico.org",
    ),
    "nodes.crd.projectcalico.org": (
        "/apis/crd.projectcalico.org/v1/nodes",
        "nodes.crd.projectcalico.org",
    ),
    "felixconfigurations.crd.projectcalico.org": (
        "/apis/crd.projectcalico.org/v1/felixconfigurations",
        "felixconfigurations.crd.projectcalico.org",
    ),
    "installations.operator.tigera.io": (
        "/apis/operator.tigera.io/v1/installations",
        "installations.operator.tigera.io",
    ),
    "subnets.kubeovn.io": ("/apis/kubeovn.io/v1/subnets", "subnets.kubeovn.io"),
    "ips.kubeovn.io": ("/apis/kubeovn.io/v1/ips", "ips.kubeovn.io"),
    "ciliumnodes.cilium.io": ("/apis/cilium.io/v2/ciliumnodes", "ciliumnodes.cilium.io"),
}

# ConfigMaps are read only where the CNI and kube-proxy keep theirs (bundle-format.md).
CONFIGMAP_NAMESPACES: Final = (
    "kube-system",
    "kube-flannel",
    "calico-system",
    "tigera-operator",
    "kube-ovn",
    "cilium",
)


class _Meta(msgspec.Struct):
    resource_version: str = msgspec.field(default="", name="resourceVersion")
    continue_: str = msgspec.field(default="", name="continue")


class _Page(msgspec.Struct):
    """What pagination needs from a list page (the items are skipped, not decoded, here)."""

    metadata: _Meta = msgspec.field(default_factory=_Meta)


_page_decoder: Final = msgspec.json.Decoder(_Page)


@dataclass
class ListResult:
    """One kind's list: its raw pages (list JSON as served), how it went, and what it cost."""

    resource: str
    pages: list[bytes] = field(default_factory=list)
    status: str = "ok"  # ok | forbidden | not-found | gone | timeout | error
    detail: str = ""
    calls: int = 0
    restarts: int = 0
    resource_version: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def connect(
    kubeconfig: str | None = None, context: str | None = None, *, in_cluster: bool | None = None
) -> tuple[Any, str | None, str]:
    """An ApiClient, the context's default namespace, and a label for the report.

    ``in_cluster=None``: the kubeconfig when one is given or found, else the pod's service
    account. Errors become one line (``InputError``).
    """
    import os

    import yaml
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
    default = os.path.expanduser("~/.kube/config")
    if in_cluster is None:
        in_cluster = path is None and not os.path.exists(default) and _in_pod()
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=cfg)
            ns = _in_cluster_namespace()
            label = "in-cluster"
        else:
            path = path or default
            if not os.path.exists(path):
                raise UsageError(key="live.error.no_kubeconfig", params={"path": path})
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg)
            contexts, current = config.list_kube_config_contexts(path)
            chosen = next((c for c in contexts if c["name"] == context), current) or {}
            ns = (chosen.get("context") or {}).get("namespace")
            label = str(chosen.get("name") or context or "kubeconfig")
    except ConfigException as e:
        raise InputError(
            key="error.kubeconfig.invalid", params={"problem": " ".join(str(e).split())}
        ) from None
    except (OSError, ValueError) as e:
        raise InputError(
            key="error.kubeconfig.invalid", params={"problem": " ".join(str(e).split())}
        ) from None
    except yaml.YAMLError as e:
        problem = " ".join(str(e).split())
        raise InputError(
            key="error.kubeconfig.not_yaml", params={"path": str(path), "problem": problem}
        ) from None
    # One try per call: the reader decides on retries within its own deadline.
    cfg.retries = False
    return client.ApiClient(configuration=cfg), ns, label


def _in_pod() -> bool:
    import os

    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def _in_cluster_namespace() -> str | None:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
            return f.read().strip() or None
    except OSError:
        return None


class ApiReader:
    """Raw GETs against one API server, each bounded by ``timeout`` and by the reader's deadline."""

    def __init__(
        self,
        api_client: Any,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        timeout: float = 30.0,
        deadline: float = 300.0,
        retries: int = 2,
    ) -> None:
        self.api = api_client
        self.page_size = page_size
        self.timeout = timeout
        self.deadline_at = time.monotonic() + deadline
        self.retries = retries
        self._auth_lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline_at - time.monotonic()

    def get(self, path: str, query: list[tuple[str, Any]] | None = None) -> tuple[int, bytes]:
        """One GET: (HTTP status, body). Raises ``TimeoutError`` on a timeout or past the deadline,
        ``ConnectionError`` when the server cannot be reached."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        left = self.remaining()
        if left <= 0:
            raise TimeoutError("deadline")
        t = min(self.timeout, left)
        capped = t < self.timeout
        headers = {"Accept": "application/json"}
        token = self._authorization()
        if token:
            headers["Authorization"] = token
        try:
            resp = self.api.call_api(
                path,
                "GET",
                query_params=query or [],
                header_params=headers,
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=(min(t, 10.0), t),
            )
            try:
                return resp.status, resp.data
            finally:
                resp.release_conn()
        except ApiException as e:
            if not e.status:  # the client's own failures (TLS) carry status 0
                raise ConnectionError(str(e.reason)) from None
            body = e.body if isinstance(e.body, bytes) else str(e.body or "").encode()
            return int(e.status), body
        except urllib3.exceptions.NewConnectionError as e:  # a TimeoutError subclass in urllib3 2
            raise ConnectionError(_short_error(e)) from None
        except (urllib3.exceptions.TimeoutError, TimeoutError) as e:
            raise TimeoutError("deadline" if capped else str(e)) from None
        except urllib3.exceptions.HTTPError as e:
            reason = getattr(e, "reason", None)
            if isinstance(reason, urllib3.exceptions.NewConnectionError):
                raise ConnectionError(_short_error(reason)) from None
            if "timed out" in str(e).lower():
                raise TimeoutError("deadline" if capped else str(e)) from None
            raise ConnectionError(str(e)) from None

    def _authorization(self) -> str | None:
        """The ``Authorization`` header the kubeconfig gives (token, exec plugin, in-cluster).

        The loaders store it under ``api_key["authorization"]`` (already ``Bearer ...``) and
        refresh it through ``refresh_api_key_hook`` (an expired exec credential runs the plugin
        again), so it is asked for on every call.
        """
        cfg = self.api.configuration
        with self._auth_lock:
            if cfg.refresh_api_key_hook is not None:
                cfg.refresh_api_key_hook(cfg)
            value = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
        return str(value) if value else None

    def _read_pages(self, path: str, result: ListResult) -> None:
        """Append every page of one list to ``result.pages``; set its status if it ends early."""
        token = ""
        start = len(result.pages)
        while True:
            query: list[tuple[str, Any]] = [("limit", self.page_size)]
            if token:
                query.append(("continue", token))
            status, body = self._get_retrying(path, query, result)
            if status == 0:
                return
            if status == 410 and token:
                # The continue token expired (etcd compacted it): start the kind over, once.
                if result.restarts >= 1:
                    result.status, result.detail = "gone", "410 Gone twice"
                    return
                result.restarts += 1
                del result.pages[start:]
                token = ""
                continue
            if status != 200:
                result.status = _STATUS.get(status, "error")
                result.detail = f"HTTP {status}: {_message(body)}"
                return
            try:
                page = _page_decoder.decode(body)
            except msgspec.DecodeError as e:
                result.status, result.detail = "error", f"not a Kubernetes list: {e}"
                return
            result.pages.append(body)
            result.resource_version = page.metadata.resource_version
            token = page.metadata.continue_
            if not token:
                return

    def _get_retrying(
        self, path: str, query: list[tuple[str, Any]], result: ListResult
    ) -> tuple[int, bytes]:
        """GET with retries on 5xx/429 and connection errors; (0, b"") when it gave up."""
        tries = 0
        while True:
            tries += 1
            result.calls += 1
            try:
                status, body = self.get(path, query)
            except TimeoutError as e:
                result.status = "timeout"
                result.detail = "deadline reached" if str(e) == "deadline" else "no answer"
                return 0, b""
            except ConnectionError as e:
                if tries > self.retries:
                    result.status, result.detail = "error", str(e)
                    return 0, b""
                time.sleep(min(0.2 * tries, max(self.remaining(), 0)))
                continue
            if (status >= 500 or status == 429) and tries <= self.retries:
                time.sleep(min(0.2 * tries, max(self.remaining(), 0)))
                continue
            return status, body

    def list(self, resource: str, namespaces: tuple[str, ...] | None = None) -> ListResult:
        """All items of one kind (``nodes``, ``daemonsets.apps``), in every page."""
        path, _ = API_PATHS[resource]
        result = ListResult(resource)
        if "{namespace}" in path:
            # Per namespace (least privilege: a Role in each). The first namespace decides a
            # 403; in the others a 403 only means the CNI there is not the one in use.
            for i, ns in enumerate(namespaces or CONFIGMAP_NAMESPACES):
                self._read_pages(path.format(namespace=ns), result)
                if result.status == "not-found" or (result.status == "forbidden" and i > 0):
                    result.status, result.detail = "ok", ""
                if not result.ok:
                    break
            return result
        self._read_pages(path, result)
        return result

    def version(self) -> tuple[int, bytes]:
        return self.get("/version")


def _short_error(e: Exception) -> str:
    """``[Errno 111] Connection refused`` rather than urllib3's whole sentence."""
    text = str(e)
    return text.split(": ", 1)[1] if ": " in text else text


_STATUS: Final = {401: "unauthorized", 403: "forbidden", 404: "not-found", 410: "gone"}


class _Status(msgspec.Struct):
    message: str = ""


def _message(body: bytes) -> str:
    """The ``message`` of a ``Status`` body, else the body's first line."""
    try:
        msg = msgspec.json.decode(body, type=_Status).message
    except (msgspec.DecodeError, msgspec.ValidationError):
        msg = body[:200].decode("utf-8", "replace")
    return " ".join(msg.split())[:300]
