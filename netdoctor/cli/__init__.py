"""The command line: ``netdoctor`` (and ``kubectl netdoctor``, the same program as a plugin).

CLI layer, one module a command: ``diagnose``, ``collect``, ``trace``, ``reach``, ``runbooks``,
``lab``, and ``explain``/``checks``/``version`` (``info``); ``options`` holds the shared flags
and their validators, ``live`` the live cluster's reading. Each parses its flags, calls the
session (or the engine, the policy matrix, the catalog) and renders; none decides anything.
``main`` maps the verdict to the exit status (0 healthy, 1 broken, 2 usage or input error,
3 inconclusive). Every error reaches the user as one line; no traceback, ever
(NETDOCTOR_DEBUG=1 shows one). Imports are lazy so that a single call starts fast.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

import typer

# Each command module registers its commands on the app when imported.
from netdoctor.cli import collect, diagnose, info, reach, runbooks, trace  # noqa: F401
from netdoctor.cli.app import app
from netdoctor.cli.lab import app as lab_app
from netdoctor.cli.options import lang_of
from netdoctor.errors import NetdoctorError

if TYPE_CHECKING:
    from netdoctor.catalog import Lang

__all__ = ["app", "main"]

# The lab's module imports only typer and two enums; its commands import the rest when run.
app.add_typer(lab_app, name="lab")


def _say(e: NetdoctorError, argv: list[str] | None) -> str:
    """The error in the language asked for (``--lang``, else the locale), when it has words."""
    if e.key is None:
        return str(e)
    from netdoctor.catalog import load_catalog

    args = sys.argv[1:] if argv is None else argv
    lang: Lang = lang_of(None)
    for i, a in enumerate(args):
        value = a.split("=", 1)[1] if a.startswith("--lang=") else None
        if a == "--lang" and i + 1 < len(args):
            value = args[i + 1]
        if value in ("en", "zh"):
            lang = "zh" if value == "zh" else "en"
    return load_catalog().text(e.key, lang, e.params)


def _fail(message: str, status: int = 2) -> NoReturn:
    sys.stderr.write(f"netdoctor: error: {message}\n")
    sys.exit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point of both console scripts."""
    import click

    try:
        # standalone_mode=False: the parser returns an Exit's status instead of calling sys.exit.
        status = app(args=argv, prog_name="netdoctor", standalone_mode=False)
        sys.exit(status if isinstance(status, int) else 0)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        _fail("interrupted", 130)
    except click.ClickException as e:  # the parser's usage errors (unknown option, bad value)
        _fail(" ".join(e.format_message().split()))
    except NetdoctorError as e:
        if os.environ.get("NETDOCTOR_DEBUG"):
            raise
        _fail(" ".join(_say(e, argv).split()), e.exit_status)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # the promise: never a traceback for the user
        if os.environ.get("NETDOCTOR_DEBUG"):
            raise
        _fail(f"internal error: {type(e).__name__}: {e} (NETDOCTOR_DEBUG=1 shows the traceback)")
