"""Start-up: the persistent compilation cache and loading a checkpoint without initialisers."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from flax import nnx

from salsav_core import checkpoints, runtime
from salsav_core.checkpoints import CheckpointError
from salsav_core.encoders.presets import semantic_preset
from salsav_core.encoders.semantic import SemanticEncoder

PROG = """
import jax, jax.numpy as jnp, sys
from salsav_core.runtime import enable_compile_cache
print(enable_compile_cache())
print(float(jax.jit(lambda x: jnp.sin(x) @ x.T)(jnp.ones((64, 64))).sum()))
"""


def test_compile_cache_is_written_and_reused(tmp_path):
    env = {**os.environ, "SALSAV_CACHE_DIR": str(tmp_path), "JAX_PLATFORMS": "cpu"}
    env.pop("SALSAV_COMPILE_CACHE", None)
    r = subprocess.run([sys.executable, "-c", PROG], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-500:]
    folder = r.stdout.splitlines()[0]
    assert folder == str(tmp_path / "jax")
    entries = sorted(os.listdir(folder))
    assert entries, "nothing was written to the compile cache"
    r2 = subprocess.run([sys.executable, "-c", PROG], capture_output=True, text=True, env=env,
                        timeout=300)
    assert r2.returncode == 0 and r2.stdout.splitlines()[1] == r.stdout.splitlines()[1]
    assert sorted(os.listdir(folder)) == entries          # the same program: read, not rewritten
    off = subprocess.run([sys.executable, "-c", PROG], capture_output=True, text=True,
                         env={**env, "SALSAV_COMPILE_CACHE": "0"}, timeout=300)
    assert off.stdout.splitlines()[0] == "None"


def _factory():
    return SemanticEncoder(semantic_preset("tiny"), nnx.Rngs(7))


def test_load_module_matches_eager_fill_and_caches_structure(tmp_path, monkeypatch):
    monkeypatch.setenv("SALSAV_CACHE_DIR", str(tmp_path))
    flat = checkpoints.state_to_flat(_factory())
    flat = {k: (v + 0.25).astype(np.float32) for k, v in flat.items()}     # not the init values
    eager = checkpoints.flat_to_state(_factory(), flat)
    key = "semantic:tiny-test"
    built = checkpoints.load_module(_factory, flat, key=key)
    got = checkpoints.state_to_flat(built)
    assert set(got) == set(flat) and all(np.array_equal(got[k], flat[k]) for k in flat)
    frames = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(built.encode_frames(frames)),
                                  np.asarray(eager.encode_frames(frames)))
    cached = list((tmp_path / "structures").glob("*.pkl"))
    assert len(cached) == 1
    again = checkpoints.load_module(_factory, flat, key=key)               # from the cache
    assert all(np.array_equal(checkpoints.state_to_flat(again)[k], flat[k]) for k in flat)
    cached[0].write_bytes(b"not a pickle")                                 # damaged: rebuilt
    checkpoints.load_module(_factory, flat, key=key)
    assert cached[0].read_bytes() != b"not a pickle"
    bad = dict(flat)
    bad.pop(sorted(bad)[0])
    with pytest.raises(CheckpointError, match="1 missing tensors"):
        checkpoints.load_module(_factory, bad, key=key)
    wrong = {**flat, sorted(flat)[0]: np.zeros((3, 3), np.float32)}
    with pytest.raises(CheckpointError, match="shape mismatches"):
        checkpoints.load_module(_factory, wrong, key=key)


def test_structure_key_depends_on_config(tmp_path, monkeypatch):
    monkeypatch.setenv("SALSAV_CACHE_DIR", str(tmp_path))
    g1, s1 = runtime.abstract_module(_factory, "a")
    g2, s2 = runtime.abstract_module(_factory, "b")
    assert len(list((tmp_path / "structures").glob("*.pkl"))) == 2
    assert g1 == g2
    runtime.abstract_module(_factory, None)                                 # no key: not cached
    assert len(list((tmp_path / "structures").glob("*.pkl"))) == 2
