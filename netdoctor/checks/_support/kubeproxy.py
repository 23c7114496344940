"""kube-proxy's mode, from its ConfigMap: what the Service checks and the engine's Service
walk both read, so it lives here rather than in a check module.

Checks layer (support): pure functions over the Snapshot; registers no check.
"""

from __future__ import annotations

import re

from netdoctor.model.findings import Evidence
from netdoctor.model.snapshot import Snapshot

__all__ = ["kube_proxy_mode"]


def kube_proxy_mode(snap: Snapshot) -> tuple[str, Evidence] | None:
    """kube-proxy's mode from the ``kube-proxy`` ConfigMap (``config.conf`` ``mode:``); an
    empty mode is the platform default, iptables on Linux."""
    cm = snap.configmap_by_ref.get("kube-system/kube-proxy")
    if cm is None or "config.conf" not in cm.data:
        return None
    m = re.search(r"^mode:[ \t]*\"?([A-Za-z]*)\"?[ \t]*$", cm.data["config.conf"], re.M)
    raw = m.group(1) if m else ""
    ev = Evidence(
        source=snap.source("k8s.configmaps"),
        object="ConfigMap/kube-system/kube-proxy",
        field="data[config.conf].mode",
        value=raw or '""',
    )
    return raw or "iptables", ev
