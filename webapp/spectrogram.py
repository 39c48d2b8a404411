"""Log-mel spectrogram image of generated audio, with the reference span shaded and the
long-form window seams marked (matplotlib Agg; returns an RGB array)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from salsav_core.codec import mel_filterbank


def log_mel(wave: np.ndarray, sr: int, n_mels: int = 80, n_fft: int = 2048,
            hop: int = 512) -> tuple[np.ndarray, float]:
    """(n_mels, T) log-mel power in dB (max 0) and the frame rate in Hz."""
    wave = np.asarray(wave, np.float32)                         # (n,)
    if wave.size < n_fft:
        wave = np.pad(wave, (0, n_fft - wave.size))
    frames = sliding_window_view(wave, n_fft)[::hop]            # (T, n_fft), no padding
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)      # periodic Hann
    z = np.fft.rfft(frames * window, axis=1) / window.sum()    # scaled as scipy.signal.stft does
    power = (np.abs(z) ** 2).T                                  # (n_fft/2+1, T)
    mel = mel_filterbank(sr, n_fft, n_mels, 0.0, sr / 2) @ power        # (n_mels, T), the codec's Slaney filters
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max() - 80.0) - db.max()
    return db, sr / hop


def seams(windows) -> list[float]:
    """Times where one long-form window hands over to the next (the start of each later window)."""
    return [float(s) for s, _ in list(windows or [])[1:]]


def render_spectrogram(wave: np.ndarray, sr: int, windows=None, reference_span=None,
                       title: str = "", size: tuple[float, float] = (8.0, 2.6), dpi: int = 100) -> np.ndarray:
    """RGB image (H, W, 3) uint8 of the log-mel spectrogram (a Figure drawn on its own Agg
    canvas: no pyplot, no global backend)."""
    db, frame_rate = log_mel(wave, sr)
    seconds = len(wave) / sr
    from matplotlib.backends.backend_agg import FigureCanvasAgg   # lazy: matplotlib costs
    from matplotlib.figure import Figure                            # ~1 s of start-up
    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0,
              extent=(0.0, db.shape[1] / frame_rate, 0, db.shape[0]), interpolation="nearest")
    ax.set_xlim(0.0, seconds)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band")
    if reference_span is not None:
        a, b = reference_span
        ax.axvspan(a, b, color="#38bdf8", alpha=0.35, lw=0, label="reference audio")
    for k, t in enumerate(seams(windows)):
        ax.axvline(t, color="white", ls="--", lw=1.0, label="window seam" if k == 0 else None)
    if reference_span is not None or seams(windows):
        ax.legend(loc="upper right", fontsize=7, framealpha=0.6)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()   # (H, W, 3)
    return img
