"""Shared fixtures for the SALSA-V core tests (tiny `test` preset, CPU)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import numpy as np
import pytest
from flax import nnx

from salsav_core.config import MODEL_PRESETS, SEM_FPS, SYNC_FPS, latent_frames, num_frames
from salsav_core.model import SalsaV


@pytest.fixture(scope="session")
def cfg():
    return MODEL_PRESETS["test"]


@pytest.fixture(scope="session")
def model(cfg):
    """Test-preset model whose zero-initialised weights (adaLN-zero, output head, nulls, gate)
    are randomised, so that its output depends on every input."""
    graphdef, state = nnx.split(SalsaV(cfg, nnx.Rngs(0)))
    rng = np.random.default_rng(0)
    state = jax.tree.map(lambda x: x if np.any(np.asarray(x)) else
                         jax.numpy.asarray(0.05 * rng.normal(size=x.shape), np.float32), state)
    return nnx.merge(graphdef, state)


def make_batch(cfg, b: int, seconds: float, seed: int = 0) -> dict:
    """Random training batch dict(x1, sem, sync, text) for `seconds` of audio."""
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.normal(size=s).astype(np.float32)  # noqa: E731
    return dict(x1=f(b, latent_frames(seconds), cfg.latent_dim),
                sem=f(b, num_frames(seconds, SEM_FPS), cfg.sem_dim),
                sync=f(b, num_frames(seconds, SYNC_FPS), cfg.sync_dim),
                text=f(b, cfg.text_dim))
