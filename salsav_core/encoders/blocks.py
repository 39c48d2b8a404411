"""Shared transformer pieces for the encoders: pre-LN block, MAP head (attention pooling)."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from .. import aot

xavier = nnx.initializers.xavier_uniform()
zeros = nnx.initializers.zeros_init()


def linear(din: int, dout: int, rngs: nnx.Rngs) -> nnx.Linear:
    return nnx.Linear(din, dout, kernel_init=xavier, bias_init=zeros, rngs=rngs)


class Attention(nnx.Module):
    """Multi-head attention; queries from `x`, keys/values from `kv` (self-attention if None)."""

    def __init__(self, width: int, heads: int, rngs: nnx.Rngs):
        if width % heads:
            raise ValueError(f"width {width} must be divisible by heads {heads}")
        self.heads = heads
        self.q = linear(width, width, rngs)
        self.kv = linear(width, 2 * width, rngs)
        self.out = linear(width, width, rngs)

    def __call__(self, x, kv=None, mask=None):  # x (B, Tq, W), kv (B, Tk, W), mask (B, Tk) bool
        kv = x if kv is None else kv
        b, tq, w = x.shape
        tk = kv.shape[1]
        dh = w // self.heads
        q = self.q(x).reshape(b, tq, self.heads, dh)
        k, v = jnp.split(self.kv(kv).reshape(b, tk, 2, self.heads, dh), 2, axis=2)
        m = None if mask is None else mask[:, None, None, :]          # (B, 1, 1, Tk)
        o = jax.nn.dot_product_attention(q, k[:, :, 0], v[:, :, 0], mask=m)
        return self.out(o.reshape(b, tq, w))


class Mlp(nnx.Module):
    def __init__(self, width: int, hidden: int, rngs: nnx.Rngs):
        self.fc1 = linear(width, hidden, rngs)
        self.fc2 = linear(hidden, width, rngs)

    def __call__(self, x):
        return self.fc2(nnx.gelu(self.fc1(x), approximate=True))


class Block(nnx.Module):
    """Pre-LN transformer block (ViT)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, rngs: nnx.Rngs):
        self.ln1 = nnx.LayerNorm(width, rngs=rngs)
        self.attn = Attention(width, heads, rngs)
        self.ln2 = nnx.LayerNorm(width, rngs=rngs)
        self.mlp = Mlp(width, int(width * mlp_ratio), rngs)

    def __call__(self, x, mask=None):  # (B, T, W)
        x = x + self.attn(self.ln1(x), mask=mask)
        return x + self.mlp(self.ln2(x))


class Stack(nnx.Module):
    def __init__(self, depth: int, width: int, heads: int, mlp_ratio: float, rngs: nnx.Rngs):
        self.blocks = nnx.List([Block(width, heads, mlp_ratio, rngs) for _ in range(depth)])

    def __call__(self, x, mask=None):
        for blk in self.blocks:
            x = blk(x, mask)
        return x


class MAPHead(nnx.Module):
    """Multihead attention pooling with one learned query (big_vision MAPHead): (B, T, W) -> (B, W)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, rngs: nnx.Rngs):
        self.probe = nnx.Param(nnx.initializers.normal(0.02)(rngs.params(), (1, 1, width)))
        self.attn = Attention(width, heads, rngs)
        self.ln = nnx.LayerNorm(width, rngs=rngs)
        self.mlp = Mlp(width, int(width * mlp_ratio), rngs)

    def __call__(self, x, mask=None):
        probe = jnp.broadcast_to(self.probe[...], (x.shape[0], 1, x.shape[2]))
        y = self.attn(probe, x, mask)                                 # (B, 1, W)
        y = y + self.mlp(self.ln(y))
        return y[:, 0]


def posemb(rngs: nnx.Rngs, *shape: int) -> nnx.Param:
    """Learned position embedding, normal(0.02)."""
    return nnx.Param(nnx.initializers.normal(0.02)(rngs.params(), shape))


def l2norm(x, eps: float = 1e-6):
    return x / jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True) + eps)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _apply_jit(graphdef, method, state, *args):
    return getattr(nnx.merge(graphdef, state), method)(*args)


def apply_method(model: nnx.Module, method: str, *args):
    """Run `model.<method>(*args)` under jax.jit over the split state (no nnx.jit dispatch cost)."""
    graphdef, state = nnx.split(model)
    return aot.call(_apply_jit, (graphdef, method), state, *args)
