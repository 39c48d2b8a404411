"""Velocity network: shapes, adaLN-zero init, null embeddings, Eq. 4 upsampling, preset sizes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from salsav_core.config import MODEL_PRESETS, SYNC_FPS
from salsav_core.model import SalsaV, param_count
from salsav_core.model.sync_upsample import SyncUpsample, cubic_weights, linear_weights

from core_helpers import make_batch


@nnx.jit
def _forward(m, *args):
    return m(*args)


def _call(m, batch, t=0.3, d=0.0, ref_mask=None, drops=(False, False, False)):
    b, t_a, _ = batch["x1"].shape
    ref_mask = jnp.zeros((b, t_a), bool) if ref_mask is None else ref_mask
    fl = [jnp.full((b,), x) for x in drops]
    return np.asarray(_forward(m, batch["x1"], jnp.full((b,), t), jnp.full((b,), d), ref_mask,
                               batch["sem"], batch["sync"], batch["text"], *fl))


@pytest.mark.parametrize("seconds", [1.0, 2.7])
def test_model_shapes_any_duration(model, cfg, seconds):
    batch = make_batch(cfg, 2, seconds)
    v = _call(model, batch)
    assert v.shape == batch["x1"].shape and np.all(np.isfinite(v))


def test_model_adaln_zero_init_outputs_zero(cfg):
    v = _call(SalsaV(cfg, nnx.Rngs(1)), make_batch(cfg, 2, 1.0))
    assert float(jnp.abs(v).max()) == 0.0


def test_model_dropped_condition_ignores_its_input(model, cfg):
    a, b = make_batch(cfg, 2, 1.0, seed=0), make_batch(cfg, 2, 1.0, seed=1)
    for i, name in enumerate(["sem", "sync", "text"]):
        other = dict(a, **{name: b[name]})
        drops = tuple(j == i for j in range(3))
        np.testing.assert_array_equal(_call(model, a, drops=drops), _call(model, other, drops=drops))
        assert not np.allclose(_call(model, a), _call(model, other)), name


def test_model_depends_on_t_d_and_ref_tokens(model, cfg):
    batch = make_batch(cfg, 2, 1.0)
    base = _call(model, batch)
    assert not np.allclose(base, _call(model, batch, t=0.7))
    assert not np.allclose(base, _call(model, batch, d=0.5))
    mask = jnp.zeros(batch["x1"].shape[:2], bool).at[:, 3:9].set(True)
    assert not np.allclose(base, _call(model, batch, ref_mask=mask))


def test_plain_flow_model_is_told_d_zero_whatever_the_step(model, cfg):
    """A generator trained by plain flow matching (cfg.shortcut False) never saw d > 0, so it is
    told d = 0 at every step size; the same weights as a shortcut model do depend on d."""
    import dataclasses
    graphdef, state = nnx.split(model)
    flow = SalsaV(dataclasses.replace(cfg, shortcut=False), nnx.Rngs(0))
    nnx.update(flow, state)
    batch = make_batch(cfg, 2, 1.0)
    np.testing.assert_array_equal(_call(flow, batch, d=0.5), _call(flow, batch, d=0.0))
    np.testing.assert_allclose(_call(flow, batch, d=0.5), _call(model, batch, d=0.0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(_call(model, batch, d=0.5), _call(model, batch, d=0.0))


def test_sync_interpolation_weights_exact_on_ramps():
    # Keys cubic and linear interpolation reproduce a linear ramp exactly (inside the range).
    n_out, n_in = 430, 240
    ramp = np.arange(n_in, dtype=np.float64)
    times = np.arange(n_out) * SYNC_FPS / (44100 / 1024)
    inside = (times >= 1) & (times <= n_in - 3)
    np.testing.assert_allclose((cubic_weights(n_out, n_in, SYNC_FPS) @ ramp)[inside], times[inside], atol=1e-3)
    np.testing.assert_allclose((linear_weights(n_out, n_in, SYNC_FPS) @ ramp)[inside], times[inside], atol=1e-3)
    np.testing.assert_allclose(cubic_weights(n_out, n_in, SYNC_FPS).sum(1), 1.0, atol=1e-5)


def test_sync_upsample_gate_starts_closed_and_learned_path_has_gradient(cfg):
    m = SalsaV(cfg, nnx.Rngs(0))
    up = m.sync_up
    assert float(up.gate[...]) == 0.0
    v = jax.random.normal(jax.random.key(0), (1, 24, cfg.sync_dim))
    out = up(v, 43)
    assert out.shape == (1, 43, cfg.sync_dim)
    # stop-gradient on the interpolation path: d out / d v_syn comes only through tanh(g)=0.
    g = jax.grad(lambda x: up(x, 43).sum())(v)
    assert float(jnp.abs(g).max()) == 0.0


@pytest.mark.parametrize("t_syn,n_out", [(24, 43), (37, 66), (120, 215), (5, 9)])
def test_sync_upsample_learned_path_is_the_conv_transpose_resampled(t_syn, n_out):
    # The folded product must equal nnx.ConvTranspose(SAME) followed by the linear resampling,
    # in value and in the kernel's gradient (the reason for folding it).
    up = SyncUpsample(8, nnx.Rngs(1))
    up.gate.value = jnp.asarray(0.9)
    up.up.bias.value = jax.random.normal(jax.random.key(2), up.up.bias.shape)
    v = jax.random.normal(jax.random.key(3), (2, t_syn, 8))

    def reference(m, x):
        conv = m.up(x)                                                      # (B, 2*T_syn, D)
        lin = jnp.asarray(linear_weights(n_out, conv.shape[1], 2 * SYNC_FPS))
        interp = jnp.einsum("as,bsd->bad", jnp.asarray(cubic_weights(n_out, t_syn, SYNC_FPS)), x)
        return m.norm(interp) + jnp.tanh(m.gate[...]) * jnp.einsum("as,bsd->bad", lin, conv)

    want = reference(up, v)
    assert want.shape == (2, n_out, 8)
    np.testing.assert_allclose(up(v, n_out), want, rtol=1e-5, atol=1e-5)
    w = jax.random.normal(jax.random.key(4), want.shape)
    g_ref = nnx.grad(lambda m: (reference(m, v) * w).sum())(up)["up"]["kernel"][...]
    g_new = nnx.grad(lambda m: (m(v, n_out) * w).sum())(up)["up"]["kernel"][...]
    assert float(jnp.abs(g_ref).max()) > 0
    np.testing.assert_allclose(g_new, g_ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,target", [("paper-large", 643e6), ("paper-small", 347e6)])
def test_paper_preset_param_counts(name, target):
    n = param_count(MODEL_PRESETS[name])
    print(f"{name}: {n / 1e6:.1f}M parameters (target {target / 1e6:.0f}M)")
    assert abs(n - target) / target < 0.10


def _attention_reference(q, k, v, pos):
    """Per-head softmax attention with RoPE in plain numpy, token-major (B, T, N, Dh)."""
    half = q.shape[-1] // 2
    ang = pos[:, None] * (1.0 / 10000.0 ** (np.arange(half) / half))[None]        # (T, Dh/2)
    c, s = np.cos(ang)[None, :, None], np.sin(ang)[None, :, None]

    def rot(x):
        return np.concatenate([x[..., :half] * c - x[..., half:] * s, x[..., :half] * s + x[..., half:] * c], -1)
    q, k = rot(q), rot(k)
    logits = np.einsum("btnd,bsnd->bnts", q, k) / np.sqrt(q.shape[-1])
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnd->btnd", w, v).reshape(q.shape[0], q.shape[1], -1)


@pytest.mark.parametrize("static_pos", [True, False], ids=["numpy-tables", "traced-pos"])
def test_attention_matches_a_plain_softmax_reference_and_rope_is_relative(static_pos):
    """The network passes static numpy positions (RoPE tables as constants); traced positions
    take the in-graph path. Both must be the same attention."""
    from salsav_core.model.layers import attention
    rng = np.random.default_rng(0)
    q, k, v = (jnp.asarray(rng.normal(size=(2, 37, 4, 16)), jnp.float32) for _ in range(3))
    pos = np.concatenate([np.arange(30), 5.375 * np.arange(7)])        # audio ‖ video positions

    def run(p):   # under jit, as in the network: numpy positions are constants, jax ones traced
        if static_pos:
            return np.asarray(jax.jit(lambda q, k, v: attention(q, k, v, p))(q, k, v))
        return np.asarray(jax.jit(attention)(q, k, v, jnp.asarray(p, jnp.float32)))
    got = run(pos)
    np.testing.assert_allclose(got, _attention_reference(*(np.asarray(x) for x in (q, k, v)), pos), atol=2e-5)
    # RoPE makes attention depend only on position differences: shifting all positions is a no-op
    shifted = run(pos + 11.0)
    np.testing.assert_allclose(shifted, got, atol=2e-4)
