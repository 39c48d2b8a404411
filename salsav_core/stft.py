"""The codec's STFT pair: periodic Hann window, frame i centred at sample i·hop (zero padding
outside the signal), least-squares (weighted overlap-add) inverse. float64 in, float64 out;
float32 in, float32/complex64 out (half the memory and about twice the speed; the codec's
phase reconstruction runs in float32)."""
from __future__ import annotations

import functools

import numpy as np


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
    need = (n_frames + r - 1) * hop            # padded length covering every frame
    pad = np.zeros(need, dtype=dt)
    n = min(len(x), need - n_fft // 2)
    pad[n_fft // 2:n_fft // 2 + n] = x[:n]
    blocks = pad.reshape(-1, hop)             # (n_frames + r - 1, hop)
    frames = np.concatenate([blocks[j:j + n_frames] for j in range(r)], axis=1)  # (T, n_fft)
    return np.fft.rfft(frames * _window(n_fft, dt), axis=1)


def istft(spec: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Least-squares inverse of `stft` (weighted overlap-add). (T·hop,)."""
    dt = _real(spec)
    r = n_fft // hop
    T = spec.shape[0]
    w = _window(n_fft, dt)
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * w          # (T, n_fft)
    out = np.zeros((T + r - 1, hop), dt)
    norm = np.zeros((T + r - 1, hop), dt)
    w2 = (w * w).reshape(r, hop)
    for j in range(r):
        out[j:j + T] += frames[:, j * hop:(j + 1) * hop]
        norm[j:j + T] += w2[j]
    # The last half frame is covered by one window tail only: its window-power sum falls to 0,
    # and dividing by it amplifies reconstruction error without bound (peaks of 100-700 were
    # seen). Floor the normaliser at 10% of its full-overlap value: the tail fades instead.
    norm = norm.reshape(-1)
    y = out.reshape(-1) / np.maximum(norm, 0.1 * norm.max())
    return y[n_fft // 2:n_fft // 2 + T * hop]
