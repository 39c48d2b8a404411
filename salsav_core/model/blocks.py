"""Transformer blocks: MMDiT-X (joint audio ‖ video attention, optional audio self-attention) and DiT."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

from .layers import QKV, Mlp, attention, layer_norm, linear, modulate


class MMDiTXBlock(nnx.Module):
    """SD3.5 MMDiT-X block (`x_block_self_attn` layout).

    Audio tokens are modulated per token (c_a: global + upsampled sync), video tokens by the
    global condition. Joint attention runs over [audio ‖ video]; with `self_attn` the audio
    stream adds a second, audio-only attention with its own (shift, scale, gate).
    """

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, self_attn: bool, rngs: nnx.Rngs):
        self.self_attn = self_attn
        mh = int(hidden * mlp_ratio)
        n_mod = 9 if self_attn else 6
        # audio stream
        self.a_mod = linear(hidden, n_mod * hidden, rngs, zero=True)
        self.a_norm1, self.a_norm2 = layer_norm(hidden, rngs), layer_norm(hidden, rngs)
        self.a_qkv = QKV(hidden, heads, rngs)
        self.a_proj = linear(hidden, hidden, rngs)
        self.a_mlp = Mlp(hidden, mh, hidden, rngs)
        if self_attn:
            self.a_qkv2 = QKV(hidden, heads, rngs)
            self.a_proj2 = linear(hidden, hidden, rngs)
        # video stream
        self.v_mod = linear(hidden, 6 * hidden, rngs, zero=True)
        self.v_norm1, self.v_norm2 = layer_norm(hidden, rngs), layer_norm(hidden, rngs)
        self.v_qkv = QKV(hidden, heads, rngs)
        self.v_proj = linear(hidden, hidden, rngs)
        self.v_mlp = Mlp(hidden, mh, hidden, rngs)

    def __call__(self, a, v, c_a, c, pos_a, pos_v):
        """a (B, T_a, H), v (B, T_v, H), c_a (B, T_a, H), c (B, H); pos_a (T_a,) and pos_v (T_v,)
        are static numpy positions (RoPE tables become constants)."""
        t_a = a.shape[1]
        am = jnp.split(self.a_mod(nnx.silu(c_a)), 9 if self.self_attn else 6, axis=-1)  # (B, T_a, H) each
        vm = jnp.split(self.v_mod(nnx.silu(c))[:, None], 6, axis=-1)                      # (B, 1, H) each
        a_n = self.a_norm1(a)
        a_in = modulate(a_n, am[0], am[1])
        v_in = modulate(self.v_norm1(v), vm[0], vm[1])
        qa, ka, va = self.a_qkv(a_in)
        qv, kv, vv = self.v_qkv(v_in)
        joint = attention(jnp.concatenate([qa, qv], 1), jnp.concatenate([ka, kv], 1),
                          jnp.concatenate([va, vv], 1), np.concatenate([pos_a, pos_v]))
        a = a + am[2] * self.a_proj(joint[:, :t_a])
        if self.self_attn:
            a_in2 = modulate(a_n, am[6], am[7])
            a = a + am[8] * self.a_proj2(attention(*self.a_qkv2(a_in2), pos_a))
        a = a + am[5] * self.a_mlp(modulate(self.a_norm2(a), am[3], am[4]))
        v = v + vm[2] * self.v_proj(joint[:, t_a:])
        v = v + vm[5] * self.v_mlp(modulate(self.v_norm2(v), vm[3], vm[4]))
        return a, v


class DiTBlock(nnx.Module):
    """Single-stream DiT block over audio tokens with per-token adaLN-zero."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, rngs: nnx.Rngs):
        self.mod = linear(hidden, 6 * hidden, rngs, zero=True)
        self.norm1, self.norm2 = layer_norm(hidden, rngs), layer_norm(hidden, rngs)
        self.qkv = QKV(hidden, heads, rngs)
        self.proj = linear(hidden, hidden, rngs)
        self.mlp = Mlp(hidden, int(hidden * mlp_ratio), hidden, rngs)

    def __call__(self, a, c_a, pos_a):
        m = jnp.split(self.mod(nnx.silu(c_a)), 6, axis=-1)
        a = a + m[2] * self.proj(attention(*self.qkv(modulate(self.norm1(a), m[0], m[1])), pos_a))
        return a + m[5] * self.mlp(modulate(self.norm2(a), m[3], m[4]))


class FinalLayer(nnx.Module):
    """adaLN (shift, scale) + zero-init linear to the latent dim."""

    def __init__(self, hidden: int, out_dim: int, rngs: nnx.Rngs):
        self.norm = layer_norm(hidden, rngs)
        self.mod = linear(hidden, 2 * hidden, rngs, zero=True)
        self.out = linear(hidden, out_dim, rngs, zero=True)

    def __call__(self, a, c_a):
        shift, scale = jnp.split(self.mod(nnx.silu(c_a)), 2, axis=-1)
        return self.out(modulate(self.norm(a), shift, scale))
