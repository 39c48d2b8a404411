"""Sync-feature length unification, paper Eq. 4 (A.4).

    ṽ_syn = LayerNorm(stopgrad(cubic_interp(v_syn))) + tanh(g) · ConvTranspose(v_syn)

Both paths are evaluated at the audio latent times j / LATENT_RATE, for any duration: the cubic
path reads v_syn (frame i at i / SYNC_FPS) by Keys cubic interpolation (a = -0.5), the
transposed conv (stride 2 -> frame k at k / (2·SYNC_FPS)) is resampled linearly. The resampling
weights are static numpy matrices built from the shapes at trace time.

The transposed conv and its linear resampling are applied together as one product: each kernel
tap k places input frame i at a fixed output frame, so resample ∘ place_k is a static
(T_a, T_syn) matrix, and the learned path is [M_0 v, ..., M_{K-1} v] @ kernel.reshape(K·D, D).
The weights are those of an `nnx.ConvTranspose` (checkpoints keep its names); on the CPU the
conv's weight gradient, a dilated convolution in XLA, took 12 % of a training step.
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


def conv_transpose_taps(n_in: int, kernel: int, stride: int) -> np.ndarray:
    """(kernel, stride·n_in, n_in) 0/1 matrices: tap k of `lax.conv_transpose(padding="SAME")`
    adds input frame i into output frame stride·i + pad_before - k."""
    pad_len = kernel + stride - 2                  # lax's SAME padding of a transposed conv
    pad_before = kernel - 1 if stride > kernel - 1 else -(-pad_len // 2)
    taps = np.zeros((kernel, stride * n_in, n_in), np.float32)
    i = np.arange(n_in)
    for k in range(kernel):
        o = stride * i + pad_before - k
        ok = (o >= 0) & (o < stride * n_in)
        taps[k, o[ok], i[ok]] = 1.0
    return taps


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
        kernel = self.up.kernel[...]                                                   # (K, D, D)
        w_lin = linear_weights(n_out, self.stride * t_syn, SYNC_FPS * self.stride)     # (T_a, stride*T_syn)
        taps = np.einsum("ao,kos->aks", w_lin, conv_transpose_taps(t_syn, kernel.shape[0], self.stride))
        placed = jnp.einsum("as,bsd->bad", jnp.asarray(taps.reshape(-1, t_syn)), v_syn)  # (B, T_a*K, D)
        learned = (placed.reshape(v_syn.shape[0], n_out, -1) @ kernel.reshape(-1, kernel.shape[-1])
                   + self.up.bias[...])                       # linear resampling rows sum to 1
        return self.norm(jax.lax.stop_gradient(interp)) + jnp.tanh(self.gate[...]) * learned
