"""`salsav train generator` on the test preset: the loss is finite, resume continues, export loads."""
from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest


@pytest.mark.slow
def test_generator_training_resumes_and_exports(tmp_path):
    import jax
    from flax import nnx

    from salsav_core.encoders.presets import semantic_preset, sync_preset
    from salsav_core.encoders.semantic import SemanticEncoder
    from salsav_core.encoders.sync import SyncModel
    from salsav_core.pipeline import Pipeline
    from salsav_core.train_generator import RUN_PRESETS, train_generator

    sem = SemanticEncoder(semantic_preset("tiny"), nnx.Rngs(0))
    syn = SyncModel(sync_preset("tiny"), nnx.Rngs(1))
    run = dataclasses.replace(RUN_PRESETS["test"], steps=3, n_clips=4, ckpt_every=100)
    _, hist1 = train_generator(run, sem, syn, tmp_path / "run", progress=False, log=lambda *a: None)
    assert [h["step"] for h in hist1] == [1, 2, 3]
    assert all(np.isfinite(h["loss"]) for h in hist1)
    cache = np.load(tmp_path / "run" / "cache.npz")
    assert cache["x1"].shape[:2] == (4, 43) and cache["sync"].shape[1] == 24 and cache["sem"].shape[1] == 8
    # resume: the second call starts where the first stopped and only runs the missing steps
    run2 = dataclasses.replace(run, steps=5)
    pipe, hist2 = train_generator(run2, sem, syn, tmp_path / "run", tmp_path / "export",
                                  progress=False, log=lambda *a: None)
    assert [h["step"] for h in hist2] == [4, 5]
    assert pipe.meta["trained_steps"] == 5
    loaded = Pipeline.from_pretrained(tmp_path / "export")
    assert loaded.cfg.name == "test" and json.loads((tmp_path / "export" / "history.json").read_text())
    w_trained = np.asarray(pipe.generator.null_text[...])
    np.testing.assert_allclose(np.asarray(loaded.generator.null_text[...]), w_trained, atol=1e-3)

    # fine-tune from the exported pipeline: its codec is kept and training starts from its weights;
    # a deadline ~1000 s away at 0.0025 steps/s cuts the 50-step run (and its schedule) to 2 steps
    ft = dataclasses.replace(run, steps=50, seed=1, schedule="cosine", mask_max=40, lr=1e-5)
    tuned, hist3 = train_generator(ft, loaded.semantic, loaded.sync, tmp_path / "ft",
                                   progress=False, log=lambda *a: None, init=loaded,
                                   deadline=time.perf_counter() + 1000, fit_rate=0.0025)
    assert [h["step"] for h in hist3] == [1, 2] and all(np.isfinite(h["loss"]) for h in hist3)
    assert tuned.meta["run"]["steps"] == 2
    assert tuned.codec.to_dict() == loaded.codec.to_dict()
    assert tuned.meta["trained_steps"] == 5 + 2 and tuned.meta["init"]["trained_steps"] == 5
    def params(p):
        return [np.asarray(x, np.float32) for x in jax.tree.leaves(nnx.state(p.generator, nnx.Param))]
    moved = max(float(np.abs(a - b).max()) for a, b in zip(params(tuned), params(loaded)))
    assert 0 < moved < 1e-4                   # EMA of two small steps away from the init weights


@pytest.mark.slow
def test_plain_flow_run_exports_a_model_told_d_zero(tmp_path):
    """objective "flow" (the Table 2 baseline) exports a generator with cfg.shortcut False, so
    the sampler's step sizes never reach it as d (it trained on d = 0 only). It can go on as a
    shortcut generator (--init), never the other way."""
    import jax
    from flax import nnx

    from salsav_core.encoders.presets import semantic_preset, sync_preset
    from salsav_core.encoders.semantic import SemanticEncoder
    from salsav_core.encoders.sync import SyncModel
    from salsav_core.pipeline import Pipeline
    from salsav_core.train_generator import RUN_PRESETS, TrainingInputError, train_generator

    sem = SemanticEncoder(semantic_preset("tiny"), nnx.Rngs(0))
    syn = SyncModel(sync_preset("tiny"), nnx.Rngs(1))
    run = dataclasses.replace(RUN_PRESETS["test"], steps=1, n_clips=2, objective="flow")
    pipe, hist = train_generator(run, sem, syn, tmp_path / "run", tmp_path / "export",
                                 progress=False, log=lambda *a: None)
    assert np.isfinite(hist[-1]["loss"]) and hist[-1]["shortcut_loss"] == 0
    assert pipe.cfg.shortcut is False and Pipeline.from_pretrained(tmp_path / "export").cfg.shortcut is False
    assert RUN_PRESETS["test"].objective == "paper"
    # it goes on as a shortcut generator (the CPU recipe's second phase): same weights, d switched on
    flow = pipe
    short, hist = train_generator(dataclasses.replace(run, objective="paper"), sem, syn, tmp_path / "sc",
                                  progress=False, log=lambda *a: None, init=flow, codec=flow.codec)
    assert short.cfg.shortcut is True and hist[-1]["shortcut_loss"] > 0
    before, after = (jax.tree.leaves(nnx.state(m.generator, nnx.Param)) for m in (flow, short))
    assert len(before) == len(after) and all(np.allclose(a, b, atol=1e-2) for a, b in zip(before, after))
    with pytest.raises(TrainingInputError, match="does not match"):   # not back: a shortcut init as flow
        train_generator(run, sem, syn, tmp_path / "back", progress=False, log=lambda *a: None, init=short,
                        codec=short.codec)


def test_learning_rate_schedules():
    from salsav_core.train_generator import GeneratorRunConfig, _with_warmup
    from salsav_core.training import TrainConfig
    cos = _with_warmup(TrainConfig(lr=1e-3), GeneratorRunConfig(steps=100, warmup=10, schedule="cosine")).lr
    assert float(cos(0)) == 0.0 and float(cos(10)) == pytest.approx(1e-3)
    assert float(cos(55)) == pytest.approx(5e-4, rel=1e-3) and float(cos(100)) == pytest.approx(0.0, abs=1e-9)
    const = _with_warmup(TrainConfig(lr=1e-3), GeneratorRunConfig(steps=100, warmup=10)).lr
    assert float(const(5)) == pytest.approx(5e-4) and float(const(99)) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="schedule"):
        _with_warmup(TrainConfig(), GeneratorRunConfig(schedule="linear"))


def test_train_state_mismatch_is_refused(tmp_path):
    from salsav_core.config import model_preset
    from salsav_core.train_generator import (GeneratorRunConfig, TrainingInputError, load_train_state,
                                             save_train_state)
    from salsav_core.training import TRAIN_PRESETS, init_train_state
    cfg = model_preset("test")
    _, state = init_train_state(cfg, TRAIN_PRESETS["paper"])
    save_train_state(tmp_path, state, GeneratorRunConfig(model="test"))
    back = load_train_state(tmp_path, state)
    assert int(back.step) == int(state.step)
    other = dataclasses.replace(cfg, hidden=48, heads=2)
    _, state2 = init_train_state(other, TRAIN_PRESETS["paper"])
    with pytest.raises(TrainingInputError, match="another model"):
        load_train_state(tmp_path, state2)
    (tmp_path / "train_state.safetensors").write_bytes(b"\x00" * 64)         # damaged file
    with pytest.raises(TrainingInputError, match="unreadable"):
        load_train_state(tmp_path, state)


def _encoders(sem_dim=16, sync_dim=16):
    return {"semantic": {"dim": sem_dim}, "sync": {"dim": sync_dim, "tower": "motion"}}


def _write_cache(folder, sync_dim=16, n=3, keys=("x1", "sem", "sync", "text")):
    from salsav_core.codec import MelCodec
    arrays = {"x1": np.zeros((n, 10, 64)), "sem": np.zeros((n, 4, 16)), "sync": np.zeros((n, 12, sync_dim)),
              "text": np.zeros((n, 16))}
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "cache.npz", **{k: arrays[k] for k in keys})
    (folder / "codec.json").write_text(json.dumps(MelCodec().to_dict()))
    (folder / "cache_encoders.json").write_text(json.dumps(_encoders(sync_dim=sync_dim)))


def test_bad_feature_caches_get_clear_errors(tmp_path):
    from salsav_core.train_generator import TrainingInputError, load_cache
    _write_cache(tmp_path / "ok")
    data, _ = load_cache(tmp_path / "ok", _encoders())
    assert data["sync"].shape == (3, 12, 16)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "cache.npz").write_bytes(b"PK\x03\x04 not a zip at all")
    (tmp_path / "corrupt" / "codec.json").write_text("{}")
    with pytest.raises(TrainingInputError, match="unreadable"):
        load_cache(tmp_path / "corrupt", _encoders())
    _write_cache(tmp_path / "partial", keys=("x1", "sem", "text"))
    with pytest.raises(TrainingInputError, match="incomplete.*sync"):
        load_cache(tmp_path / "partial", _encoders())
    with pytest.raises(TrainingInputError, match="another sync encoder"):
        load_cache(tmp_path / "ok", _encoders(sync_dim=32))
    newer = _encoders()                       # a field added to SyncConfig since the cache:
    newer["sync"]["flux_weight"] = 0.0        # its default on both sides, so the cache still fits
    assert load_cache(tmp_path / "ok", newer)[0]["sync"].shape == (3, 12, 16)
    newer["sync"]["flux_weight"] = 1.0        # a real difference is still one
    with pytest.raises(TrainingInputError, match="another sync encoder"):
        load_cache(tmp_path / "ok", newer)
    (tmp_path / "ok" / "cache_encoders.json").unlink()                      # an older cache
    with pytest.raises(TrainingInputError, match="sync features of width 16"):
        load_cache(tmp_path / "ok", _encoders(sync_dim=32))


def test_train_cli_says_what_is_wrong(tmp_path, capsys):
    from salsav_core.train_generator import main
    assert main(["--semantic", str(tmp_path / "nope"), "--sync", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


@pytest.mark.slow
def test_train_cli_new_generator_on_a_pipelines_encoders(tiny_ckpt, tmp_path):
    """`--encoders PIPE`: a generator of the chosen size trained from scratch on another
    checkpoint's encoders and codec (the CPU bundle recipe); `--init` with it is refused."""
    from salsav_core.pipeline import Pipeline
    from salsav_core.train_generator import main
    donor = Pipeline.from_pretrained(tiny_ckpt)
    assert main(["--preset", "test", "--model", "test", "--encoders", str(tiny_ckpt), "--clips", "4",
                 "--steps", "2", "--out", str(tmp_path / "run"), "--export", str(tmp_path / "pipe")]) == 0
    pipe = Pipeline.from_pretrained(tmp_path / "pipe")
    assert pipe.meta["trained_steps"] == 2 and "init" not in pipe.meta
    assert pipe.codec.to_dict() == donor.codec.to_dict()
    assert pipe.semantic.cfg == donor.semantic.cfg and pipe.sync.cfg == donor.sync.cfg
    s = donor.sync.cfg.image_size
    np.testing.assert_allclose(np.asarray(pipe.sync.video_features(np.zeros((24, s, s, 3), np.uint8))),
                               np.asarray(donor.sync.video_features(np.zeros((24, s, s, 3), np.uint8))),
                               atol=1e-3)
    with pytest.raises(SystemExit):
        main(["--init", str(tiny_ckpt), "--encoders", str(tiny_ckpt), "--out", str(tmp_path / "x")])
