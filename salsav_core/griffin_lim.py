"""Phase reconstruction for the mel codec: fast Griffin-Lim (Perraudin et al. 2013).

`griffin_lim(mag, ..., block=B)` runs in blocks of B frames, each with `context` frames of
overlap on both sides, in float32: time grows linearly with length and memory stays constant
(the whole-clip form grew 34× for 12× the length at 120 s). Each block starts its overlap from
the phases the previous block converged to, so neighbouring blocks agree there, and the two are
cross-faded over half the context (raised cosine).

A block's iterations run as one jitted XLA loop (the elementwise updates fuse: 0.6 ms a frame
against 1.0 for numpy and scipy's FFT). Block lengths are padded with silent frames to a multiple
of `BUCKET` frames, so a codec compiles at most (B + 2·context) / BUCKET shapes, once each
(`aot` keeps them across processes). block=0 is the whole-clip float64 numpy form, the
reference the blocked one is measured against (`benchmarks/codec.py`).
"""
from __future__ import annotations

import functools

import numpy as np

from salsav_core import aot
from salsav_core.stft import _inverse_norm, _window, istft, stft

BUCKET = 64                                      # block lengths are multiples of this (frames)


def _fgla(mag: np.ndarray, angles: np.ndarray, n_fft: int, hop: int, iters: int,
          momentum: float) -> tuple[np.ndarray, np.ndarray]:
    """`iters` fast Griffin-Lim updates from unit-modulus `angles` in numpy; (wave, angles)."""
    T = mag.shape[0]
    prev = np.zeros_like(angles)
    a = momentum / (1 + momentum)
    for _ in range(iters):
        rebuilt = stft(istft(mag * angles, n_fft, hop), T, n_fft, hop)
        angles = rebuilt - a * prev if momentum else rebuilt
        prev = rebuilt
        angles = angles / np.maximum(np.abs(angles), 1e-16)
    return istft(mag * angles, n_fft, hop), angles


@functools.lru_cache(maxsize=1)
def _fgla_jit():
    """The same updates for a (T, n_fft//2+1) float32 block as one jitted function
    (n_fft, hop, iters, momentum static; mag, angles) → (wave, angles)."""
    import jax           # lazy: the codec's encoder and the data workers never need it
    import jax.numpy as jnp

    def run(n_fft: int, hop: int, iters: int, momentum: float, mag, angles):
        T, r, a, lo = mag.shape[0], n_fft // hop, momentum / (1 + momentum), n_fft // 2
        w = jnp.asarray(_window(n_fft, np.float32))
        inv = jnp.asarray(_inverse_norm(T, n_fft, hop, np.float32))

        def stft_(x):
            pad = jnp.zeros((T + r - 1) * hop, jnp.float32).at[lo:lo + T * hop].set(x)
            blocks = pad.reshape(-1, hop)
            return jnp.fft.rfft(jnp.concatenate([blocks[j:j + T] for j in range(r)], axis=1) * w, axis=1)

        def istft_(spec):
            frames = jnp.fft.irfft(spec, n=n_fft, axis=1) * w
            out = jnp.zeros((T + r - 1, hop), jnp.float32)
            for j in range(r):
                out = out.at[j:j + T].add(frames[:, j * hop:(j + 1) * hop])
            return (out.reshape(-1) * inv)[lo:lo + T * hop]

        def step(_, carry):
            angles, prev = carry
            rebuilt = stft_(istft_(mag * angles))
            angles = rebuilt - a * prev if momentum else rebuilt
            return angles / jnp.maximum(jnp.abs(angles), 1e-16), rebuilt

        angles, _ = jax.lax.fori_loop(0, iters, step, (angles, jnp.zeros_like(angles)))
        return istft_(mag * angles), angles

    return jax.jit(run, static_argnums=(0, 1, 2, 3))


def griffin_lim(mag, n_fft: int, hop: int, iters: int = 32, momentum: float = 0.99,
                seed: int = 0, block: int = 0, context: int = 16,
                n_frames: int | None = None) -> np.ndarray:
    """mag (T, F) → (T·hop,) wave. block=0: one float64 pass over the whole clip; block > 0:
    float32 blocks of `block` frames with `context` frames of overlap (see the module doc).
    `mag` may also be a function (a, b) → rows a..b-1 of the magnitude, with n_frames = T,
    so that a long clip's magnitude is never held whole."""
    rng = np.random.default_rng(seed)
    rows = mag if callable(mag) else (lambda a, b: mag[a:b])
    T = int(n_frames if callable(mag) else mag.shape[0])
    if block <= 0:
        m = np.asarray(rows(0, T), np.float64)
        angles = np.exp(2j * np.pi * rng.random(m.shape))
        return _fgla(m, angles, n_fft, hop, iters, momentum)[0]
    context = max(min(context, block // 2), 2)
    L = block + 2 * context                      # the most frames one block holds
    out = np.zeros(T * hop, np.float32)
    fade_n = (context // 2) * hop
    fade = (0.5 - 0.5 * np.cos(np.pi * (np.arange(2 * fade_n) + 0.5) / (2 * fade_n))).astype(np.float32)
    tail, s = None, 0
    while s < T:
        e = min(s + block, T)
        if T - e < context:                      # no stub block shorter than the context
            e = T
        a = max(s - context, 0)
        n = min(e + context, T) - a
        shape = min(-(-n // BUCKET) * BUCKET, L)  # few shapes: each compiles once
        b = min(a + shape, T)
        m = np.zeros((shape, n_fft // 2 + 1), np.float32)
        m[:b - a] = rows(a, b)                   # frames past the clip's end stay silent
        angles = np.exp(2j * np.pi * rng.random(m.shape)).astype(np.complex64)
        if tail is not None:
            angles[:len(tail)] = tail            # the overlap starts where the last block ended
        y, angles = aot.call(_fgla_jit(), (n_fft, hop, iters, float(momentum)), m, angles)
        y, angles = np.asarray(y), np.asarray(angles)
        if s == 0:
            out[:b * hop] = y[:b * hop]
        else:                                    # cross-fade around the block boundary s·hop
            lo, hi = s * hop - fade_n, s * hop + fade_n
            out[lo:hi] = (1 - fade) * out[lo:hi] + fade * y[lo - a * hop:hi - a * hop]
            out[hi:b * hop] = y[hi - a * hop:(b - a) * hop]
        tail = angles[max(e - context, a) - a:b - a]
        s = e
    return out
