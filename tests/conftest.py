"""Test-wide settings: checks that crash re-raise (NETDOCTOR_STRICT), and shared helpers."""

from __future__ import annotations

import os

os.environ["NETDOCTOR_STRICT"] = "1"


# A test that blows up memory must fail by name, not take the machine down (issue #12, item 11;
# once in about ten runs a process grew to 17 GB). Every test process, and what it starts,
# runs under an address-space cap: the guilty test gets a MemoryError. The cap is far above
# what any test needs (the 200 MB bundle tests peak near 0.5 GiB of address space); set
# NETDOCTOR_TEST_MEMORY_CAP_GIB=0 to lift it.
def _cap_address_space() -> None:
    import resource

    gib = float(os.environ.get("NETDOCTOR_TEST_MEMORY_CAP_GIB", "6"))
    if gib <= 0:
        return
    cap = int(gib * 2**30)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft == resource.RLIM_INFINITY or soft > cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


_cap_address_space()
