"""Lab tests: real network namespaces, so root only; nothing may be left behind.

Every test here is marked ``root``. They skip, with the reason, when not root or when the
kernel refuses ``ip netns add``. A session fixture checks afterwards that no ``ndl*``
namespace, root-namespace link or helper process created during the session is left, also
when a test failed.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest


def _netns_works() -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces)"
    name = f"ndlcheck{uuid.uuid4().hex[:6]}"
    try:
        done = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    except FileNotFoundError:
        return "iproute2 (ip) is not installed"
    if done.returncode != 0:
        return f"ip netns add fails here: {done.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


_REASON = _netns_works()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/lab/" in item.nodeid and _REASON is not None:
            item.add_marker(pytest.mark.skip(reason=_REASON))


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    if _REASON is not None:
        yield
        return
    from netdoctor.lab.build import leftovers

    before = leftovers()
    yield
    after = leftovers()
    new = {k: sorted(set(v) - set(before[k])) for k, v in after.items()}
    assert new == {"namespaces": [], "links": [], "processes": []}
