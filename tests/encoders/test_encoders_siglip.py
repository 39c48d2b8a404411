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
