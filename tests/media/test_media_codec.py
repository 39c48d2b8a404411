"""MelCodec: shapes and rates, resampling/stereo, stats, serialisation, round-trip quality."""
from __future__ import annotations

import time

import numpy as np
import pytest

from salsav_core import metrics
from salsav_core.codec import CodecError, MelCodec, mel_filterbank, stft
from salsav_core.config import latent_frames

from media_helpers import SR, clack_train


def test_filterbank_matches_slaney():
    M = mel_filterbank(SR, 2048, 64, 0.0, SR / 2)
    assert M.shape == (64, 1025) and (M.max(axis=1) > 0).all()
    try:
        import librosa
    except ImportError:
        pytest.skip("librosa not installed")
    ref = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=64, fmin=0.0, fmax=SR / 2)
    np.testing.assert_allclose(M, ref, atol=1e-8)


@pytest.mark.parametrize("seconds", [0.0, 0.01, 1.0, 2.5, 3.3])
def test_shapes_follow_contract(seconds):
    c = MelCodec()
    n = int(round(seconds * SR))
    z = c.encode(np.zeros(n, np.float32), SR)
    assert z.shape == (latent_frames(n / SR), 64) and z.dtype == np.float32
    y = c.decode(z)
    assert y.shape == (z.shape[0] * 1024,) and y.dtype == np.float32


def test_resample_and_stereo():
    c = MelCodec()
    t = np.arange(2 * 16000) / 16000
    tone16 = 0.5 * np.sin(2 * np.pi * 1000 * t)
    z16 = c.encode(tone16, 16000)
    t44 = np.arange(2 * SR) / SR
    z44 = c.encode(0.5 * np.sin(2 * np.pi * 1000 * t44), SR)
    assert z16.shape == z44.shape == (latent_frames(2.0), 64)
    loud = z44 > z44.max() - np.log(1000) / c.std[0]          # within 60 dB of the peak
    loud[:2] = loud[-2:] = False                                 # edges differ by padding
    assert loud.sum() > 100
    np.testing.assert_allclose(z16[loud], z44[loud], atol=0.05)
    # stereo (n, 2) and channels-first (2, n) mix to the mono mean
    st = np.stack([tone16, 0 * tone16], axis=1)
    np.testing.assert_allclose(c.encode(st, 16000), c.encode(tone16 / 2, 16000), atol=1e-5)
    np.testing.assert_allclose(c.encode(st.T, 16000), c.encode(tone16 / 2, 16000), atol=1e-5)
    pcm = (tone16 * 32767).astype(np.int16)
    np.testing.assert_allclose(c.encode(pcm, 16000)[loud], z16[loud], atol=1e-3)   # int16 → [-1, 1]


def test_bad_input():
    c = MelCodec()
    with pytest.raises(CodecError, match="NaN"):
        c.encode(np.array([0.0, np.nan] * 2000), SR)
    with pytest.raises(CodecError, match=r"\(n,\) or \(n, channels\)"):
        c.encode(np.zeros((2, 2, 2)), SR)
    with pytest.raises(CodecError, match=r"latent must be \(T, 64\)"):
        c.decode(np.zeros((10, 32)))


def test_stats_and_serialisation(audio_set):
    c = MelCodec().fit_stats([audio_set["noise"], (audio_set["tones"], SR)])
    z = np.concatenate([c.encode(audio_set["noise"], SR), c.encode(audio_set["tones"], SR)])
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-3)
    sd = z.std(0)   # unit std, except near-constant bands, whose std is floored (so they shrink)
    assert sd.max() < 1.01 and np.mean(np.abs(sd - 1) < 1e-2) > 0.9
    d = c.to_dict()
    assert d["type"] == "mel" and len(d["mean"]) == 64
    import json
    c2 = MelCodec.from_dict(json.loads(json.dumps(d)))
    assert c2 == c
    assert MelCodec.from_dict({"mean": -3.0, "std": 2.0}).mean == (-3.0,) * 64
    # default stats keep ordinary audio roughly at unit scale
    zd = MelCodec().encode(audio_set["noise"], SR)
    assert -3 < zd.mean() < 3


def test_roundtrip_quality(audio_set):
    """Prints spectral convergence and SWSD of encode→decode per signal."""
    c = MelCodec()
    rows = []
    for name, wave in audio_set.items():
        z = c.encode(wave, SR)
        t0 = time.perf_counter()
        y = c.decode(z)
        dt = time.perf_counter() - t0
        T = z.shape[0]
        sc = metrics.spectral_convergence(np.abs(stft(wave, T, 2048, 1024)), np.abs(stft(y, T, 2048, 1024)))
        mel_sc = metrics.spectral_convergence(np.exp(c.log_mel(wave, SR)), np.exp(c.log_mel(y, SR)))
        d = metrics.swsd(wave, y[:len(wave)], SR)
        d_other = metrics.swsd(wave, audio_set["tones" if name != "tones" else "noise"], SR)
        rows.append(f"{name:9s} SC={sc:.3f} melSC={mel_sc:.3f} SWSD={d:.5f} (vs other signal {d_other:.5f}) decode={dt:.2f}s/3s")
        assert mel_sc < 0.35, name
        assert d < 0.3 * d_other, name
    print("\ncodec round trip:\n" + "\n".join(rows))


def test_impulse_onsets_survive_roundtrip():
    times = [0.21, 0.64, 1.05, 1.58, 2.02, 2.47]
    wave = clack_train(times)
    c = MelCodec()
    y = c.decode(c.encode(wave, SR))
    det = metrics.detect_onsets(y, SR)
    s = metrics.sync_scores(times, det, tol=1024 / SR)
    print(f"\nonsets after round trip: {np.round(det, 3).tolist()} -> {s}")
    assert s["recall"] == 1.0 and s["precision"] == 1.0
    assert s["max_ms"] <= 1000 * 1024 / SR


def test_blocked_decode_has_constant_working_memory():
    """Decode runs block by block: beyond its output, the memory it holds does not grow with
    the length (the whole-clip form held several T × 1025 arrays). Blocks of 128 frames (3 s)
    here, so that both lengths span several; the product's 512 behave the same way."""
    import tracemalloc
    rng = np.random.default_rng(1)
    c = MelCodec(block_frames=128)
    extra = {}
    for seconds in (4, 24):
        z = (0.5 * rng.standard_normal((c.latent_frames(seconds), 64))).astype(np.float32)
        c.decode(z[:40])
        tracemalloc.start()
        y = c.decode(z)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert y.shape == (z.shape[0] * 1024,) and np.all(np.isfinite(y))
        extra[seconds] = peak - 2 * y.nbytes                  # the output and its float32 copy
    print(f"\nworking memory beyond the output: {extra[4] / 2**20:.1f} MB (4 s), "
          f"{extra[24] / 2**20:.1f} MB (24 s)")
    assert extra[24] < extra[4] + 2 * 2**20


def test_blocked_decode_keeps_onsets_across_block_seams():
    """Impacts right at block boundaries (every 128 latent frames here) survive the cross-fade."""
    c = MelCodec(block_frames=128)
    seam = c.block_frames * 1024 / SR
    times = [0.5, seam - 0.1, seam + 0.08, 2 * seam - 0.02, 2 * seam + 0.2]
    wave = clack_train(times, duration=2 * seam + 1.0)
    y = c.decode(c.encode(wave, SR))
    s = metrics.sync_scores(times, metrics.detect_onsets(y, SR), tol=1024 / SR)
    assert s["recall"] == 1.0 and s["precision"] == 1.0
    legacy = MelCodec(block_frames=0).decode(c.encode(wave, SR))    # the whole-clip form
    s_legacy = metrics.sync_scores(metrics.detect_onsets(legacy, SR), metrics.detect_onsets(y, SR),
                                   tol=1024 / SR)
    assert s_legacy["recall"] == 1.0 and s_legacy["precision"] == 1.0
    assert abs(float(np.sqrt(np.mean(y ** 2))) / float(np.sqrt(np.mean(legacy ** 2))) - 1) < 0.1


def test_decode_tail_does_not_blow_up():
    """Regression: the last half frame is covered by one window tail; dividing by its tiny
    window-power sum once amplified the reconstruction error to peaks of several hundred,
    and peak normalisation then silenced the whole clip."""
    from salsav_core.data.synthfoley import HELDOUT_SEED0, make_clip
    codec = MelCodec()
    for seed in (HELDOUT_SEED0 + 2, HELDOUT_SEED0 + 4):
        clip = make_clip(seed, 3.0, 32)
        wave = codec.decode(codec.encode(clip.audio, 44100))
        peak_true = np.abs(clip.audio).max()
        assert np.abs(wave).max() < 2.0 * peak_true
        assert np.abs(wave[-2048:]).max() < 2.0 * peak_true


def test_fit_stats_ceiling_clamps_overshoot():
    """fit_stats records the per-band ceiling of the normalised latent; decode clamps a latent
    that overshoots it (as CFG can), so one band cannot turn into a burst hundreds of times
    louder than anything in the data."""
    rng = np.random.default_rng(0)
    waves = [0.3 * rng.standard_normal(SR) for _ in range(3)]
    codec = MelCodec().fit_stats(waves)
    assert codec.ceiling is not None and len(codec.ceiling) == 64
    z = codec.encode(waves[0], SR)
    assert np.all(z.max(0) <= np.asarray(codec.ceiling) + 1e-5)
    assert MelCodec.from_dict(codec.to_dict()) == codec
    hot = z.copy()
    hot[20:22, 10:14] += 15.0                                 # a big overshoot in a few bins
    seg = slice(19 * 1024, 23 * 1024)
    rms = lambda w: float(np.sqrt(np.mean(w[seg] ** 2)))     # noqa: E731
    loud = rms(MelCodec(mean=codec.mean, std=codec.std).decode(hot))
    kept = rms(codec.decode(hot))
    plain = rms(codec.decode(z))
    assert kept < 0.2 * loud
    assert kept < 3 * plain
