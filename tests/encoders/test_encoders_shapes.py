import numpy as np
import pytest
from flax import nnx

from salsav_core.encoders.audio_frontend import log_mel, snippet_mels, to_16k
from salsav_core.encoders.presets import semantic_preset, sync_preset
from salsav_core.encoders.semantic import EncoderInputError, SemanticEncoder
from salsav_core.encoders.sync import SyncModel
from salsav_core.encoders.text import tokenize


@pytest.fixture(scope="module")
def sem():
    return SemanticEncoder(semantic_preset("tiny"), nnx.Rngs(0))


@pytest.fixture(scope="module")
def syn():
    return SyncModel(sync_preset("tiny"), nnx.Rngs(0))


@pytest.mark.parametrize("t", [1, 5, 16])
def test_semantic_frames_any_length(sem, clip3, t):
    z = sem.encode_frames(clip3.frames[::3][:t])
    assert z.shape == (min(t, len(clip3.frames[::3])), sem.cfg.dim)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-4)


def test_semantic_text_any_prompt(sem, clip3):
    z = sem.encode_text([clip3.caption, "a zebra xylophone!!", ""])
    assert z.shape == (3, sem.cfg.dim)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(z[0], z[1])
    with pytest.raises(EncoderInputError):
        sem.encode_text("not a list")
    with pytest.raises(EncoderInputError):
        sem.encode_frames(np.zeros((4, 64, 64), np.uint8))


def test_tokenizer_hashes_and_pads():
    ids = tokenize(["Metal ball, metal floor", ""], buckets=512, max_words=6)
    assert ids.shape == (2, 6) and ids.dtype == np.int32
    assert ids[0, 0] == ids[0, 2] and ids[0, 0] != ids[0, 1] and (ids[0, :4] > 0).all()
    assert (ids[0, 4:] == 0).all() and (ids[1] == 0).all()


@pytest.mark.parametrize("t", [1, 16, 17, 40])
def test_sync_video_features_any_length(syn, clip3, t):
    v = syn.video_features(clip3.frames[:t])
    assert v.shape == (t, syn.cfg.dim) and np.isfinite(v).all()


def test_sync_snippets_are_independent(syn, clip3):
    """Whole-clip features are the per-snippet features: the first snippet does not see the rest."""
    whole = syn.video_features(clip3.frames[:40])
    first = syn.video_features(clip3.frames[:16])
    np.testing.assert_allclose(whole[:16], first, atol=1e-5)


def test_sync_audio_embed(syn, clip3):
    wave = to_16k(clip3.audio, 44100)
    assert abs(len(wave) - 2.0 * 16000) <= 1
    z = syn.audio_embed(np.stack([wave[:10667], wave[5000:15667]]))
    assert z.shape == (2, syn.cfg.dim)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-4)
    with pytest.raises(EncoderInputError):
        syn.audio_embed(wave[:10667])


def test_log_mel_frames_and_snippets(clip3):
    wave = to_16k(clip3.audio, 44100)
    mel = log_mel(wave[:10667])
    assert mel.shape == (67, 128)                      # 0.667 s at 10 ms hop, centred
    m = snippet_mels(wave, np.array([0.0, 0.5, 1.9]), 16 / 24, 64, 128)
    assert m.shape == (3, 64, 128)
    np.testing.assert_allclose(m[0], mel[:64], atol=1e-4)
    # past the end is silence: the last snippet's tail sits at the floor value
    assert m[2, -5:].max() < m[2].max()


def test_snippet_plan_reads_each_frame_where_it_is_most_central():
    from salsav_core.encoders.sync import snippet_plan
    starts, src = snippet_plan(48, 16, 16)            # disjoint (video_features pads to 48)
    assert starts == [0, 16, 32]
    assert [tuple(x) for x in src[[0, 15, 16, 31, 32, 47]]] == [(0, 0), (0, 15), (1, 0), (1, 15), (2, 0), (2, 15)]
    starts, src = snippet_plan(40, 16, 8)
    assert starts == [0, 8, 16, 24]
    # frame 12 is index 12 of snippet 0 (margin 3) and index 4 of snippet 1 (margin 4)
    assert tuple(src[12]) == (1, 4) and tuple(src[3]) == (0, 3) and tuple(src[39]) == (3, 15)
    assert all(starts[k] + i == n for n, (k, i) in enumerate(src))
    with pytest.raises(ValueError):
        snippet_plan(40, 16, 0)


def test_sync_overlapping_snippets(clip3):
    """feature_hop 8: frames come from the snippet where they are most central; lengths as before."""
    import dataclasses
    model = SyncModel(sync_preset("tiny"), nnx.Rngs(0))
    over = SyncModel(dataclasses.replace(sync_preset("tiny"), feature_hop=8), nnx.Rngs(0))
    frames = clip3.frames[:40]
    v = over.video_features(frames)
    assert v.shape == (40, model.cfg.dim)
    np.testing.assert_allclose(v[:12], model.video_features(frames[:16])[:12], atol=1e-5)
    np.testing.assert_allclose(v[12:20], model.video_features(frames[8:24])[4:12], atol=1e-5)
    assert not np.allclose(v[12:16], model.video_features(frames)[12:16], atol=1e-4)
    for t in (1, 16, 17):
        assert over.video_features(clip3.frames[:t]).shape == (t, model.cfg.dim)
