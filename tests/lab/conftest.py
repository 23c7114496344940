"""Lab tests: real network namespaces, so root only; nothing may be left behind.

Every test here is marked ``root``. They skip, with the reason, when not root or when the
kernel refuses ``ip netns add``. A session fixture checks afterwards that no ``ndl*``
namespace, root-namespace link or helper process created during the session is left, also
when a test failed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from netns_support import netns_unavailable

_REASON = netns_unavailable()


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
