"""Training objective as pure functions: masked flow matching + shortcut self-consistency.

Conventions (paper §3.2, §3.3; Frans et al. 2025, kvfrans `targets_shortcut.py`): t runs from
0 (noise x0) to 1 (data x1); x_t = (1 - t) x0 + t x1; the flow target is v = x1 - x0 and flow
rows use d = 0. Shortcut rows train the step 2d against the mean of two d-steps of the teacher
(EMA) model; d = 1/128 is the finest level and is queried as the flow level d = 0.
Positions with ref_mask = True hold the clean x1 and are left out of the loss.

`apply_fn(x_t, t, d, ref_mask, sem, sync, text, drop_sem, drop_sync, drop_text) -> v` is the
velocity network (see docs/architecture.md).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


class Drops(NamedTuple):
    sem: jax.Array    # (B,) bool
    sync: jax.Array   # (B,) bool
    text: jax.Array   # (B,) bool


def sample_t_lognormal(key, b: int, mean: float = 0.0, std: float = 1.0):
    """Logit-normal flow time: sigmoid(N(mean, std)). (B,)"""
    return jax.nn.sigmoid(mean + std * jax.random.normal(key, (b,)))


def sample_ref_mask(key, b: int, t: int, p: float = 0.25, min_len: int = 1, max_len: int = 88):
    """(B, T) bool: with probability p a row keeps one contiguous clean span of min_len..max_len."""
    k_sel, k_len, k_start = jax.random.split(key, 3)
    hi = min(max_len, t)
    sel = jax.random.bernoulli(k_sel, p, (b,))
    length = jax.random.randint(k_len, (b,), min(min_len, hi), hi + 1)                  # [min, hi]
    start = jnp.floor(jax.random.uniform(k_start, (b,)) * (t - length + 1)).astype(jnp.int32)
    pos = jnp.arange(t)[None]
    return sel[:, None] & (pos >= start[:, None]) & (pos < (start + length)[:, None])


def sample_drops(key, b: int, p: float = 0.1) -> Drops:
    """Independent condition dropout flags, each True with probability p."""
    ks = jax.random.split(key, 3)
    return Drops(*(jax.random.bernoulli(k, p, (b,)) for k in ks))


def interpolate(x0, x1, t, ref_mask):
    """x_t = (1-t) x0 + t x1, with the clean x1 kept at reference positions. (B, T, C)"""
    x_t = (1.0 - t[:, None, None]) * x0 + t[:, None, None] * x1
    return jnp.where(ref_mask[..., None], x1, x_t)


def sample_shortcut_levels(key, b: int, n_levels: int = 7):
    """Shortcut rows: level k in [0, n_levels), big step 2d = 1/2^k, t on its grid.

    Returns (t, d2, d_teacher): t (B,), d2 = 1/2^k the step the student is trained for, and
    d_teacher = d2 / 2 the teacher's step (0 at the finest level 1/2^n_levels = flow level).
    """
    k_lvl, k_t = jax.random.split(key)
    k = jax.random.randint(k_lvl, (b,), 0, n_levels)
    sections = 2 ** k                                                          # 1, 2, 4, ...
    t = jax.random.randint(k_t, (b,), 0, sections).astype(jnp.float32) / sections
    d2 = 1.0 / sections.astype(jnp.float32)
    d_teacher = jnp.where(k + 1 >= n_levels, 0.0, d2 / 2)
    return t, d2, d_teacher


def shortcut_target(teacher: Callable, x_t, x1, t, d2, d_teacher, ref_mask, conds: tuple, drops: Drops):
    """Self-consistency target for one step of size d2: mean of two teacher steps of size d2/2.
    No gradient flows through it. conds = (sem, sync, text)."""
    half = d2 / 2
    v1 = teacher(x_t, t, d_teacher, ref_mask, *conds, *drops)
    x_mid = jnp.where(ref_mask[..., None], x1, x_t + half[:, None, None] * v1)
    v2 = teacher(x_mid, t + half, d_teacher, ref_mask, *conds, *drops)
    return jax.lax.stop_gradient((v1 + v2) / 2)


def onset_weights(x1, strength: float, cap: float = 8.0):
    """(B, T) per-frame loss weights that favour transients, mean 1 in every row.

    flux_j = mean_c relu(x1[j, c] - x1[j-1, c]) is the rise of the (normalised log-mel) latent
    into frame j, the spectral flux an onset detector reads; w_j ∝ 1 + s · min(flux_j / mean_j
    flux, cap), rescaled to mean 1 (the cap keeps one onset in a quiet clip from taking the
    whole row). strength 0 gives all ones (the paper's loss). Uses only the target latents."""
    rise = jnp.maximum(x1[:, 1:] - x1[:, :-1], 0.0).mean(-1)                   # (B, T-1)
    flux = jnp.concatenate([jnp.zeros_like(rise[:, :1]), rise], axis=1)         # (B, T)
    rel = jnp.minimum(flux / (flux.mean(axis=1, keepdims=True) + 1e-6), cap)
    w = 1.0 + strength * rel
    return jax.lax.stop_gradient(w / w.mean(axis=1, keepdims=True))


def masked_mse(pred, target, ref_mask, weights=None):
    """Mean squared error over positions to generate (ref_mask False) only; `weights` (B, T)
    scales each frame's error (the normaliser stays the count of generated positions)."""
    w = (~ref_mask).astype(pred.dtype)[..., None]                              # (B, T, 1)
    n = jnp.maximum(w.sum() * pred.shape[-1], 1.0)
    if weights is not None:
        w = w * weights[..., None]
    return jnp.sum(w * (pred - target) ** 2) / n


class Targets(NamedTuple):
    x_t: jax.Array       # (B, T, C)
    t: jax.Array         # (B,)
    d: jax.Array         # (B,)  0 for flow rows, the shortcut step 2d for shortcut rows
    target: jax.Array    # (B, T, C), no gradient
    is_shortcut: jax.Array   # (B,) bool


def make_targets(key, teacher: Callable, x1, ref_mask, conds: tuple, drops: Drops, n_shortcut: int,
                 n_levels: int = 7, t_mean: float = 0.0, t_std: float = 1.0) -> Targets:
    """Flow targets for all rows, then shortcut targets for the first n_shortcut rows (static)."""
    b = x1.shape[0]
    k_noise, k_t, k_sc = jax.random.split(key, 3)
    x0 = jax.random.normal(k_noise, x1.shape)
    t = sample_t_lognormal(k_t, b, t_mean, t_std)
    d = jnp.zeros((b,))
    target = x1 - x0
    if n_shortcut > 0:
        t_s, d2, d_teach = sample_shortcut_levels(k_sc, n_shortcut, n_levels)
        t = t.at[:n_shortcut].set(t_s)
        d = d.at[:n_shortcut].set(d2)
    x_t = interpolate(x0, x1, t, ref_mask)
    if n_shortcut > 0:
        s = slice(0, n_shortcut)
        sub = tuple(c[s] for c in conds)
        tgt = shortcut_target(teacher, x_t[s], x1[s], t[s], d2, d_teach, ref_mask[s], sub,
                              Drops(*(x[s] for x in drops)))
        target = target.at[s].set(tgt)
    is_sc = jnp.arange(b) < n_shortcut
    return Targets(x_t, t, d, jax.lax.stop_gradient(target), is_sc)
