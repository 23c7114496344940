"""Test-wide settings: checks that crash re-raise (NETDOCTOR_STRICT), and shared helpers."""

from __future__ import annotations

import os

os.environ["NETDOCTOR_STRICT"] = "1"
