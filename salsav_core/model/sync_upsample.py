"""Sync-feature length unification, paper Eq. 4 (A.4).

    ṽ_syn = LayerNorm(stopgrad(cubic_interp(v_syn))) + tanh(g) · ConvTranspose(v_syn)

Both paths are evaluated at the audio latent times j / LATENT_RATE, for any duration: the cubic
path reads v_syn (frame i at i / SYNC_FPS) by Keys cubic interpolation (a = -0.5), the
transposed conv (stride 2 -> frame k at k / (2·SYNC_FPS)) is resampled linearly. The resampling
weights are static numpy matrices built from the shapes at trace time.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..config import LATENT_RATE, SYNC_FPS


def _keys(x, a: float = -0.5):
    x = np.abs(x)
    return np.where(x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                    np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))


def cubic_weights(n_out: int, n_in: int, in_rate: float, out_rate: float = LATENT_RATE) -> np.ndarray:
    """(n_out, n_in) Keys-cubic interpolation matrix; output frame j sits at j / out_rate, edges clamped."""
    p = np.arange(n_out) * (in_rate / out_rate)          # positions in input frames
    base = np.floor(p).astype(np.int64)
    w = np.zeros((n_out, n_in), np.float32)
    for o in (-1, 0, 1, 2):
        idx = base + o
        np.add.at(w, (np.arange(n_out), np.clip(idx, 0, n_in - 1)), _keys(p - idx))
    return w


def linear_weights(n_out: int, n_in: int, in_rate: float, out_rate: float = LATENT_RATE) -> np.ndarray:
    """(n_out, n_in) linear interpolation matrix, edges clamped."""
    p = np.clip(np.arange(n_out) * (in_rate / out_rate), 0, n_in - 1)
    lo = np.floor(p).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (p - lo).astype(np.float32)
    w = np.zeros((n_out, n_in), np.float32)
    np.add.at(w, (np.arange(n_out), lo), 1 - frac)
    np.add.at(w, (np.arange(n_out), hi), frac)
    return w


class SyncUpsample(nnx.Module):
    """(B, T_syn, D) sync features at SYNC_FPS -> (B, T_a, D) at the latent rate (Eq. 4)."""

    def __init__(self, dim: int, rngs: nnx.Rngs, stride: int = 2, kernel: int = 4):
        self.stride = stride
        self.norm = nnx.LayerNorm(dim, epsilon=1e-6, rngs=rngs)
        self.up = nnx.ConvTranspose(dim, dim, kernel_size=(kernel,), strides=(stride,),
                                    padding="SAME", rngs=rngs)
        self.gate = nnx.Param(jnp.zeros((), jnp.float32))   # g, tanh(0) = 0 at init

    def __call__(self, v_syn, n_out: int):
        t_syn = v_syn.shape[1]
        w_cubic = jnp.asarray(cubic_weights(n_out, t_syn, SYNC_FPS))                 # (T_a, T_syn)
        interp = jnp.einsum("as,bsd->bad", w_cubic, v_syn)
        learned = self.up(v_syn)                                                       # (B, stride*T_syn, D)
        w_lin = jnp.asarray(linear_weights(n_out, learned.shape[1], SYNC_FPS * self.stride))
        learned = jnp.einsum("as,bsd->bad", w_lin, learned)
        return self.norm(jax.lax.stop_gradient(interp)) + jnp.tanh(self.gate[...]) * learned
