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


def test_webapp_log_mel_matches_scipy_stft():
    """The numpy STFT (no scipy.signal import at start-up) computes what scipy.signal.stft does."""
    from scipy.signal import stft

    from salsav_core.codec import mel_filterbank
    sr, rng = 16000, np.random.default_rng(1)
    for n in (700, 3 * sr + 123):                  # shorter than one frame (zero padded), and long
        wave = (rng.standard_normal(n) * np.sin(np.arange(n) / 300)).astype(np.float32)
        db, _ = log_mel(wave, sr)
        _, _, z = stft(np.pad(wave, (0, max(0, 2048 - n))), nperseg=2048, noverlap=2048 - 512,
                       boundary=None, padded=False)
        ref = 10 * np.log10(np.maximum(mel_filterbank(sr, 2048, 80, 0.0, sr / 2) @ np.abs(z) ** 2, 1e-10))
        ref = np.maximum(ref, ref.max() - 80.0) - ref.max()
        assert db.shape == ref.shape and np.abs(db - ref).max() < 1e-3


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
