"""The motion sync tower: per-frame features from whole clips, chunking, the per-frame loss."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from salsav_core import metrics
from salsav_core.encoders.losses import frame_siglip_loss
from salsav_core.encoders.motion import MotionSyncModel, PixelTemporalBlock, frame_pool, mel_frames_for
from salsav_core.encoders.presets import SyncConfig, sync_preset
from salsav_core.encoders.pretrained import load_sync, make_sync
from salsav_core.encoders.sync import SyncModel
from salsav_core.encoders.train import motion_batch, motion_item, train_sync


@pytest.fixture(scope="module")
def tiny():
    return MotionSyncModel(sync_preset("motion-tiny"), nnx.Rngs(0))


def test_features_per_frame_any_length(tiny, clip3):
    for t in (1, 7, 48):
        f = tiny.video_features(clip3.frames[:t])
        assert f.shape == (t, 32) and np.isfinite(f).all()


def test_chunked_features_equal_one_pass(tiny, clip3):
    """A clip longer than CHUNK is read chunk by chunk with real context: the result equals
    one pass over the whole clip (the receptive field fits in the margin)."""
    frames = np.concatenate([clip3.frames] * 6)[:260]               # > CHUNK (240) frames
    chunked = tiny.video_features(frames)
    m = tiny.MARGIN
    padded = np.concatenate([np.repeat(frames[:1], m, 0), frames, np.repeat(frames[-1:], m, 0)])
    whole = np.asarray(tiny.frame_features(jnp.asarray(padded[None])))[0, m:m + len(frames)]
    np.testing.assert_allclose(chunked, whole, rtol=2e-4, atol=2e-4)


def test_batched_features_equal_single(tiny, clip3):
    clips = [clip3.frames[:30], clip3.frames[10:40], clip3.frames[18:48]]
    many = tiny.video_features_many(clips, group=2)
    for c, f in zip(clips, many):
        np.testing.assert_allclose(f, tiny.video_features(c), rtol=2e-4, atol=2e-4)


def test_features_follow_time_shifts(tiny, clip3):
    """No position embeddings: delaying the video by k frames delays its features by k."""
    k = 5
    a = tiny.video_features(clip3.frames[:40])
    b = tiny.video_features(clip3.frames[k:40])
    np.testing.assert_allclose(a[k + 12:28], b[12:28 - k], rtol=2e-4, atol=2e-4)


def test_frame_pool_maps_mel_onto_frames():
    p = frame_pool(mel_frames_for(24), 24)
    assert p.shape == (24, mel_frames_for(24))
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    centres = p @ (np.arange(p.shape[1]) / 100.0)                       # mean mel time per frame
    np.testing.assert_allclose(centres[1:], np.arange(1, 24) / 24, atol=0.004)   # within 4 ms
    assert 0 < centres[0] <= 0.0101                                     # frame 0: no mel before 0 s


def test_frame_loss_prefers_aligned_frames():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 10, 16)).astype(np.float32)
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    aligned = frame_siglip_loss(jnp.asarray(z), jnp.asarray(z), jnp.log(10.0), -5.0)
    shifted = frame_siglip_loss(jnp.asarray(z), jnp.asarray(np.roll(z, 3, axis=1)), jnp.log(10.0), -5.0)
    assert float(aligned) < float(shifted)


def test_batches_keep_frames_and_mel_aligned(clip3):
    cfg = dataclasses.replace(sync_preset("motion-tiny"), crop_seconds=1.0, clips_per_batch=2)
    from salsav_core.encoders.audio_frontend import log_mel, to_16k

    class Pool:
        items = [(clip3.frames, log_mel(to_16k(clip3.audio, 44100), cfg.n_mels))] * 2
    b = motion_batch(Pool, cfg, np.random.default_rng(1))
    assert b["frames"].shape == (2, 24, 64, 64, 3) and b["mel"].shape == (2, 101, cfg.n_mels)
    full = Pool.items[0][1]
    for fr, mel in zip(b["frames"], b["mel"]):
        f0 = next(i for i in range(0, len(clip3.frames) - 23, 6) if np.array_equal(clip3.frames[i:i + 24], fr))
        m0 = f0 * 100 // 24
        np.testing.assert_array_equal(mel, full[m0:m0 + 101])


def test_config_round_trip_and_factory():
    cfg = sync_preset("motion")
    back = SyncConfig.from_dict(cfg.to_dict())
    assert back == cfg and isinstance(back.conv_widths, tuple)
    assert isinstance(make_sync(back, nnx.Rngs(0)), MotionSyncModel)
    assert isinstance(make_sync(sync_preset("tiny"), nnx.Rngs(0)), SyncModel)
    with pytest.raises(ValueError, match="tower"):
        SyncConfig(tower="lstm")


@pytest.mark.slow
def test_motion_tiny_trains_and_round_trips(tmp_path, clip3):
    out = str(tmp_path / "motion")
    model, m = train_sync("motion-tiny", 30, out, progress=False, log_every=5)
    losses = m["losses"]
    assert m["steps"] == 30 and np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses
    loaded = load_sync(out)
    assert isinstance(loaded, MotionSyncModel)
    np.testing.assert_array_equal(loaded.video_features(clip3.frames[:30]), model.video_features(clip3.frames[:30]))


def test_onset_strength_marks_the_rise_of_a_sound():
    from salsav_core.encoders.motion import onset_strength
    mel = np.full((1, 101, 8), -5.0, np.float32)     # 1 s of silence on the 10 ms grid
    mel[0, 50:60] = 2.0                               # a sound starting at 0.50 s
    s = np.asarray(onset_strength(jnp.asarray(mel), 24))[0]
    assert s.shape == (24,) and int(np.argmax(s)) == 12  # 0.50 s = frame 12 at 24 FPS
    assert abs(float(s.mean())) < 1e-5 and s[12] > 3 * np.sort(s)[-2]


def test_onset_frames_mark_peaks_and_their_neighbours():
    from salsav_core.encoders.motion import onset_frames
    s = jnp.asarray([[0, 0, 2, 0.5, 0, 0, 0, 3, 3.5, 0, 0.9, 0]], jnp.float32)
    np.testing.assert_array_equal(np.asarray(onset_frames(s))[0],
                                  [0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0])   # peaks at 2 and 8; 0.9 too low


@pytest.mark.slow
def test_flux_and_onset_terms_train_from_a_motion_init(tmp_path):
    base, _ = train_sync("motion-tiny", 2, str(tmp_path / "base"), progress=False, log_every=1)
    assert not hasattr(base, "flux_head")
    cfg = dataclasses.replace(sync_preset("motion-tiny"), flux_weight=1.0, onset_weight=1.0)
    model, m = train_sync(cfg, 25, str(tmp_path / "flux"), progress=False, log_every=5, init=base)
    assert model.flux_head.kernel[...].shape == model.onset_head.kernel[...].shape == (cfg.dim, 1)
    assert np.mean(m["losses"][-5:]) < np.mean(m["losses"][:5]), m["losses"]
    loaded = load_sync(str(tmp_path / "flux"))
    assert loaded.cfg.flux_weight == loaded.cfg.onset_weight == 1.0 and hasattr(loaded, "onset_head")


def test_detector_onset_targets_follow_the_audio_and_its_crops(clip3):
    """`onset_target="detector"`: each clip carries frames within ±1 of what the eval's onset
    detector finds in its own audio, and a batch crops them with the frames."""
    cfg = dataclasses.replace(sync_preset("motion-tiny"), crop_seconds=1.0, clips_per_batch=2,
                              onset_weight=1.0, onset_target="detector")
    fr, mel, onset = motion_item(cfg.n_mels, detector_onsets=True)(clip3)
    found = metrics.detect_onsets(clip3.audio, 44100)
    assert onset.shape == (len(fr),) and len(found) > 0
    for t in found:                                          # every detected onset is marked
        assert onset[min(int(round(t * 24)), len(fr) - 1)] == 1.0
    assert 0 < onset.mean() < 0.6

    class Pool:
        items = [(fr, mel, onset)] * 2
    b = motion_batch(Pool, cfg, np.random.default_rng(1))
    assert b["onset"].shape == (2, 24)
    for f, o in zip(b["frames"], b["onset"]):
        f0 = next(i for i in range(0, len(fr) - 23, 6) if np.array_equal(fr[i:i + 24], f))
        np.testing.assert_array_equal(o, onset[f0:f0 + 24])
    with pytest.raises(ValueError, match="onset target"):
        SyncConfig(onset_target="labels")


@pytest.mark.slow
def test_detector_onset_term_trains(tmp_path):
    cfg = dataclasses.replace(sync_preset("motion-tiny"), onset_weight=1.0, onset_target="detector")
    model, m = train_sync(cfg, 20, str(tmp_path / "det"), progress=False, log_every=5)
    assert np.isfinite(m["losses"]).all() and np.mean(m["losses"][-5:]) < np.mean(m["losses"][:5])
    assert load_sync(str(tmp_path / "det")).cfg.onset_target == "detector"


def test_stem_temporal_mixing_starts_as_the_identity_and_keeps_time_equivariance(tiny, clip3):
    """`stem_temporal`: a tower trained without it takes it on unchanged (zero-initialized
    output), and once its weights move the features still follow time shifts and change."""
    cfg = dataclasses.replace(tiny.cfg, stem_temporal=3)
    mixed = MotionSyncModel(cfg, nnx.Rngs(1))
    nnx.update(mixed, jax.tree_util.tree_map(jnp.copy, nnx.state(tiny, nnx.Param)))
    frames = clip3.frames[:40]
    np.testing.assert_array_equal(mixed.video_features(frames), tiny.video_features(frames))
    for block in mixed.video.mix:
        block.out.kernel[...] = 0.3 * jax.random.normal(jax.random.key(2), block.out.kernel[...].shape)
    a = mixed.video_features(frames)
    assert np.abs(a - tiny.video_features(frames)).max() > 1e-3
    k = 5
    b = mixed.video_features(clip3.frames[k:40])
    np.testing.assert_allclose(a[k + 12:28], b[12:28 - k], rtol=2e-4, atol=2e-4)
    with pytest.raises(ValueError, match="stem_temporal"):
        SyncConfig(tower="motion", stem_temporal=2)


def test_pixel_temporal_block_is_a_depthwise_conv_over_time_at_every_pixel():
    """The block's shifted products equal its `nnx.Conv` run over each pixel's time series."""
    b, t, g, c = 2, 9, 4, 6
    blk = PixelTemporalBlock(c, 5, nnx.Rngs(3))
    blk.out.kernel[...] = jax.random.normal(jax.random.key(4), (c, c))
    h = jax.random.normal(jax.random.key(5), (b * t, g, g, c))
    series = h.reshape(b, t, g * g, c).transpose(0, 2, 1, 3).reshape(b * g * g, t, c)
    ref = blk.out(jax.nn.gelu(blk.conv(series))).reshape(b, g * g, t, c).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(blk(h, b, t), h + ref.reshape(h.shape), rtol=1e-5, atol=1e-5)
