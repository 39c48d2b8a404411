"""Fixtures and helpers of tests/data live in data_helpers.py (a unique module name, so test
modules import helpers from it rather than from `conftest`, which is ambiguous across folders)."""
from data_helpers import *  # noqa: F401,F403
