"""Phase reconstruction for the mel codec: fast Griffin-Lim (Perraudin et al. 2013).

`griffin_lim(mag, ..., block=B)` runs in blocks of B frames, each with `context` frames of
overlap on both sides, in complex64: time grows linearly with length and memory stays constant
(the whole-clip form grew 34× for 12× the length at 120 s). Each block starts its overlap from
the phases the previous block converged to, so neighbouring blocks agree there, and the two are
cross-faded over half the context (raised cosine). block=0 is the whole-clip float64 form
(the reference the blocked one is measured against: `benchmarks/codec.py`).
"""
from __future__ import annotations

import numpy as np

from salsav_core.stft import istft, stft


def _fgla(mag: np.ndarray, angles: np.ndarray, n_fft: int, hop: int, iters: int,
          momentum: float) -> tuple[np.ndarray, np.ndarray]:
    """`iters` fast Griffin-Lim updates from unit-modulus `angles`; (wave, final angles)."""
    T = mag.shape[0]
    prev = np.zeros_like(angles)
    a = momentum / (1 + momentum)
    for _ in range(iters):
        rebuilt = stft(istft(mag * angles, n_fft, hop), T, n_fft, hop)
        angles = rebuilt - a * prev if momentum else rebuilt
        prev = rebuilt
        angles = angles / np.maximum(np.abs(angles), 1e-16)
    return istft(mag * angles, n_fft, hop), angles


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
    out = np.zeros(T * hop, np.float32)
    fade_n = (context // 2) * hop
    fade = (0.5 - 0.5 * np.cos(np.pi * (np.arange(2 * fade_n) + 0.5) / (2 * fade_n))).astype(np.float32)
    tail, s = None, 0
    while s < T:
        e = min(s + block, T)
        if T - e < context:                      # no stub block shorter than the context
            e = T
        a, b = max(s - context, 0), min(e + context, T)
        m = np.asarray(rows(a, b), np.float32)
        angles = np.exp(2j * np.pi * rng.random(m.shape)).astype(np.complex64)
        if tail is not None:
            angles[:len(tail)] = tail            # the overlap starts where the last block ended
        y, angles = _fgla(m, angles, n_fft, hop, iters, momentum)
        if s == 0:
            out[:b * hop] = y
        else:                                    # cross-fade around the block boundary s·hop
            lo, hi = s * hop - fade_n, s * hop + fade_n
            out[lo:hi] = (1 - fade) * out[lo:hi] + fade * y[lo - a * hop:hi - a * hop]
            out[hi:b * hop] = y[hi - a * hop:]
        tail = angles[max(e - context, a) - a:]
        s = e
    return out
