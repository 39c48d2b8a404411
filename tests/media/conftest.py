"""Fixtures and helpers of tests/media live in media_helpers.py (a unique module name, so test
modules import helpers from it rather than from `conftest`, which is ambiguous across folders)."""
from media_helpers import *  # noqa: F401,F403
