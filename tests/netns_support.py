"""Whether real network namespaces can be made here: root, iproute2, a kernel that allows it."""

from __future__ import annotations

import os
import subprocess
import uuid


def netns_unavailable() -> str | None:
    """None when ``ip netns add`` works, else the reason tests that need it skip."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    name = f"ndlcheck{uuid.uuid4().hex[:6]}"
    try:
        done = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    except FileNotFoundError:
        return "iproute2 (ip) is not installed"
    if done.returncode != 0:
        return f"ip netns add fails here: {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None
