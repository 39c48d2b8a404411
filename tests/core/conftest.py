"""Fixtures and helpers of tests/core live in core_helpers.py (a unique module name, so test
modules import helpers from it rather than from `conftest`, which is ambiguous across folders)."""
from core_helpers import *  # noqa: F401,F403
