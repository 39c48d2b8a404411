import json

import numpy as np
import pytest

from salsav_core.data.synthfoley import HELDOUT_SEED0
from salsav_core.encoders.evaluation import semantic_retrieval, sync_retrieval
from salsav_core.encoders.pretrained import load_semantic, load_sync
from salsav_core.encoders.state_io import CheckpointError
from salsav_core.encoders.train import train_semantic, train_sync

pytestmark = pytest.mark.slow


def _falls(losses, k=5):
    return np.mean(losses[-k:]) < 0.7 * np.mean(losses[:k])


def test_semantic_tiny_trains_and_round_trips(tmp_path, clip3):
    model, m = train_semantic("tiny", 25, str(tmp_path / "sem"), progress=False, log_every=5)
    assert m["steps"] == 25 and _falls(m["losses"]), m["losses"]
    loaded = load_semantic(str(tmp_path / "sem"))
    np.testing.assert_array_equal(loaded.encode_frames(clip3.frames[::3]), model.encode_frames(clip3.frames[::3]))
    np.testing.assert_array_equal(loaded.encode_text([clip3.caption]), model.encode_text([clip3.caption]))
    with pytest.raises(CheckpointError):
        load_sync(str(tmp_path / "sem"))
    r = semantic_retrieval(loaded, range(HELDOUT_SEED0, HELDOUT_SEED0 + 6), duration=1.0)
    assert r["clips"] == 6 and 0 <= r["top1"] <= r["top5"] <= 1 and r["chance_top5"] == 5 / 6


def test_sync_tiny_trains_round_trips_and_resumes(tmp_path, clip3):
    out = str(tmp_path / "syn")
    model, m = train_sync("tiny", 25, out, progress=False, log_every=5)
    assert m["steps"] == 25 and _falls(m["losses"]), m["losses"]
    loaded = load_sync(out)
    np.testing.assert_array_equal(loaded.video_features(clip3.frames[:20]), model.video_features(clip3.frames[:20]))
    # resume: the step count continues from the checkpoint and the history grows
    model2, m2 = train_sync("tiny", 28, out, progress=False, log_every=1)
    assert m2["start_step"] == 25 and m2["steps"] == 28 and len(m2["losses"]) == 3
    meta = json.load(open(f"{out}/config.json"))
    assert meta["step"] == 28 and [h["step"] for h in meta["history"]][-3:] == [26, 27, 28]
    r = sync_retrieval(model2, [HELDOUT_SEED0, HELDOUT_SEED0 + 1], duration=2.0)
    for k in ("same_clip_top1", "all_clips_top1", "vs_1s_offsets_top1", "offset_0.2s_rate", "offset_1.0s_rate"):
        assert 0.0 <= r[k] <= 1.0, (k, r)
    assert r["same_clip_chance"] == 1 / 3 and r["all_clips_chance"] == 1 / 6   # 48 frames: 3 snippets


def test_sync_dense_loss_fine_tunes_from_init(tmp_path, clip3):
    """`dense_weight` adds the per-frame term (tiny: 16 frames pooled onto 8 audio tokens); `init`
    starts from a trained model's weights."""
    import dataclasses

    from salsav_core.encoders.presets import sync_preset
    base, _ = train_sync("tiny", 3, None, progress=False)
    cfg = dataclasses.replace(sync_preset("tiny"), dense_weight=1.0)
    start, _ = train_sync(cfg, 0, None, progress=False, init=base)
    np.testing.assert_array_equal(start.video_features(clip3.frames[:16]), base.video_features(clip3.frames[:16]))
    model, m = train_sync(cfg, 25, str(tmp_path / "dense"), progress=False, log_every=5, init=base)
    assert m["steps"] == 25 and _falls(m["losses"]), m["losses"]
    plain, mp = train_sync("tiny", 1, None, progress=False, init=base)
    assert m["first_loss"] > mp["first_loss"]          # the dense term adds to the snippet loss
    assert load_sync(str(tmp_path / "dense")).cfg.dense_weight == 1.0


def test_shift_labels_follow_the_offset():
    """Frame t matches the token that overlaps it in an audio window moved by the offset."""
    from salsav_core.encoders.train import TOKEN_S, shift_labels
    lab, w = shift_labels(np.array([0.0, 2 * TOKEN_S]), 16, 16)
    assert lab.shape == w.shape == (2, 16, 16)
    assert [int(np.argmax(lab[0, t])) for t in range(4)] == [0, 1, 2, 3]
    assert lab[1, :2].sum() == 0 and [int(np.argmax(lab[1, t])) for t in (2, 3, 4)] == [0, 1, 2]
    assert (lab <= w).all() and w[0, 5, 4] == 0 and w[0, 5, 8] == 1      # neighbours ignored


def test_sync_shift_loss_trains(tmp_path):
    """`shift_weight` adds the within-snippet term against randomly shifted audio; it trains."""
    import dataclasses

    from salsav_core.encoders.presets import sync_preset
    cfg = dataclasses.replace(sync_preset("tiny"), shift_weight=1.0, shift_tokens=2)
    model, m = train_sync(cfg, 25, str(tmp_path / "shift"), progress=False, log_every=5)
    assert m["steps"] == 25 and _falls(m["losses"]), m["losses"]
    plain, mp = train_sync("tiny", 1, None, progress=False)
    assert m["first_loss"] > mp["first_loss"]          # the shift term adds to the snippet loss
    assert load_sync(str(tmp_path / "shift")).cfg.shift_weight == 1.0


def test_sync_init_across_image_sizes():
    """A 32 px sync model starts a 64 px one: every other param is copied, the spatial
    position grid is resized (a linear ramp along the grid stays a ramp), and any other shape
    mismatch is refused."""
    import dataclasses

    import jax.numpy as jnp
    from flax import nnx

    from salsav_core.encoders.presets import sync_preset
    from salsav_core.encoders.sync import SyncModel
    from salsav_core.encoders.train import transfer_sync_params
    small = sync_preset("tiny")                                   # 32 px, patch 16: 2x2 grid
    src = SyncModel(small, nnx.Rngs(1))
    ramp = jnp.broadcast_to(jnp.arange(2.0)[None, :, None, None], (1, 2, 2, small.dim))
    src.video.pos_space[...] = ramp.reshape(1, 4, small.dim)
    dst = SyncModel(dataclasses.replace(small, image_size=64), nnx.Rngs(2))   # 4x4 grid
    nnx.update(dst, transfer_sync_params(src, dst))
    np.testing.assert_array_equal(dst.video.embed.kernel[...], src.video.embed.kernel[...])
    np.testing.assert_array_equal(dst.audio.pos[...], src.audio.pos[...])
    grid = np.asarray(dst.video.pos_space[...]).reshape(4, 4, small.dim)
    assert grid.shape == (4, 4, small.dim)                        # the ramp runs down the rows
    assert np.allclose(grid[0], 0) and np.allclose(grid[-1], 1) and 0 < grid[1, 0, 0] < grid[2, 0, 0] < 1
    assert np.allclose(grid[:, 0], grid[:, 3])
    frames = np.random.default_rng(0).integers(0, 255, (16, 64, 64, 3), np.uint8)
    assert dst.video_features(frames).shape == (16, small.dim)
    other = SyncModel(dataclasses.replace(small, dim=48), nnx.Rngs(3))
    with pytest.raises(ValueError, match="shape"):
        transfer_sync_params(src, other)
