"""Running the commands that build and inspect a lab: argument lists, never shell strings.

lab: a source that builds real networks and writes bundles. Every failure becomes a ``LabError``
naming the command and what it printed on stderr.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Sequence

from netdoctor.lab.errors import LabError, LabUsageError

__all__ = ["batch", "is_root", "require_root", "run"]

_BATCH_LINE = re.compile(r"Command failed -:(\d+)")


def is_root() -> bool:
    return os.geteuid() == 0


def require_root() -> None:
    if not is_root():
        raise LabUsageError(
            "the lab builds network namespaces and needs root: run it with sudo (or as root)"
        )


def run(
    args: Sequence[str], *, stdin: str | None = None, check: bool = True, timeout: float = 60
) -> str:
    """Run one command; its stdout, or LabError naming the command and its stderr."""
    argv = list(args)
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise LabError(f"{argv[0]}: command not found (install iproute2 / iptables)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`{shlex.join(argv)}` did not finish within {timeout:g} s") from None
    if check and done.returncode != 0:
        err = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise LabError(f"`{shlex.join(argv)}` failed: {err}")
    return done.stdout


def batch(tool: str, netns: str | None, lines: Sequence[str]) -> None:
    """Many ``ip`` or ``bridge`` commands in one process (``-batch``); a failure names its line."""
    if not lines:
        return
    argv = [tool] + (["-n", netns] if netns else []) + ["-batch", "-"]
    text = "".join(f"{line}\n" for line in lines)
    done = subprocess.run(argv, input=text, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        m = _BATCH_LINE.search(done.stderr)
        where = f" in {netns}" if netns else ""
        err = " ".join(_BATCH_LINE.sub("", done.stderr).split())
        if m and 0 < int(m.group(1)) <= len(lines):
            failed = lines[int(m.group(1)) - 1]
            raise LabError(f"`{tool} {failed}`{where} failed: {err}")
        raise LabError(f"`{shlex.join(argv)}`{where} failed: {err}")
