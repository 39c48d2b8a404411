"""SALSA-V velocity network (flax.nnx)."""
from .network import SalsaV, abstract_model, init_model, param_count

__all__ = ["SalsaV", "abstract_model", "init_model", "param_count"]
