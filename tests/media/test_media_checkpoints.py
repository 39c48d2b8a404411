"""Checkpoint folders and Hub-style resolution (offline cache, local folder, bad input)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from salsav_core import checkpoints as ck


def _tensors():
    rng = np.random.default_rng(0)
    return {"blocks/0/kernel": rng.standard_normal((8, 4)).astype(np.float32),
            "blocks/0/bias": rng.standard_normal(4).astype(np.float32),
            "step": np.array(7, dtype=np.int32)}


def test_save_load_roundtrip(tmp_path):
    cfg = {"model": {"hidden": 32}, "codec": {"mean": [1.0, 2.0]}, "t": (1, 2)}
    t = _tensors()
    ck.save_folder(tmp_path / "c", cfg, t, dtype="float16")
    cfg2, t2 = ck.load_folder(tmp_path / "c")
    assert cfg2 == {"model": {"hidden": 32}, "codec": {"mean": [1.0, 2.0]}, "t": [1, 2]}
    assert set(t2) == set(t)
    assert t2["blocks/0/kernel"].dtype == np.float32
    np.testing.assert_allclose(t2["blocks/0/kernel"], t["blocks/0/kernel"], atol=2e-3)
    np.testing.assert_array_equal(t2["blocks/0/bias"], t["blocks/0/bias"])   # 1-D kept float32
    assert t2["step"].dtype == np.int32 and int(t2["step"]) == 7
    raw = (tmp_path / "c" / "model.safetensors").read_bytes()
    assert b"pickle" not in raw and raw[8:9] == b"{"   # safetensors header, not a pickle


def _hub_cache(root, repo="org/name", sha="a" * 40):
    base = root / ("models--" + repo.replace("/", "--"))
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(sha)
    snap = base / "snapshots" / sha
    ck.save_folder(snap, {"hello": "hub"}, _tensors())
    return snap


def test_resolve_offline_hub_cache(tmp_path, monkeypatch):
    snap = _hub_cache(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    folder = ck.resolve("org/name")
    assert folder.resolve() == snap.resolve()
    cfg, t = ck.load_folder(folder)
    assert cfg == {"hello": "hub"} and t["blocks/0/kernel"].shape == (8, 4)
    with pytest.raises(ck.CheckpointError, match="not in the Hugging Face cache") as e:
        ck.resolve("org/other")
    assert "Traceback" not in str(e.value)
    with pytest.raises(ck.CheckpointError, match="valid Hub repo id"):
        ck.resolve("no/such/dir/../x")


def test_resolve_local_folder(tmp_path):
    ck.save_folder(tmp_path / "ckpt", {"a": 1}, _tensors())
    assert ck.resolve(str(tmp_path / "ckpt")) == tmp_path / "ckpt"
    assert ck.resolve(tmp_path / "ckpt") == tmp_path / "ckpt"
    with pytest.raises(ck.CheckpointError, match="is a file"):
        ck.resolve(tmp_path / "ckpt" / "config.json")


def test_missing_and_corrupt(tmp_path):
    d = tmp_path / "c"
    ck.save_folder(d, {"a": 1}, _tensors())
    (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:60])
    with pytest.raises(ck.CheckpointError, match="model.safetensors is corrupt"):
        ck.load_folder(d)
    (d / "model.safetensors").unlink()
    with pytest.raises(ck.CheckpointError, match=r"missing \*\.safetensors"):
        ck.load_folder(d)
    (d / "config.json").write_text("{not json")
    ck.save_folder(tmp_path / "tmp2", {}, _tensors())
    (tmp_path / "tmp2" / "model.safetensors").rename(d / "model.safetensors")
    with pytest.raises(ck.CheckpointError, match="config.json is not valid JSON"):
        ck.load_folder(d)
    (d / "config.json").unlink()
    with pytest.raises(ck.CheckpointError, match="missing config.json"):
        ck.load_folder(d)
    with pytest.raises(ck.CheckpointError, match="does not exist"):
        ck.load_folder(tmp_path / "nope")


def test_nnx_state_roundtrip(tmp_path):
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.inp = nnx.Linear(3, 5, rngs=rngs)
            self.norm = nnx.BatchNorm(5, rngs=rngs)
            self.drop = nnx.Dropout(0.1, rngs=rngs)
            self.blocks = nnx.List([nnx.Linear(5, 5, rngs=rngs) for _ in range(2)])

    a, b = Net(nnx.Rngs(0)), Net(nnx.Rngs(1))
    flat = ck.state_to_flat(nnx.state(a))
    assert "blocks/1/kernel" in flat and "norm/mean" in flat
    assert not any("rngs" in k for k in flat)
    ck.save_folder(tmp_path / "c", {}, flat, dtype="float32")
    _, loaded = ck.load_folder(tmp_path / "c")
    ck.flat_to_state(b, loaded)
    np.testing.assert_array_equal(np.asarray(b.blocks[1].kernel[...]), np.asarray(a.blocks[1].kernel[...]))
    new_state = ck.flat_to_state(nnx.state(Net(nnx.Rngs(2))), loaded)
    np.testing.assert_array_equal(np.asarray(new_state["inp"]["bias"][...]), flat["inp/bias"])

    bad = dict(loaded)
    bad.pop("inp/bias")
    bad["extra/w"] = np.zeros(2, np.float32)
    bad["inp/kernel"] = np.zeros((5, 3), np.float32)
    with pytest.raises(ck.CheckpointError) as e:
        ck.flat_to_state(b, bad)
    msg = str(e.value)
    assert "missing tensors (inp/bias)" in msg and "unexpected tensors (extra/w)" in msg
    assert "inp/kernel: checkpoint (5, 3) vs model (3, 5)" in msg
    json.dumps(msg)
