"""SynthFoley's one error type, in its own module so that every world module can raise it."""
from __future__ import annotations


class SynthFoleyError(ValueError):
    """Bad arguments to the SynthFoley generator."""
