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
