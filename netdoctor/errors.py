"""The error tree. Each error knows its exit status; users get one line that names the bad input.

    NetdoctorError                  exit 2, the base; never shown with a traceback
    ├── UsageError                  a flag or argument is wrong (bad --to, unknown check id)
    └── InputError                  the input cannot be read
        ├── BundleError             the bundle as a whole (not found, unsafe archive, too large)
        └── ParseError              one file is malformed (names the file and what is wrong)

Exit statuses of a run that completed are not errors: 0 healthy, 1 broken, 3 inconclusive.
An error may carry a catalog ``key`` and ``params``: the CLI then says it in the user's language
(``message`` stays the English line, for logs and tests). Parse errors quote the input's format
and stay as they are.
"""

from __future__ import annotations

__all__ = ["BundleError", "InputError", "NetdoctorError", "ParseError", "UsageError"]


class NetdoctorError(Exception):
    """Base of every error netdoctor reports to the user in one line."""

    exit_status = 2

    def __init__(
        self, message: str, *, key: str | None = None, params: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.params = params or {}

    def __str__(self) -> str:
        return self.message


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
