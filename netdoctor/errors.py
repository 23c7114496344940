"""The error tree. Each error knows its exit status; users get one line that names the bad input.

    NetdoctorError                  exit 2, the base; never shown with a traceback
    ├── UsageError                  a flag or argument is wrong (bad --to, unknown check id)
    │   └── LabUsageError           a lab request that cannot be built (not root, bad fault/layout)
    ├── InputError                  the input cannot be read
    │   ├── BundleError             the bundle as a whole (not found, unsafe archive, too large)
    │   ├── ParseError              one file is malformed (names the file and what is wrong)
    │   └── RunbookFileError        a runbook file cannot be read (no front matter, bad field)
    ├── LabError                    a command the lab ran failed (names the command and its stderr)
    └── ReachUnknownError           exit 3: the reach matrix cannot be decided from the bundle

Exit statuses of a run that completed are not errors: 0 healthy, 1 broken, 3 inconclusive.
An error carries a catalog ``key`` and ``params``: the CLI says it in the user's language, and
``message`` (``str(e)``) is the catalog's English for it, for logs and tests. An error raised
with a message only is English everywhere. Parse errors quote the input's format and stay as
they are.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BundleError",
    "InputError",
    "LabError",
    "LabUsageError",
    "NetdoctorError",
    "ParseError",
    "ReachUnknownError",
    "RunbookFileError",
    "UsageError",
]


class NetdoctorError(Exception):
    """Base of every error netdoctor reports to the user in one line.

    Give a catalog ``key`` with its ``params`` (the English comes from the catalog), or, for
    words that have no catalog entry, a ``message``; at least one of them.
    """

    exit_status = 2

    def __init__(
        self,
        message: str | None = None,
        *,
        key: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        if message is None:
            if key is None:
                raise TypeError(f"{type(self).__name__} needs a message or a catalog key")
            message = _english(key, params or {})
        super().__init__(message)
        self.message = message
        self.key = key
        self.params: dict[str, str] = dict(params or {})

    def __str__(self) -> str:
        return self.message


def _english(key: str, params: Mapping[str, str]) -> str:
    # Imported here, not at the top: the catalog imports the model, which imports this module.
    from netdoctor.catalog import load_catalog

    return load_catalog().text(key, "en", params)


class UsageError(NetdoctorError):
    """A command-line value is wrong."""


class InputError(NetdoctorError):
    """Input data cannot be used."""


class BundleError(InputError):
    """The bundle as a whole is unusable: missing, unsafe, or over a size limit."""


class ParseError(InputError):
    """One input file is malformed. ``file`` is its path inside the bundle."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


class RunbookFileError(InputError):
    """A runbook file that cannot be read; said in the user's language (runbooks.problem.*).

    ``problem`` is the English detail without the path, which ``runbooks lint`` reports as
    its ``problem`` parameter; by default the catalog's English after ``"<path>: "``.
    """

    def __init__(
        self,
        path: str,
        *,
        key: str,
        params: Mapping[str, str] | None = None,
        problem: str | None = None,
    ) -> None:
        super().__init__(key=key, params={"path": path, **(params or {})})
        self.path = path
        self.problem = self.message.removeprefix(f"{path}: ") if problem is None else problem


class LabUsageError(UsageError):
    """The request cannot be built: not root, a fault the layout has no use for, a bad name."""


class LabError(NetdoctorError):
    """A command failed while building, probing, collecting or removing a lab."""


class ReachUnknownError(NetdoctorError):
    """The reachability matrix cannot be decided from the bundle (inconclusive, exit 3)."""

    exit_status = 3
