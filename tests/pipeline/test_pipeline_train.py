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
    from salsav_core.checkpoints import CheckpointError
    from salsav_core.config import model_preset
    from salsav_core.train_generator import GeneratorRunConfig, load_train_state, save_train_state
    from salsav_core.training import TRAIN_PRESETS, init_train_state
    cfg = model_preset("test")
    _, state = init_train_state(cfg, TRAIN_PRESETS["paper"])
    save_train_state(tmp_path, state, GeneratorRunConfig(model="test"))
    back = load_train_state(tmp_path, state)
    assert int(back.step) == int(state.step)
    other = dataclasses.replace(cfg, hidden=48, heads=2)
    _, state2 = init_train_state(other, TRAIN_PRESETS["paper"])
    with pytest.raises(CheckpointError, match="does not match"):
        load_train_state(tmp_path, state2)
