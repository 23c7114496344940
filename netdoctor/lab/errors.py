"""The lab's errors: one line for the user, exit status 2, like every netdoctor error.

lab: a source that builds real networks and writes bundles. The classes live in the one
error tree, :mod:`netdoctor.errors`; this module names them for the lab's importers.

    NetdoctorError
    ├── UsageError
    │   └── LabUsageError      a lab request that cannot be built (not root, bad fault/layout)
    └── LabError               a command the lab ran failed (names the command and its stderr)
"""

from __future__ import annotations

from netdoctor.errors import LabError, LabUsageError

__all__ = ["LabError", "LabUsageError"]
