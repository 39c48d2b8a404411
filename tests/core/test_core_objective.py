"""Objective: t sampling, masks, condition dropout rates, zero gradient at masked positions,
no gradient through the bootstrap targets."""
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from salsav_core import objective as O

from core_helpers import make_batch


def test_lognormal_t_in_unit_interval_centred():
    t = np.asarray(O.sample_t_lognormal(jax.random.key(0), 20000))
    assert t.min() > 0 and t.max() < 1 and abs(np.median(t) - 0.5) < 0.02
    assert np.mean(t < 0.1) < 0.05   # logit-normal: little mass near the ends


def test_ref_mask_contiguous_spans_at_rate():
    m = np.asarray(O.sample_ref_mask(jax.random.key(1), 8000, 200, p=0.25, min_len=1, max_len=88))
    lens = m.sum(1)
    rows = lens > 0
    assert abs(rows.mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 8000)
    assert lens[rows].min() >= 1 and lens[rows].max() <= 88 and lens[rows].max() >= 80
    # exactly one contiguous span per masked row: one rising edge
    edges = np.diff(np.concatenate([np.zeros((len(m), 1), bool), m], 1).astype(int), axis=1)
    assert np.all((edges == 1).sum(1)[rows] == 1)
    short = np.asarray(O.sample_ref_mask(jax.random.key(2), 500, 10, p=1.0, max_len=88))
    assert short.sum(1).max() <= 10 and short.any(1).all()


def test_each_condition_drops_at_its_rate_independently():
    n, p = 40000, 0.1
    d = O.sample_drops(jax.random.key(3), n, p)
    arr = np.stack([np.asarray(x) for x in d])           # (3, n)
    tol = 4 * np.sqrt(p * (1 - p) / n)
    for rate in arr.mean(1):
        assert abs(rate - p) < tol
    for i, j in [(0, 1), (0, 2), (1, 2)]:                  # independence: joint rate p^2
        assert abs((arr[i] & arr[j]).mean() - p * p) < 4 * np.sqrt(p * p / n)


def test_shortcut_levels_on_grid():
    t, d2, dt = map(np.asarray, O.sample_shortcut_levels(jax.random.key(4), 5000, 7))
    assert set(np.round(1 / d2).astype(int)) == {1, 2, 4, 8, 16, 32, 64}
    np.testing.assert_allclose(np.round(t / d2), t / d2, atol=1e-5)       # t on the 2d-grid
    assert np.all(t + d2 <= 1 + 1e-6)
    np.testing.assert_array_equal(dt[d2 == 1 / 64], 0.0)                  # finest teacher = flow level
    np.testing.assert_allclose(dt[d2 > 1 / 64], d2[d2 > 1 / 64] / 2)


def test_flow_inputs_keep_clean_positions():
    k = jax.random.split(jax.random.key(5), 2)
    x0, x1 = jax.random.normal(k[0], (2, 10, 4)), jax.random.normal(k[1], (2, 10, 4))
    mask = jnp.zeros((2, 10), bool).at[0, 2:5].set(True)
    x_t = O.interpolate(x0, x1, jnp.array([0.3, 0.6]), mask)
    np.testing.assert_array_equal(x_t[0, 2:5], x1[0, 2:5])
    np.testing.assert_allclose(x_t[1], 0.4 * x0[1] + 0.6 * x1[1], atol=1e-6)


def test_masked_positions_get_exactly_zero_gradient(model, cfg):
    """d loss / d v_pred is exactly 0 at clean positions (end to end: real model, real targets)."""
    graphdef, params = nnx.split(model)
    batch = {k: jnp.asarray(v) for k, v in make_batch(cfg, 4, 1.0).items()}
    mask = O.sample_ref_mask(jax.random.key(6), 4, batch["x1"].shape[1], 1.0, 5, 20)
    assert mask.any(1).all()
    drops = O.sample_drops(jax.random.key(7), 4, 0.0)
    conds = (batch["sem"], batch["sync"], batch["text"])
    teacher = lambda *a: nnx.merge(graphdef, params)(*a)  # noqa: E731

    @jax.jit
    def targets_and_pred():
        tg = O.make_targets(jax.random.key(8), teacher, batch["x1"], mask, conds, drops, n_shortcut=1)
        return tg, teacher(tg.x_t, tg.t, tg.d, mask, *conds, *drops)
    tg, pred = targets_and_pred()
    g = np.asarray(jax.grad(lambda p: O.masked_mse(p, tg.target, mask))(pred))
    m = np.asarray(mask)
    assert np.all(g[m] == 0.0) and np.all(g[~m] != 0.0)
    # and the full training loss does not change when the clean positions' targets would
    # (x1 at clean positions only feeds the model input, not the loss): same loss for a
    # batch whose x_t there is the same.
    np.testing.assert_array_equal(np.asarray(tg.x_t)[m], np.asarray(batch["x1"])[m])


def test_bootstrap_targets_carry_no_gradient(model, cfg):
    graphdef, params = nnx.split(model)
    batch = {k: jnp.asarray(v) for k, v in make_batch(cfg, 4, 1.0).items()}
    drops = O.sample_drops(jax.random.key(7), 4, 0.0)
    mask = jnp.zeros(batch["x1"].shape[:2], bool)

    def target_sum(p):
        teacher = lambda *a: nnx.merge(graphdef, p)(*a)  # noqa: E731
        tg = O.make_targets(jax.random.key(8), teacher, batch["x1"], mask,
                            (batch["sem"], batch["sync"], batch["text"]), drops, n_shortcut=4)
        return jnp.sum(tg.target ** 2)

    target_sum = jax.jit(target_sum)
    g = jax.jit(jax.grad(target_sum))(params)
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g)) == 0.0
    # ... while the teacher does shape the target (it is not a constant)
    p2 = jax.tree.map(lambda x: x * 1.1, params)
    assert float(target_sum(p2)) != float(target_sum(params))


def test_onset_weights_favour_rises_and_keep_mean_one():
    x1 = np.zeros((3, 40, 4), np.float32)
    x1[0, 10:] = 2.0                      # one onset at frame 10
    x1[1, 5:] = 1.0; x1[1, 25:] = 3.0     # two rises, the second larger
    x1[1, 30:] = 0.0                      # a fall: not an onset
    w = np.asarray(O.onset_weights(jnp.asarray(x1), 2.0))
    np.testing.assert_allclose(w.mean(1), 1.0, rtol=1e-5)
    assert w[0].argmax() == 10 and np.allclose(np.delete(w[0], 10), w[0, 0])
    u = np.asarray(O.onset_weights(jnp.asarray(x1), 2.0, cap=100.0))   # uncapped: flux order
    assert u[1, 25] > u[1, 5] > u[1, 30] and np.isclose(u[1, 30], u[1, 0])
    assert np.isclose(w[1, 25], w[1, 5])                                # both at the cap
    np.testing.assert_allclose(w[2], 1.0)          # no rise anywhere: the plain loss
    np.testing.assert_allclose(np.asarray(O.onset_weights(jnp.asarray(x1), 0.0)), 1.0, rtol=1e-6)
    assert w.max() <= (1 + 2.0 * 8.0) / (1 + 2.0 * 8.0 / 40) + 1e-4   # the cap bounds one frame


def test_weighted_masked_mse_scales_frame_errors():
    pred, tgt = jnp.ones((2, 6, 3)), jnp.zeros((2, 6, 3))
    mask = jnp.zeros((2, 6), bool).at[:, 0].set(True)
    assert float(O.masked_mse(pred, tgt, mask, jnp.ones((2, 6)))) == float(O.masked_mse(pred, tgt, mask))
    w = jnp.ones((2, 6)).at[:, 3].set(4.0)
    g = np.asarray(jax.grad(lambda p: O.masked_mse(p, tgt, mask, w))(pred))
    np.testing.assert_allclose(g[:, 3], 4 * g[:, 2])
    np.testing.assert_array_equal(g[:, 0], 0)
