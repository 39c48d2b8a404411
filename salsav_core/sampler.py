"""Few-step shortcut sampler with CFG (Eq. 3), reference spans (A.1) and long-form extension.

Step sizes come from `step_sizes(n, schedule)`: "uniform" (n steps of 1/n, the paper's; the
default) or "fine-start" (the same number of steps, finer near the noise end, coarser near the data; every
step a power of two taken on its own grid, so each is a level the shortcut objective trained).
The whole N-step loop is one `lax.fori_loop` with a dynamic step count inside one `jax.jit`
over `nnx.split` state, so every step count (and, in `sample_long`, every duration) shares one
compiled executable. The conditional and unconditional CFG branches run as one batch of 2B.

Onset guidance (`onset_guidance` > 0, with `Conditions.onset`: the onset curve the sync model's
flux head reads from the picture) adds to each step's velocity the gradient of
`onset_agreement` at the predicted clean latent, raising the latent's spectral flux where the
picture predicts onsets; a training-free term, like classifier guidance without a classifier
pass through the network. Its measured effect is in experiments/sync/guidance/.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from . import aot
from .config import LATENT_RATE, SEM_FPS, SYNC_FPS, latent_frames, num_frames

ALLOWED_STEPS = (1, 2, 4, 8, 16, 32, 64)
SCHEDULES = ("uniform", "fine-start")
DEFAULT_SCHEDULE = "uniform"      # fine-start measured neutral (experiments/bundle-training/stages-1-7/train_log.txt)
FINEST_LEVEL = 1 / 64      # smallest shortcut step trained (objective: 7 levels); finer = flow (d = 0)
TRACE_COUNTS: collections.Counter = collections.Counter()   # incremented at each trace (compile)


class SamplerError(ValueError):
    """Bad sampler input (message safe to show a user)."""


@dataclass
class Conditions:
    """One clip's conditions, computed once per request."""
    sem: np.ndarray                       # (T_vs, sem_dim) at SEM_FPS
    sync: np.ndarray                      # (T_syn, sync_dim) at SYNC_FPS
    text: np.ndarray                      # (text_dim,)
    neg_text: np.ndarray | None = None    # replaces the null text in the unconditional branch
    drop_sem: bool = False                # ablations: the conditional branch also uses the
    drop_sync: bool = False               # learned null embedding for this stream
    onset: np.ndarray | None = None       # (T_syn,) onset strength the sync model reads from the
                                          # picture (`onset_guidance`), standardized per clip


def split_model(model):
    """Accept an nnx.Module or a (graphdef, state) pair; return (graphdef, state)."""
    if isinstance(model, nnx.Module):
        return nnx.split(model)
    graphdef, state = model
    return graphdef, state


def step_sizes(n_steps: int, schedule: str = DEFAULT_SCHEDULE) -> np.ndarray:
    """(n_steps,) float32 step sizes summing to 1; step i starts at t = sum of the earlier ones.

    "uniform": n steps of 1/n. "fine-start" (n >= 4; n <= 2 stays uniform): the step doubles at
    t = 1/4 and at t = 1/2, so half of the steps lie in the first quarter of the path, from the
    noise, where the timing of events is laid down. n = 8: 1/16 ×4, 1/8 ×2, 1/4 ×2. Every step
    is a power of two starting on a multiple of itself: a (t, d) pair the shortcut objective
    trains (`objective.sample_shortcut_levels`).
    """
    n = _check_steps(n_steps)
    if schedule not in SCHEDULES:
        raise SamplerError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if schedule == "uniform" or n <= 2:
        return np.full(n, 1.0 / n, np.float32)
    return np.repeat(np.array([0.5, 1.0, 2.0], np.float32) / n, [n // 2, n // 4, n // 4])


def onset_agreement(x1, target):
    """How much a latent x1 (B, T, C) rises where the picture predicts onsets: the sum over
    frames of max(target - 1, 0) times the latent's spectral flux (the codec's latent is a
    normalised log-mel; flux = the rise since the previous frame summed over bands, softened by
    a softplus so that a flat or falling frame still has a gradient). target (B, T) is a
    standardized onset curve, so only its peaks (> 1 std) count. Returns (B,)."""
    rise = jax.nn.softplus(2.0 * (x1[:, 1:] - x1[:, :-1])).sum(axis=-1) / 2.0   # (B, T-1)
    flux = jnp.concatenate([jnp.zeros_like(rise[:, :1]), rise], axis=1)
    return jnp.sum(flux * jnp.maximum(target - 1.0, 0.0), axis=1)


def _onset_push(x1, target):
    """The gradient of `onset_agreement` at x1: the onset guidance's velocity term."""
    return jax.grad(lambda z: onset_agreement(z, target).sum())(x1)


def _model_step(d):
    """The step size the model is told: below the finest trained level it is the flow (d = 0)."""
    return jnp.where(d < FINEST_LEVEL, 0.0, d)


@partial(jax.jit, static_argnums=0)
def _sample_loop(graphdef, state, x0, sem, sync, text, uncond_text, use_neg, ref, ref_mask,
                 dts, n_steps, guidance, cond_drop_sem, cond_drop_sync, onset, onset_w):
    """x0 (B,T,C) noise; sem (B,T_vs,Ds); sync (B,T_syn,Dy); text/uncond_text (B,Dt); use_neg (B,)
    bool; ref (B,T,C) with ref_mask (B,T) bool; dts (max(ALLOWED_STEPS),) f32 step sizes, the first
    n_steps used; n_steps int32 scalar; guidance f32 scalar; cond_drop_sem/cond_drop_sync (B,)
    bool: null that stream in the conditional branch too; onset (B,T) standardized target onset
    strength at the latent rate, onset_w f32 scalar: its guidance weight (0: none)."""
    TRACE_COUNTS["sample"] += 1
    model = nnx.merge(graphdef, state)
    b = x0.shape[0]
    ts = jnp.cumsum(dts) - dts                                # (S,) start time of each step
    no, yes = jnp.zeros((b,), bool), jnp.ones((b,), bool)
    # Branch 0..B-1: conditional with reference; B..2B-1: unconditional (null sem/sync, null or
    # negative text, no reference).
    sem2, sync2 = jnp.concatenate([sem, sem]), jnp.concatenate([sync, sync])
    text2 = jnp.concatenate([text, uncond_text])
    drop_sem = jnp.concatenate([cond_drop_sem, yes])
    drop_sync = jnp.concatenate([cond_drop_sync, yes])
    drop_text = jnp.concatenate([no, ~use_neg])
    mask2 = jnp.concatenate([ref_mask, jnp.zeros_like(ref_mask)])
    keep = ref_mask[..., None]

    def step(i, x):
        d = dts[i]
        t = jnp.full((2 * b,), ts[i])
        x_hat = jnp.where(keep, ref, x)                       # Eq. A.1: reference written in
        v = model(jnp.concatenate([x_hat, x]), t, jnp.full((2 * b,), _model_step(d)), mask2, sem2,
                  sync2, text2, drop_sem, drop_sync, drop_text)
        v_c, v_u = v[:b], v[b:]
        v = v_u + guidance * (v_c - v_u)                      # Eq. 3
        # onset guidance: raise the predicted clean latent's flux where the picture predicts
        # onsets (the gradient is taken at x + (1 - t) v, not through the network)
        v = v + onset_w * _onset_push(x + (1.0 - ts[i]) * v, onset)
        return x + d * v

    x = jax.lax.fori_loop(0, n_steps, step, x0)
    return jnp.where(keep, ref, x)                            # reference kept exactly


def _check_steps(steps: int) -> int:
    if int(steps) not in ALLOWED_STEPS:
        raise SamplerError(f"steps must be one of {ALLOWED_STEPS}, got {steps}")
    return int(steps)


def sample_batch(model, sem, sync, text, x0, steps: int = 8, guidance: float = 4.0,
                 ref=None, ref_mask=None, neg_text=None, drop_sem: bool = False,
                 drop_sync: bool = False, schedule: str = DEFAULT_SCHEDULE, onset=None,
                 onset_guidance: float = 0.0):
    """Batched sampling from given noise x0 (B, T, C). Returns jnp (B, T, C)."""
    graphdef, state = split_model(model)
    b, t, c = x0.shape
    f32 = lambda a: np.asarray(a, np.float32)   # noqa: E731  (numpy inputs: no eager device ops)
    ref = np.zeros((b, t, c), np.float32) if ref is None else f32(ref)
    ref_mask = np.zeros((b, t), bool) if ref_mask is None else np.asarray(ref_mask, bool)
    text = f32(text)
    use_neg = np.full((b,), neg_text is not None)
    uncond_text = text if neg_text is None else np.ascontiguousarray(np.broadcast_to(f32(neg_text), text.shape))
    return aot.call(_sample_loop, (graphdef,), state, f32(x0), f32(sem), f32(sync), text, uncond_text,
                    use_neg, ref, ref_mask, _padded_steps(steps, schedule),
                    np.asarray(_check_steps(steps), np.int32), np.asarray(guidance, np.float32),
                    np.full((b,), bool(drop_sem)), np.full((b,), bool(drop_sync)),
                    np.zeros((b, t), np.float32) if onset is None else f32(onset),
                    np.asarray(0.0 if onset is None else onset_guidance, np.float32))


def _padded_steps(steps: int, schedule: str) -> np.ndarray:
    """step_sizes padded with zeros to max(ALLOWED_STEPS): one shape for every step count."""
    dts = np.zeros(max(ALLOWED_STEPS), np.float32)
    sizes = step_sizes(steps, schedule)
    dts[:len(sizes)] = sizes
    return dts


@partial(jax.jit, static_argnums=0)
def _window_noise(shape: tuple, seed, i):
    return jax.random.normal(jax.random.fold_in(jax.random.key(seed), i), shape)


def window_noise(seed: int, i: int, shape: tuple) -> np.ndarray:
    """The noise of long-form window i: normal(fold_in(key(seed), i)), one compiled program
    (the same numbers as the eager calls; seeds past int32 take the eager path)."""
    if 0 <= seed < 2**31:
        return np.asarray(aot.call(_window_noise, (tuple(shape),), np.int32(seed), np.uint32(i)))
    return np.asarray(jax.random.normal(jax.random.fold_in(jax.random.key(seed), i), shape))


def _ref_arrays(n_frames: int, latent_dim: int, ref, ref_start: int):
    """Full-length reference buffer (T, C) and mask (T,) from an optional reference latent."""
    buf = np.zeros((n_frames, latent_dim), np.float32)
    mask = np.zeros((n_frames,), bool)
    if ref is not None:
        ref = np.asarray(ref, np.float32)
        if ref.ndim != 2 or ref.shape[1] != latent_dim:
            raise SamplerError(f"reference latent must be (T, {latent_dim}), got {ref.shape}")
        if not 0 <= ref_start < n_frames:
            raise SamplerError(f"reference start frame {ref_start} outside [0, {n_frames})")
        n = min(len(ref), n_frames - ref_start)
        buf[ref_start:ref_start + n] = ref[:n]
        mask[ref_start:ref_start + n] = True
    return buf, mask


def _check_cond(cond: Conditions, cfg) -> None:
    for name, arr, dim in (("sem", cond.sem, cfg.sem_dim), ("sync", cond.sync, cfg.sync_dim)):
        if np.ndim(arr) != 2 or np.shape(arr)[1] != dim or np.shape(arr)[0] < 1:
            raise SamplerError(f"{name} features must be (T>=1, {dim}), got {np.shape(arr)}")
    if np.shape(cond.text) != (cfg.text_dim,):
        raise SamplerError(f"text embedding must be ({cfg.text_dim},), got {np.shape(cond.text)}")
    if cond.neg_text is not None and np.shape(cond.neg_text) != (cfg.text_dim,):
        raise SamplerError(f"negative text embedding must be ({cfg.text_dim},), got {np.shape(cond.neg_text)}")


def _model_cfg(graphdef, state):
    return nnx.merge(graphdef, state).cfg


def sample(model, cond: Conditions, n_frames: int, steps: int = 8, guidance: float = 4.0,
           seed: int = 0, ref=None, ref_start: int = 0,
           progress: Callable[[int, int], None] | None = None,
           schedule: str = DEFAULT_SCHEDULE, onset_guidance: float = 0.0) -> np.ndarray:
    """One pass over exactly n_frames latent frames (features as given). Returns (n_frames, C)."""
    graphdef, state = split_model(model)
    cfg = _model_cfg(graphdef, state)
    _check_cond(cond, cfg)
    if n_frames < 1:
        raise SamplerError("n_frames must be >= 1")
    buf, mask = _ref_arrays(n_frames, cfg.latent_dim, ref, ref_start)
    x0 = jax.random.normal(jax.random.key(seed), (1, n_frames, cfg.latent_dim))
    out = sample_batch((graphdef, state), cond.sem[None], cond.sync[None], cond.text[None], x0,
                       steps, guidance, buf[None], mask[None], cond.neg_text, cond.drop_sem,
                       cond.drop_sync, schedule, _onset_window(cond, 0.0, n_frames), onset_guidance)
    if progress is not None:
        progress(1, 1)
    return np.asarray(out[0])


def resample_by_time(feats: np.ndarray, rate: float, start_time: float, n: int) -> np.ndarray:
    """Read n frames of a `rate` stream at times start_time + i / rate by linear interpolation,
    replicating the edge frame beyond either end. (T, D) -> (n, D)."""
    pos = np.clip(start_time * rate + np.arange(n), 0, len(feats) - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(feats) - 1)
    frac = (pos - lo)[:, None].astype(np.float32)
    return (1 - frac) * feats[lo] + frac * feats[hi]


def _onset_window(cond: Conditions, start_time: float, n: int) -> np.ndarray | None:
    """(1, n) target for `onset_guidance`: cond.onset (24 FPS) read at the latent frames' times
    from start_time (edge-held), standardized over the window; None without an onset curve."""
    if cond.onset is None:
        return None
    o = np.asarray(cond.onset, np.float32).reshape(-1)
    pos = (start_time + np.arange(n) / LATENT_RATE) * SYNC_FPS
    w = np.interp(pos, np.arange(len(o)), o).astype(np.float32)
    return ((w - w.mean()) / (w.std() + 1e-3))[None]


def window_starts(n_frames: int, window: int, overlap: int) -> list[int]:
    """Start frames of the long-form windows: hop = window - overlap."""
    if overlap >= window:
        raise SamplerError("overlap must be shorter than the window")
    starts = [0]
    while starts[-1] + window < n_frames:
        starts.append(starts[-1] + window - overlap)
    return starts


def sample_long(model: tuple[nnx.GraphDef, nnx.State], cond: Conditions, n_frames: int,
                steps: int = 8, guidance: float = 4.0, seed: int = 0,
                ref: np.ndarray | None = None, ref_start: int = 0,
                progress: Callable[[int, int], None] | None = None,
                schedule: str = DEFAULT_SCHEDULE, onset_guidance: float = 0.0) -> np.ndarray:
    """Long-form generation with one fixed window shape (cfg.window_frames) for any n_frames.

    Each window after the first takes the last `overlap_seconds` already generated as its
    reference at its start (plus any user reference that falls inside it); features are read
    by time for each window (edge-replicated past the end); the output is trimmed to n_frames.
    """
    graphdef, state = split_model(model)
    cfg = _model_cfg(graphdef, state)
    _check_cond(cond, cfg)
    if n_frames < 1:
        raise SamplerError("n_frames must be >= 1")
    win, ov = cfg.window_frames, latent_frames(cfg.overlap_seconds)
    n_sem, n_syn = num_frames(cfg.window_seconds, SEM_FPS), num_frames(cfg.window_seconds, SYNC_FPS)
    starts = window_starts(n_frames, win, ov)
    total = starts[-1] + win                                   # padded length
    out, known = _ref_arrays(total, cfg.latent_dim, ref, ref_start)
    if ref is not None and ref_start + len(ref) > n_frames:
        known[n_frames:] = False                               # ignore reference past the end
    sem, sync = np.asarray(cond.sem, np.float32), np.asarray(cond.sync, np.float32)
    text = np.asarray(cond.text, np.float32)[None]
    for i, s in enumerate(starts):
        t0 = s / LATENT_RATE
        x0 = window_noise(seed, i, (1, win, cfg.latent_dim))
        res = sample_batch((graphdef, state), resample_by_time(sem, SEM_FPS, t0, n_sem)[None],
                           resample_by_time(sync, SYNC_FPS, t0, n_syn)[None], text, x0, steps,
                           guidance, out[None, s:s + win], known[None, s:s + win], cond.neg_text,
                           cond.drop_sem, cond.drop_sync, schedule, _onset_window(cond, t0, win),
                           onset_guidance)
        out[s:s + win] = np.asarray(res)[0]                    # reference positions come back unchanged
        known[s:s + win] = True
        if progress is not None:
            progress(i + 1, len(starts))
    return out[:n_frames]
