"""The typer applications the command modules register on: ``netdoctor`` and its
``runbooks`` group (the ``lab`` group is ``netdoctor.cli.lab``'s).

CLI layer. Kept apart so that each command module imports the app, not the package.
"""

from __future__ import annotations

import typer

__all__ = ["app", "runbooks_app"]

app = typer.Typer(
    name="netdoctor",
    help=(
        "Find out why pods cannot reach each other, a Service or DNS, and how to fix it.\n\n"
        "找出 Pod 之间、Pod 到 Service 或 DNS 不通的原因，并给出修复方法。"
    ),
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


runbooks_app = typer.Typer(
    help=(
        "Troubleshooting runbooks: list, show, match a symptom, lint a folder.\n\n"
        "处置手册：列出、查看、按症状匹配、检查手册目录。"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(runbooks_app, name="runbooks")
