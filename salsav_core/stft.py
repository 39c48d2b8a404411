"""The codec's STFT pair: periodic Hann window, frame i centred at sample i·hop (zero padding
outside the signal), least-squares (weighted overlap-add) inverse. float64 in, float64 out;
float32 in, float32/complex64 out (half the memory and about twice the speed; the codec's
phase reconstruction runs in float32).

Frames are strided views of the padded signal (no per-frame copies), the FFTs are scipy's
(native float32, and `WORKERS` threads), and the overlap-add normaliser is cached per length:
Griffin-Lim calls this pair 2 × 32 times per block.
"""
from __future__ import annotations

import functools
import os

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

WORKERS = max(min(os.cpu_count() or 1, 4), 1)   # FFT threads (rows are independent)


def _fft():
    """scipy.fft, imported on first use: it costs 0.3-0.7 s of every start, and generating
    (whose phase reconstruction runs in XLA) never needs it."""
    import scipy.fft
    return scipy.fft


@functools.lru_cache(maxsize=8)
def _window(n_fft: int, dtype=np.float64) -> np.ndarray:
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(dtype)   # periodic Hann
    w.setflags(write=False)
    return w


def _real(x) -> type:
    return np.float32 if np.asarray(x).dtype in (np.float32, np.complex64) else np.float64


def stft(x: np.ndarray, n_frames: int, n_fft: int, hop: int) -> np.ndarray:
    """Complex STFT, frame i centred at sample i·hop (zero padding). (n_frames, n_fft//2+1)."""
    assert n_fft % hop == 0, "n_fft must be a multiple of hop"
    dt = _real(x)
    r = n_fft // hop
    if n_frames <= 0:
        return np.zeros((0, n_fft // 2 + 1), np.complex64 if dt == np.float32 else np.complex128)
    need = (n_frames + r - 1) * hop            # padded length covering every frame
    pad = np.zeros(need, dtype=dt)
    n = min(len(x), need - n_fft // 2)
    pad[n_fft // 2:n_fft // 2 + n] = x[:n]
    frames = sliding_window_view(pad, n_fft)[::hop][:n_frames] * _window(n_fft, dt)   # (T, n_fft)
    return _fft().rfft(frames, axis=1, overwrite_x=True, workers=WORKERS)


@functools.lru_cache(maxsize=16)
def _inverse_norm(T: int, n_fft: int, hop: int, dtype) -> np.ndarray:
    """1 / the window-power sum of `T` overlapping frames, floored (see `istft`)."""
    r = n_fft // hop
    w2 = (_window(n_fft, dtype) ** 2).reshape(r, hop)
    norm = np.zeros((T + r - 1, hop), dtype)
    for j in range(r):
        norm[j:j + T] += w2[j]
    # The last half frame is covered by one window tail only: its window-power sum falls to 0,
    # and dividing by it amplifies reconstruction error without bound (peaks of 100-700 were
    # seen). Floor the normaliser at 10% of its full-overlap value: the tail fades instead.
    norm = norm.reshape(-1)
    inv = (1.0 / np.maximum(norm, 0.1 * norm.max())).astype(dtype)
    inv.setflags(write=False)
    return inv


def istft(spec: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Least-squares inverse of `stft` (weighted overlap-add). (T·hop,)."""
    dt = _real(spec)
    r = n_fft // hop
    T = spec.shape[0]
    frames = _fft().irfft(spec, n=n_fft, axis=1, workers=WORKERS)
    frames *= _window(n_fft, dt)                                # (T, n_fft)
    out = np.zeros((T + r - 1, hop), dt)
    for j in range(r):
        out[j:j + T] += frames[:, j * hop:(j + 1) * hop]
    y = out.reshape(-1) * _inverse_norm(T, n_fft, hop, dt)
    return y[n_fft // 2:n_fft // 2 + T * hop]
