"""The lab's errors: one line for the user, exit status 2, like every netdoctor error.

lab: a source that builds real networks and writes bundles.

    NetdoctorError
    ├── UsageError
    │   └── LabUsageError      a lab request that cannot be built (not root, bad fault/layout)
    └── LabError               a command the lab ran failed (names the command and its stderr)
"""

from __future__ import annotations

from netdoctor.errors import NetdoctorError, UsageError

__all__ = ["LabError", "LabUsageError"]


class LabUsageError(UsageError):
    """The request cannot be built: not root, a fault the layout has no use for, a bad name."""


class LabError(NetdoctorError):
    """A command failed while building, probing, collecting or removing a lab."""
