"""Sync-model audio input: 16 kHz audio -> 128-band log-mel (25 ms window, 10 ms hop). numpy/scipy only."""
from __future__ import annotations

import functools
from math import gcd

import numpy as np

SR = 16000
WIN = 400        # 25 ms
HOP = 160        # 10 ms
N_FFT = 512


def to_16k(wave: np.ndarray, sr: int) -> np.ndarray:
    """(n,) at sr -> (m,) float32 at 16 kHz (polyphase resampling)."""
    wave = np.asarray(wave, np.float32)
    if wave.ndim != 1:
        raise ValueError(f"expected mono audio (n,), got shape {wave.shape}")
    if sr == SR:
        return wave
    g = gcd(SR, int(sr))
    from scipy.signal import resample_poly   # lazy: scipy.signal costs ~1 s of every start
    return resample_poly(wave, SR // g, int(sr) // g).astype(np.float32)


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=8)
def mel_filterbank(n_mels: int = 128, n_fft: int = N_FFT, sr: int = SR, fmin: float = 20.0,
                   fmax: float = 8000.0) -> np.ndarray:
    """(n_fft//2+1, n_mels) triangular HTK-mel filters, each normalised to unit area."""
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(up, down))                       # (n_mels, F)
    fb /= np.maximum(fb.sum(axis=1, keepdims=True), 1e-8)
    return fb.T.astype(np.float32)


def log_mel(wave16k: np.ndarray, n_mels: int = 128) -> np.ndarray:
    """(..., n) 16 kHz -> (..., frames, n_mels) normalised log-mel; frames = 1 + n // 160 (centred)."""
    x = np.asarray(wave16k, np.float32)
    pad = N_FFT // 2
    x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="constant")
    n_frames = 1 + (x.shape[-1] - N_FFT) // HOP
    idx = np.arange(n_frames)[:, None] * HOP + np.arange(N_FFT)[None]   # (frames, N_FFT)
    win = np.zeros(N_FFT, np.float32)
    off = (N_FFT - WIN) // 2
    win[off:off + WIN] = np.hanning(WIN + 2)[1:-1]
    spec = np.abs(np.fft.rfft(x[..., idx] * win, axis=-1)) ** 2       # (..., frames, F)
    mel = spec @ mel_filterbank(n_mels)                                # (..., frames, n_mels)
    return ((np.log(mel + 1e-8) + 10.0) / 5.0).astype(np.float32)


def snippet_mels(wave16k: np.ndarray, starts_s, seconds: float, mel_frames: int,
                 n_mels: int) -> np.ndarray:
    """Log-mels of snippets of one clip: starts (S,) seconds -> (S, mel_frames, n_mels).

    Snippets running past the end are zero-padded (silence)."""
    n = int(round(seconds * SR))
    out = np.zeros((len(starts_s), n), np.float32)
    for i, s in enumerate(starts_s):
        a = int(round(s * SR))
        seg = wave16k[max(a, 0):a + n]
        out[i, max(-a, 0):max(-a, 0) + len(seg)] = seg[: n - max(-a, 0)]
    return log_mel(out, n_mels)[:, :mel_frames]
