import math

import jax.numpy as jnp
import numpy as np

from salsav_core.encoders.losses import B_INIT, T_INIT, siglip_loss


def logsig(x):
    return -math.log1p(math.exp(-x))


def test_init_values():
    assert math.isclose(math.exp(T_INIT), 10.0, rel_tol=1e-9) and B_INIT == -10.0


def test_siglip_loss_hand_computed():
    zx = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    zy = jnp.array([[1.0, 0.0], [0.6, 0.8]])
    # logits = 10 * [[1, .6], [0, .8]] - 10 = [[0, -4], [-10, -2]]; positives on the diagonal
    want = -(logsig(0.0) + logsig(4.0) + logsig(10.0) + logsig(-2.0)) / 2
    got = float(siglip_loss(zx, zy, math.log(10.0), -10.0))
    assert math.isclose(got, want, rel_tol=1e-5)
    # with both pairs of row 0 positive, the (0, 1) term flips sign
    labels = jnp.array([[1.0, 1.0], [0.0, 1.0]])
    want2 = -(logsig(0.0) + logsig(-4.0) + logsig(10.0) + logsig(-2.0)) / 2
    assert math.isclose(float(siglip_loss(zx, zy, math.log(10.0), -10.0, labels)), want2, rel_tol=1e-5)


def test_siglip_loss_prefers_matched_pairs():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 8)).astype(np.float32)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    matched = float(siglip_loss(jnp.asarray(z), jnp.asarray(z), math.log(10.0), -5.0))
    shuffled = float(siglip_loss(jnp.asarray(z), jnp.asarray(z[::-1]), math.log(10.0), -5.0))
    assert matched < shuffled


def test_dense_siglip_is_one_siglip_per_time_index():
    from salsav_core.encoders.losses import dense_siglip_loss
    rng = np.random.default_rng(1)
    zv = rng.standard_normal((3, 4, 8)).astype(np.float32)
    za = rng.standard_normal((3, 4, 8)).astype(np.float32)
    zv /= np.linalg.norm(zv, axis=-1, keepdims=True)
    za /= np.linalg.norm(za, axis=-1, keepdims=True)
    per_t = [float(siglip_loss(jnp.asarray(zv[:, t]), jnp.asarray(za[:, t]), 1.0, -2.0)) for t in range(4)]
    got = float(dense_siglip_loss(jnp.asarray(zv), jnp.asarray(za), 1.0, -2.0))
    assert math.isclose(got, np.mean(per_t), rel_tol=1e-5)


def test_dense_siglip_cannot_be_solved_by_position():
    """Features that only encode the time index (identical across snippets) score no better than
    chance content; features that match per snippet score far better."""
    from salsav_core.encoders.losses import dense_siglip_loss
    rng = np.random.default_rng(2)
    pos = rng.standard_normal((1, 6, 16)).astype(np.float32).repeat(4, axis=0)      # (B, T, D)
    pos /= np.linalg.norm(pos, axis=-1, keepdims=True)
    content = rng.standard_normal((4, 6, 16)).astype(np.float32)
    content /= np.linalg.norm(content, axis=-1, keepdims=True)
    by_pos = float(dense_siglip_loss(jnp.asarray(pos), jnp.asarray(pos), math.log(10.0), -5.0))
    by_content = float(dense_siglip_loss(jnp.asarray(content), jnp.asarray(content), math.log(10.0), -5.0))
    assert by_content < 0.5 * by_pos
