"""Sampler: reference spans kept exactly, reproducibility, long-form length / seams / memory,
one compile for every duration."""
import jax
import numpy as np
import pytest

from salsav_core import sampler as S
from salsav_core.config import SEM_FPS, SYNC_FPS, latent_frames, num_frames


def _cond(cfg, seconds, seed=0):
    rng = np.random.default_rng(seed)
    return S.Conditions(sem=rng.normal(size=(num_frames(seconds, SEM_FPS), cfg.sem_dim)).astype(np.float32),
                        sync=rng.normal(size=(num_frames(seconds, SYNC_FPS), cfg.sync_dim)).astype(np.float32),
                        text=rng.normal(size=(cfg.text_dim,)).astype(np.float32))


def test_sample_reference_span_unchanged_and_seeded(model, cfg):
    cond = _cond(cfg, 1.0)
    n = latent_frames(1.0)
    ref = np.random.default_rng(1).normal(size=(9, cfg.latent_dim)).astype(np.float32)
    out = S.sample(model, cond, n, steps=4, guidance=4.0, seed=3, ref=ref, ref_start=20)
    assert out.shape == (n, cfg.latent_dim) and np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[20:29], ref)
    np.testing.assert_array_equal(out, S.sample(model, cond, n, steps=4, seed=3, ref=ref, ref_start=20))
    assert not np.allclose(out, S.sample(model, cond, n, steps=4, seed=4, ref=ref, ref_start=20))
    with pytest.raises(S.SamplerError):
        S.sample(model, cond, n, steps=3)


def test_sample_uses_reference_and_negative_text(model, cfg):
    cond = _cond(cfg, 1.0)
    n = latent_frames(1.0)
    ref = np.ones((9, cfg.latent_dim), np.float32)
    a = S.sample(model, cond, n, steps=2, seed=0)
    b = S.sample(model, cond, n, steps=2, seed=0, ref=ref, ref_start=0)
    assert not np.allclose(a[9:], b[9:])                # generation depends on the reference
    neg = S.Conditions(cond.sem, cond.sync, cond.text, neg_text=np.ones(cfg.text_dim, np.float32))
    assert not np.allclose(a, S.sample(model, neg, n, steps=2, seed=0))


def _device_bytes():
    return sum(x.nbytes for x in jax.live_arrays())


def test_long_form_length_seams_memory_and_single_compile(model, cfg):
    ref = np.random.default_rng(2).normal(size=(5, cfg.latent_dim)).astype(np.float32)
    results, peaks = {}, {}
    S.sample_long(model, _cond(cfg, 0.5), latent_frames(0.5), steps=2)     # warm: one compile
    traces = S.TRACE_COUNTS["sample"]
    for seconds in (10.0, 3.3, 60.0):
        cond = _cond(cfg, seconds, seed=int(seconds))
        peak = [0]
        calls = []

        def progress(i, n):
            calls.append((i, n))
            peak[0] = max(peak[0], _device_bytes())    # live device buffers between windows
        n = latent_frames(seconds)
        out = S.sample_long(model, cond, n, steps=2, seed=1, ref=ref, ref_start=3, progress=progress)
        assert out.shape == (n, cfg.latent_dim) and np.all(np.isfinite(out))
        np.testing.assert_array_equal(out[3:8], ref)
        assert calls[-1][0] == calls[-1][1] == len(S.window_starts(n, cfg.window_frames,
                                                                      latent_frames(cfg.overlap_seconds)))
        results[seconds], peaks[seconds] = out, peak[0]
    # one compiled shape served every duration
    assert S.TRACE_COUNTS["sample"] == traces
    # memory: the device buffers alive during a 60 s run match a 10 s run (host output excluded)
    print("peak live device bytes: 10 s", peaks[10.0], "60 s", peaks[60.0])
    assert peaks[60.0] <= 1.2 * peaks[10.0]
    # continuity: frame-to-frame jumps at the window seams look like jumps inside windows
    out = results[60.0]
    win, ov = cfg.window_frames, latent_frames(cfg.overlap_seconds)
    seams = [s + ov for s in S.window_starts(len(out), win, ov)[1:] if s + ov < len(out)]
    jumps = np.linalg.norm(np.diff(out, axis=0), axis=1)
    seam_j = jumps[np.array(seams) - 1]
    print("mean jump at seams", seam_j.mean(), "overall", jumps.mean())
    assert seam_j.mean() < 1.5 * jumps.mean()


def test_dropped_stream_is_ignored_without_recompiling(model, cfg):
    import dataclasses
    n = latent_frames(1.0)
    a, b = _cond(cfg, 1.0, seed=0), _cond(cfg, 1.0, seed=1)
    mixed = dataclasses.replace(a, sync=b.sync)              # a's semantics, b's sync features
    base = S.sample(model, a, n, steps=2, seed=0)
    traces = S.TRACE_COUNTS["sample"]
    assert not np.allclose(base, S.sample(model, mixed, n, steps=2, seed=0))   # sync is used
    no_sync = lambda c: dataclasses.replace(c, drop_sync=True)                # noqa: E731
    np.testing.assert_allclose(S.sample(model, no_sync(a), n, steps=2, seed=0),
                               S.sample(model, no_sync(mixed), n, steps=2, seed=0), atol=1e-6)
    no_sem = lambda c: dataclasses.replace(c, drop_sem=True)                  # noqa: E731
    other_sem = dataclasses.replace(a, sem=b.sem)
    np.testing.assert_allclose(S.sample(model, no_sem(a), n, steps=2, seed=0),
                               S.sample(model, no_sem(other_sem), n, steps=2, seed=0), atol=1e-6)
    assert S.TRACE_COUNTS["sample"] == traces               # the flags are traced, not static


@pytest.mark.parametrize("n", S.ALLOWED_STEPS)
def test_step_schedules_are_trained_shortcut_levels(n):
    from salsav_core.training import TrainConfig
    assert S.FINEST_LEVEL == 2.0 ** -(TrainConfig().shortcut_levels - 1)
    np.testing.assert_array_equal(S.step_sizes(n, "uniform"), np.full(n, 1 / n, np.float32))
    d = S.step_sizes(n, "fine-start")
    t = np.cumsum(d) - d
    assert len(d) == n and d.dtype == np.float32 and np.sum(d, dtype=np.float64) == 1.0
    assert np.all(np.log2(d) == np.round(np.log2(d)))            # powers of two
    assert np.all(np.mod(t / d, 1) == 0)                         # each starts on its own grid
    assert np.all(np.diff(d) >= 0)                               # finer near the noise (t = 0)
    if n >= 4:
        assert t[n // 2] == 0.25 and t[3 * n // 4] == 0.5      # half of the steps in [0, 1/4)
    else:
        np.testing.assert_array_equal(d, np.full(n, 1 / n, np.float32))
    with pytest.raises(S.SamplerError):
        S.step_sizes(n, "cosine")


def test_sampler_follows_the_schedule(model, cfg):
    """The fori_loop sampler equals a plain Python Euler loop over step_sizes with CFG (Eq. 3),
    the model told d = 0 (the flow level) below the finest trained shortcut; one compile serves
    both schedules."""
    import jax.numpy as jnp
    cond = _cond(cfg, 1.0)
    n = latent_frames(1.0)
    S.sample(model, cond, n, steps=4, seed=5, schedule="uniform")
    traces = S.TRACE_COUNTS["sample"]
    for steps, schedule in ((4, "fine-start"), (64, "fine-start"), (4, "uniform")):
        got = S.sample(model, cond, n, steps=steps, guidance=3.0, seed=5, schedule=schedule)
        x = np.asarray(jax.random.normal(jax.random.key(5), (1, n, cfg.latent_dim)))
        sem, syn, txt = (jnp.asarray(np.stack([a, a])) for a in (cond.sem, cond.sync, cond.text))
        drop = jnp.array([False, True])
        t = 0.0
        for d in S.step_sizes(steps, schedule):
            d_in = 0.0 if d < 1 / 64 else float(d)
            v = np.asarray(model(jnp.concatenate([x, x]), jnp.full((2,), t), jnp.full((2,), d_in),
                                 jnp.zeros((2, n), bool), sem, syn, txt, drop, drop, drop))
            x = x + d * (v[1:] + 3.0 * (v[:1] - v[1:]))
            t += float(d)
        np.testing.assert_allclose(got, x[0], atol=2e-4, rtol=1e-4)
    assert S.TRACE_COUNTS["sample"] == traces
    assert not np.allclose(got, S.sample(model, cond, n, steps=4, guidance=3.0, seed=5,
                                         schedule="fine-start"))


def test_onset_agreement_rewards_rises_at_target_peaks():
    t, c = 40, 8
    target = np.full((1, t), -0.5, np.float32)
    target[0, 20] = 3.0                                   # the picture predicts an onset at frame 20
    step_at = lambda k: np.where(np.arange(t)[:, None] >= k, 2.0, 0.0) * np.ones((1, t, c))  # noqa: E731
    on, off = (float(S.onset_agreement(step_at(k).astype(np.float32), target)[0]) for k in (20, 30))
    assert on > off + 5.0                                 # a rise at the peak counts, elsewhere not
    # a gradient step along the push raises the agreement of a random latent
    x = np.random.default_rng(0).normal(size=(1, t, c)).astype(np.float32)
    g = np.asarray(S._onset_push(x, target))
    assert g.shape == x.shape and np.abs(g[0, 20]).sum() > 10 * np.abs(g[0, 5]).sum()
    assert float(S.onset_agreement(x + 0.1 * g, target)[0]) > float(S.onset_agreement(x, target)[0])


def test_onset_guidance_moves_flux_and_is_off_by_default(model, cfg):
    n = latent_frames(1.0)
    onset = np.full(num_frames(1.0, SYNC_FPS), -0.3, np.float32)
    onset[12] = 4.0                                       # 0.5 s
    cond = _cond(cfg, 1.0)
    guided = S.Conditions(cond.sem, cond.sync, cond.text, onset=onset)
    plain = S.sample(model, cond, n, steps=4, seed=0)
    # an onset curve without a weight changes nothing, bit for bit
    np.testing.assert_array_equal(plain, S.sample(model, guided, n, steps=4, seed=0))
    pushed = S.sample(model, guided, n, steps=4, seed=0, onset_guidance=2.0)
    target = S._onset_window(guided, 0.0, n)
    assert target.shape == (1, n) and abs(int(np.argmax(target)) - 22) <= 1   # 0.5 s at 43 Hz
    assert float(S.onset_agreement(pushed[None], target)[0]) > float(S.onset_agreement(plain[None], target)[0])
    long = S.sample_long(model, guided, n, steps=4, seed=0, onset_guidance=2.0)
    assert long.shape == (n, cfg.latent_dim) and np.all(np.isfinite(long))
