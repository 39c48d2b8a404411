"""Spectrogram image: log-mel of the audio, reference span shaded, window seams drawn."""
import numpy as np

from webapp.spectrogram import log_mel, render_spectrogram, seams


def test_webapp_log_mel_finds_the_tone():
    sr = 44100
    t = np.arange(sr) / sr
    low, _ = log_mel(np.sin(2 * np.pi * 200 * t).astype(np.float32), sr)
    high, rate = log_mel(np.sin(2 * np.pi * 8000 * t).astype(np.float32), sr)
    assert low.shape[0] == 80 and abs(rate - sr / 512) < 1e-9 and low.max() == 0.0
    assert low.mean(axis=1).argmax() < high.mean(axis=1).argmax()


def test_webapp_seams_are_window_starts():
    assert seams([(0, 1), (0.75, 1.75), (1.5, 2.0)]) == [0.75, 1.5]
    assert seams([(0, 1)]) == [] and seams(None) == []


def test_webapp_spectrogram_marks_reference_and_seams():
    sr = 44100
    wave = (0.1 * np.random.default_rng(0).standard_normal(2 * sr)).astype(np.float32)
    plain = render_spectrogram(wave, sr)
    marked = render_spectrogram(wave, sr, windows=[(0, 1), (0.75, 1.75), (1.5, 2.0)],
                                reference_span=(0.2, 0.6))
    assert plain.shape == marked.shape == (260, 800, 3) and plain.dtype == np.uint8
    diff = np.abs(plain.astype(int) - marked.astype(int)).sum(axis=(0, 2))   # (W,) per column
    cols = np.nonzero(diff > 2000)[0]
    assert cols.size > 40                      # the shaded span covers many columns
    assert plain.std() > 20                    # a real picture, not a blank canvas
