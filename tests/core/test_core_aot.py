"""Whole executables on disk (`salsav_core.aot`): reused across processes, rebuilt when damaged,
keyed by shapes and static arguments, and off unless the compile cache is on."""
from __future__ import annotations

import os
import subprocess
import sys
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from salsav_core import aot


@partial(jax.jit, static_argnums=0)
def _scaled_sum(scale, x, y):
    return scale * jnp.sin(x) @ y.T


@pytest.fixture
def executables(tmp_path):
    aot.enable(tmp_path)
    yield tmp_path
    aot.enable(None)


def _files(folder):
    return sorted(p.name for p in folder.glob("*.xla"))


def test_an_executable_is_saved_then_loaded_instead_of_compiled(executables, monkeypatch):
    x, y = np.ones((8, 16), np.float32), np.full((4, 16), 0.5, np.float32)
    want = np.asarray(_scaled_sum(2.0, x, y))
    np.testing.assert_allclose(np.asarray(aot.call(_scaled_sum, (2.0,), x, y)), want, rtol=1e-6)
    saved = _files(executables)
    assert len(saved) == 1
    aot.enable(executables)                         # a new process: nothing in memory
    monkeypatch.setattr(aot, "_compile_and_save", lambda *a: pytest.fail("compiled again"))
    np.testing.assert_allclose(np.asarray(aot.call(_scaled_sum, (2.0,), x, y)), want, rtol=1e-6)
    assert _files(executables) == saved


def test_the_key_follows_static_arguments_and_shapes(executables):
    x, y = np.ones((8, 16), np.float32), np.ones((4, 16), np.float32)
    a = np.asarray(aot.call(_scaled_sum, (2.0,), x, y))
    b = np.asarray(aot.call(_scaled_sum, (3.0,), x, y))
    c = np.asarray(aot.call(_scaled_sum, (2.0,), x[:5], y))
    np.testing.assert_allclose(b, 1.5 * a, rtol=1e-6)
    assert c.shape == (5, 4)
    assert len(_files(executables)) == 3


def test_a_damaged_file_is_rebuilt(executables):
    x, y = np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)
    want = np.asarray(aot.call(_scaled_sum, (1.0,), x, y))
    (path,) = executables.glob("*.xla")
    path.write_bytes(b"not an executable")
    aot.enable(executables)
    np.testing.assert_allclose(np.asarray(aot.call(_scaled_sum, (1.0,), x, y)), want, rtol=1e-6)
    assert path.stat().st_size > 100                 # rewritten whole


def test_off_by_default_writes_nothing(tmp_path):
    assert aot._DIR is None
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(np.asarray(aot.call(_scaled_sum, (1.0,), x, x)), np.sin(1.0) * 3, rtol=1e-6)
    assert not list(tmp_path.iterdir())


PROG = """
import sys
import numpy as np
from salsav_core.runtime import enable_compile_cache
from salsav_core import aot
from salsav_core.pipeline import Pipeline
enable_compile_cache()
if sys.argv[1:] == ["jit-only"]:
    aot.enable(None)
pipe = Pipeline.random_init("test", "tiny", seed=3)
frames = np.random.default_rng(0).integers(0, 255, (24, 32, 32, 3), dtype=np.uint8)
cond = pipe.conditions_from_frames(frames[:8], frames)
lat = pipe.sample(cond, 1.0, steps=2, seed=1)
print(len(aot._LOADED), float(np.abs(lat).sum()))
"""


def test_a_second_process_generates_the_same_from_saved_executables(tmp_path):
    """JAX's persistent cache already holds the programs (a run without executables), so the
    first run must compile past it: an executable the cache hands back serializes without all
    its kernels, and the next process then failed with "Function ... not found"."""
    env = {**os.environ, "SALSAV_CACHE_DIR": str(tmp_path), "JAX_PLATFORMS": "cpu"}
    env.pop("SALSAV_COMPILE_CACHE", None)
    runs = [subprocess.run([sys.executable, "-c", PROG, *args], capture_output=True, text=True,
                           env=env, timeout=300) for args in (["jit-only"], [], [], [])]
    assert all(r.returncode == 0 for r in runs), [r.stderr[-800:] for r in runs]
    jit_only, first, second, third = (r.stdout.split() for r in runs)
    assert jit_only[0] == "0" and jit_only[1] == first[1]
    assert int(first[0]) >= 2 and first == second == third   # encoders and sampler, same numbers
    saved = list((tmp_path / "executables").glob("*.xla"))
    assert len(saved) == int(first[0])
