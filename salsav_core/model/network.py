"""The SALSA-V velocity network: MMDiT-X blocks over [audio ‖ semantic video], then DiT blocks."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..config import LATENT_RATE, SEM_FPS, ModelConfig
from .blocks import DiTBlock, FinalLayer, MMDiTXBlock
from .layers import Mlp, ScalarEmbedder, linear
from .sync_upsample import SyncUpsample


def _replace(x, drop, null):
    """Where drop[b] is True, replace row b of x (B, ..., D) by the null embedding null (D,)."""
    mask = drop.reshape((-1,) + (1,) * (x.ndim - 1))
    return jnp.where(mask, jnp.broadcast_to(null, x.shape), x)


class SalsaV(nnx.Module):
    """v = model(x_t, t, d, ref_mask, sem, sync, text, drop_sem, drop_sync, drop_text) -> (B, T_a, C)."""

    def __init__(self, cfg: ModelConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        h = cfg.hidden
        if cfg.mm_self_attn_blocks > cfg.mm_blocks:
            raise ValueError("mm_self_attn_blocks must be <= mm_blocks")
        self.in_proj = linear(cfg.latent_dim, h, rngs)
        # Learned tokens: row 0 = position to generate, row 1 = clean reference (VampNet style).
        self.ref_tokens = nnx.Param(0.02 * jax.random.normal(rngs.params(), (2, h)))
        # Learned null embeddings for condition dropout / the unconditional CFG branch.
        self.null_sem = nnx.Param(jnp.zeros((cfg.sem_dim,)))
        self.null_sync = nnx.Param(jnp.zeros((cfg.sync_dim,)))
        self.null_text = nnx.Param(jnp.zeros((cfg.text_dim,)))
        self.sem_proj = Mlp(cfg.sem_dim, h, h, rngs)          # video tokens
        self.sem_pool_proj = linear(cfg.sem_dim, h, rngs)      # pooled -> global condition
        self.text_proj = Mlp(cfg.text_dim, h, h, rngs)
        self.t_embed = ScalarEmbedder(h, rngs)
        self.d_embed = ScalarEmbedder(h, rngs)
        self.sync_up = SyncUpsample(cfg.sync_dim, rngs)
        self.sync_proj = Mlp(cfg.sync_dim, h, h, rngs)
        self.mm = nnx.List([MMDiTXBlock(h, cfg.heads, cfg.mlp_ratio, i < cfg.mm_self_attn_blocks, rngs)
                            for i in range(cfg.mm_blocks)])
        self.dit = nnx.List([DiTBlock(h, cfg.heads, cfg.mlp_ratio, rngs) for _ in range(cfg.dit_blocks)])
        self.final = FinalLayer(h, cfg.latent_dim, rngs)

    def __call__(self, x_t, t, d, ref_mask, sem, sync, text, drop_sem, drop_sync, drop_text):
        b, t_a, _ = x_t.shape
        t_vs = sem.shape[1]
        sem = _replace(sem, drop_sem, self.null_sem[...])        # (B, T_vs, D_sem)
        sync = _replace(sync, drop_sync, self.null_sync[...])    # (B, T_syn, D_syn)
        text = _replace(text, drop_text, self.null_text[...])    # (B, D_text)

        # Global condition c (B, H) and per-audio-token condition c_a (B, T_a, H).
        c = (self.text_proj(text) + self.sem_pool_proj(sem.mean(axis=1))
             + self.t_embed(t) + self.d_embed(d if self.cfg.shortcut else jnp.zeros_like(d)))
        c_a = c[:, None] + self.sync_proj(self.sync_up(sync, t_a))

        a = self.in_proj(x_t) + self.ref_tokens[...][ref_mask.astype(jnp.int32)]  # (B, T_a, H)
        v = self.sem_proj(sem)                                                      # (B, T_vs, H)
        # RoPE positions on the audio latent time axis: video frame i (8 FPS) sits at i*LR/8.
        # Static numpy positions: RoPE's cos/sin tables become constants of the compiled forward.
        pos_a = np.arange(t_a, dtype=np.float64)
        pos_v = np.arange(t_vs) * (LATENT_RATE / SEM_FPS)
        for blk in self.mm:
            a, v = blk(a, v, c_a, c, pos_a, pos_v)
        for blk in self.dit:
            a = blk(a, c_a, pos_a)
        return self.final(a, c_a)                                                   # (B, T_a, C)


def abstract_model(cfg: ModelConfig) -> SalsaV:
    """Shape-only model (no memory): nnx.eval_shape of the constructor."""
    return nnx.eval_shape(lambda: SalsaV(cfg, nnx.Rngs(0)))


def param_count(cfg: ModelConfig) -> int:
    """Number of trainable parameters, from an abstract init."""
    state = nnx.state(abstract_model(cfg), nnx.Param)
    return int(sum(np.prod(x.shape) for x in jax.tree_util.tree_leaves(state)))


def init_model(cfg: ModelConfig, seed: int = 0) -> SalsaV:
    """Build a model with its initialisers compiled under jax.jit (much faster than eager init)."""
    graphdef, _ = nnx.split(abstract_model(cfg))
    state = jax.jit(lambda: nnx.state(SalsaV(cfg, nnx.Rngs(seed))))()
    return nnx.merge(graphdef, state)
