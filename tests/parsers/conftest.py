"""Fixtures for the parser tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from command_fixtures import read_command_output


@pytest.fixture
def command_output() -> Callable[[str], bytes]:
    return read_command_output
