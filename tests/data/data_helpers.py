"""Shared helpers for the SynthFoley tests: an independent spectral-flux onset detector."""
import numpy as np
import pytest

from salsav_core.data.synthfoley import make_clip


def onset_times(audio: np.ndarray, sr: int = 44100, n_fft: int = 256, hop: int = 32,
                bands: int = 24, lag: int = 3, k: float = 5.0, rel: float = 0.2) -> np.ndarray:
    """Onsets (s): peaks (over +-8 ms) of log band-energy flux above
    max(median + k * MAD, rel * 99.9th percentile)."""
    x = np.concatenate([np.zeros(n_fft // 2), audio.astype(np.float64), np.zeros(n_fft // 2)])
    nfr = 1 + (len(x) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(x, (nfr, n_fft), (x.strides[0] * hop, x.strides[0]))
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2    # (F, bins)
    edges = np.unique(np.geomspace(1, power.shape[1], bands + 1).astype(int))
    logband = np.log(1e-2 + np.add.reduceat(power, edges[:-1], axis=1))     # (F, bands)
    flux = np.concatenate([np.zeros(lag), np.maximum(logband[lag:] - logband[:-lag], 0).sum(1)])
    med = np.median(flux)
    thr = max(med + k * np.median(np.abs(flux - med)), rel * np.percentile(flux, 99.9)) + 1e-9
    w = max(1, int(0.008 * sr / hop))
    win = np.lib.stride_tricks.sliding_window_view(np.pad(flux, w), 2 * w + 1)
    return np.flatnonzero((flux >= win.max(1)) & (flux > thr)) * hop / sr


@pytest.fixture(scope="session")
def clips():
    """A dozen 5 s clips shared across tests (64 px)."""
    return [make_clip(s, 5.0, 64) for s in range(12)]
