"""Training step: loss goes down; 2-device data-parallel step equals the 1-device step."""
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from salsav_core.training import TrainConfig, init_train_state, make_train_step

from core_helpers import make_batch


def test_train_step_loss_goes_down(cfg):
    tcfg = TrainConfig(lr=3e-3, ema_decay=0.9)
    graphdef, state = init_train_state(cfg, tcfg, seed=0)
    step = make_train_step(graphdef, tcfg)
    batch = make_batch(cfg, 8, 0.5, seed=0)
    losses = []
    for i in range(40):
        state, m = step(state, batch, jax.random.key(i % 4))
        losses.append(float(m["loss"]))
    assert int(state.step) == 40
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8]), losses
    # EMA moved away from the initial params but lags the live ones
    p0 = init_train_state(cfg, tcfg, seed=0)[1].params
    dist = lambda a, b: sum(float(np.abs(x - y).sum()) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))  # noqa: E731
    assert 0 < dist(state.ema, p0) < dist(state.params, p0)



def test_onset_weight_reweights_the_loss_only(cfg):
    """onset_weight > 0 changes the optimised loss, not the (unweighted) logged flow/shortcut
    parts, on the same params, batch and key; the weighted run still learns."""
    batch = make_batch(cfg, 8, 0.5, seed=0)
    out = {}
    for ow in (0.0, 2.0):
        tcfg = TrainConfig(lr=3e-3, ema_decay=0.9, onset_weight=ow)
        graphdef, state = init_train_state(cfg, tcfg, seed=0)
        step = make_train_step(graphdef, tcfg)
        losses = []
        for i in range(30):
            state, m = step(state, batch, jax.random.key(i % 4))
            losses.append({k: float(v) for k, v in m.items()})
        out[ow] = losses
    first0, first2 = out[0.0][0], out[2.0][0]
    assert first0["flow_loss"] == pytest.approx(first2["flow_loss"], rel=1e-6)
    assert first0["shortcut_loss"] == pytest.approx(first2["shortcut_loss"], rel=1e-6)
    assert abs(first0["loss"] - first2["loss"]) > 1e-3 * first0["loss"]
    late = np.mean([m["loss"] for m in out[2.0][-6:]])
    assert late < 0.8 * np.mean([m["loss"] for m in out[2.0][:6]])


_SCRIPT = textwrap.dedent("""
    import json, sys, jax, numpy as np
    sys.path.insert(0, {tests!r})
    from core_helpers import make_batch
    from salsav_core.config import MODEL_PRESETS
    from salsav_core.training import TrainConfig, init_train_state, make_mesh, make_train_step, shard_batch
    cfg = MODEL_PRESETS["test"]; tcfg = TrainConfig(lr=1e-3)
    batch = make_batch(cfg, 4, 0.5, seed=1)
    out = {{}}
    for n in (1, 2):
        mesh = make_mesh(jax.devices()[:n])
        g, s = init_train_state(cfg, tcfg, seed=0, mesh=mesh)
        step = make_train_step(g, tcfg, mesh)
        s, m = step(s, shard_batch(batch, mesh), jax.random.key(3))
        s, m = step(s, shard_batch(batch, mesh), jax.random.key(4))
        out[n] = dict(loss=float(m["loss"]), n_dev=len(jax.tree.leaves(s.params)[0].sharding.device_set),
                      params=[np.asarray(x).ravel()[:50].tolist() for x in jax.tree.leaves(s.params)])
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
def test_data_parallel_two_devices_match_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    code = _SCRIPT.format(tests=os.path.dirname(__file__))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.split("RESULT")[-1])
    one, two = out["1"], out["2"]
    assert one["n_dev"] == 1 and two["n_dev"] == 2
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-5, atol=1e-6)
    for a, b in zip(one["params"], two["params"]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
