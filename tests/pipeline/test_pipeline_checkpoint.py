"""Pipeline checkpoints: save → load round trip (sharded), the Hub offline cache, clear errors."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from salsav_core.checkpoints import CheckpointError
from salsav_core.pipeline import Pipeline


def test_save_load_round_trip_same_output(tiny_pipe, tiny_ckpt, videos):
    shards = sorted(p.name for p in tiny_ckpt.glob("*.safetensors"))
    assert len(shards) > 1 and all(s.startswith("model-") for s in shards)
    cfg = json.loads((tiny_ckpt / "config.json").read_text())
    assert cfg["format"] == "salsav-pipeline/1" and cfg["generator"]["name"] == "test"
    loaded = Pipeline.from_pretrained(tiny_ckpt)
    a = tiny_pipe.generate(videos["good"], steps=2, seed=9, mux=False, prompt="a glass ball")
    b = loaded.generate(videos["good"], steps=2, seed=9, mux=False, prompt="a glass ball")
    np.testing.assert_allclose(a.latent, b.latent, atol=1e-5)


def test_from_pretrained_offline_hub_cache(tiny_ckpt, tmp_path, monkeypatch):
    """A Hub-style cache (models--org--name/refs/main + snapshots/<sha>/) resolves offline."""
    cache = tmp_path / "hub"
    sha = "0123456789abcdef0123456789abcdef01234567"
    snap = cache / "models--salsav--tiny" / "snapshots" / sha
    shutil.copytree(tiny_ckpt, snap)
    (cache / "models--salsav--tiny" / "refs").mkdir(parents=True)
    (cache / "models--salsav--tiny" / "refs" / "main").write_text(sha)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    pipe = Pipeline.from_pretrained("salsav/tiny")
    assert pipe.cfg.name == "test"
    with pytest.raises(CheckpointError):
        Pipeline.from_pretrained("salsav/not-cached")


def test_missing_and_corrupt_checkpoints(tiny_ckpt, tmp_path):
    with pytest.raises(CheckpointError, match="neither an existing folder|does not exist"):
        Pipeline.from_pretrained(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(tiny_ckpt, broken)
    victim = sorted(broken.glob("*.safetensors"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt|truncated"):
        Pipeline.from_pretrained(broken)
    partial = tmp_path / "partial"
    shutil.copytree(tiny_ckpt, partial)
    sorted(partial.glob("*.safetensors"))[-1].unlink()
    with pytest.raises(CheckpointError, match="missing"):
        Pipeline.from_pretrained(partial)
    nocfg = tmp_path / "nocfg"
    shutil.copytree(tiny_ckpt, nocfg)
    (nocfg / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        Pipeline.from_pretrained(nocfg)


def test_bundled_checkpoint_loads():
    pipe = Pipeline.from_pretrained()          # the default: checkpoints/salsav-synthfoley
    assert pipe.cfg.name == "cpu-tiny" and pipe.meta.get("trained_steps", 0) > 1000
    assert pipe.cfg.shortcut == (pipe.meta["run"]["objective"] != "flow")   # told d only if trained with d


def test_onset_guidance_is_a_checkpoint_setting(tiny_ckpt, tmp_path):
    """config.json "sampling": {"onset_guidance": w} is read, kept on save, and checked."""
    loaded = Pipeline.from_pretrained(tiny_ckpt)
    assert loaded.onset_guidance == 0.0 and loaded.sync.onset_curve(np.zeros((5, 8))) is None  # ViT tower: no head
    for value, ok in ((0.3, True), (-1.0, False), (float("nan"), False)):
        folder = tmp_path / f"w{value}"
        shutil.copytree(tiny_ckpt, folder)
        cfg = json.loads((folder / "config.json").read_text())
        cfg["sampling"] = {"onset_guidance": value}
        (folder / "config.json").write_text(json.dumps(cfg))
        if not ok:
            with pytest.raises(CheckpointError, match="onset_guidance"):
                Pipeline.from_pretrained(folder)
            continue
        pipe = Pipeline.from_pretrained(folder)
        assert pipe.onset_guidance == 0.3
        again = pipe.save_pretrained(tmp_path / "again", dtype="float32")
        assert json.loads((again / "config.json").read_text())["sampling"] == {"onset_guidance": 0.3}


def test_bundled_sync_model_reads_an_onset_curve():
    pipe = Pipeline.from_pretrained()
    feats = np.random.default_rng(0).normal(size=(48, pipe.sync.cfg.dim)).astype(np.float32)
    curve = pipe.sync.onset_curve(feats)
    assert curve.shape == (48,) and abs(curve.mean()) < 1e-4 and abs(curve.std() - 1) < 1e-2
