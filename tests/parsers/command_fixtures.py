"""Command output captured once into tests/fixtures/commands/, read back as bytes."""

from __future__ import annotations

from pathlib import Path

COMMANDS = Path(__file__).resolve().parent.parent / "fixtures" / "commands"


def read_command_output(name: str) -> bytes:
    """The fixture's bytes without its first line, which names the producing command."""
    data = (COMMANDS / name).read_bytes()
    first, _, rest = data.partition(b"\n")
    assert first.startswith(b"# "), f"{name}: the first line must name the producing command"
    return rest
