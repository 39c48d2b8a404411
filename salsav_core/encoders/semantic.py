"""Semantic image–text encoder (stands in for SigLIP 2): a small ViT over 8 FPS frames and a
transformer over hashed caption words, trained with the SigLIP sigmoid loss."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .blocks import MAPHead, Stack, apply_method, l2norm, linear, posemb
from .losses import B_INIT, T_INIT
from .presets import SemanticConfig
from .text import tokenize


class EncoderInputError(ValueError):
    """Frames, text or audio of the wrong shape or type."""


def frames_to_float(frames, size: int):
    """(..., H, W, 3) uint8 -> (..., size, size, 3) float32 in [-1, 1], resized if needed.
    numpy in, numpy out when no resize is needed (no eager device ops to compile at start-up)."""
    if isinstance(frames, np.ndarray) and frames.shape[-3:-1] == (size, size):
        return frames.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    x = jnp.asarray(frames, jnp.float32) / 127.5 - 1.0
    if x.shape[-3:-1] != (size, size):
        x = jax.image.resize(x, x.shape[:-3] + (size, size, 3), "linear")
    return x


def check_frames(frames) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise EncoderInputError(f"expected frames (T, H, W, 3), got shape {frames.shape}")
    if frames.shape[0] == 0:
        raise EncoderInputError("expected at least one frame")
    return frames


class ImageTower(nnx.Module):
    def __init__(self, cfg: SemanticConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        p, w = cfg.patch, cfg.width
        n = (cfg.image_size // p) ** 2
        self.embed = linear(p * p * 3, w, rngs)
        self.pos = posemb(rngs, 1, n, w)
        self.stack = Stack(cfg.image_depth, w, cfg.heads, cfg.mlp_ratio, rngs)
        self.ln = nnx.LayerNorm(w, rngs=rngs)
        self.head = MAPHead(w, cfg.heads, cfg.mlp_ratio, rngs)
        self.proj = linear(w, cfg.dim, rngs)

    def __call__(self, x):  # (B, S, S, 3) float -> (B, dim) unnormalised
        b, s, p = x.shape[0], self.cfg.image_size, self.cfg.patch
        g = s // p
        x = x.reshape(b, g, p, g, p, 3).transpose(0, 1, 3, 2, 4, 5).reshape(b, g * g, p * p * 3)
        x = self.stack(self.embed(x) + self.pos[...])                 # (B, N, W)
        return self.proj(self.head(self.ln(x)))


class TextTower(nnx.Module):
    def __init__(self, cfg: SemanticConfig, rngs: nnx.Rngs):
        w = cfg.width
        self.embed = nnx.Embed(cfg.vocab_buckets, w, rngs=rngs)
        self.cls = posemb(rngs, 1, 1, w)
        self.pos = posemb(rngs, 1, cfg.max_words + 1, w)
        self.stack = Stack(cfg.text_depth, w, cfg.heads, cfg.mlp_ratio, rngs)
        self.ln = nnx.LayerNorm(w, rngs=rngs)
        self.proj = linear(w, cfg.dim, rngs)

    def __call__(self, ids):  # (B, L) int32 -> (B, dim) unnormalised; CLS-token pooling
        b = ids.shape[0]
        x = jnp.concatenate([jnp.broadcast_to(self.cls[...], (b, 1, self.cls.shape[-1])),
                             self.embed(ids)], axis=1) + self.pos[...]
        mask = jnp.concatenate([jnp.ones((b, 1), bool), ids > 0], axis=1)   # (B, L+1)
        x = self.stack(x, mask)
        return self.proj(self.ln(x[:, 0]))


class SemanticEncoder(nnx.Module):
    """`encode_frames(frames8) -> (T, dim)`, `encode_text(list[str]) -> (N, dim)`; unit vectors."""

    def __init__(self, cfg: SemanticConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        self.image = ImageTower(cfg, rngs)
        self.text = TextTower(cfg, rngs)
        self.log_t = nnx.Param(jnp.asarray(T_INIT, jnp.float32))
        self.bias = nnx.Param(jnp.asarray(B_INIT, jnp.float32))

    # traced pieces (used inside jit by training)
    def embed_images(self, x):  # (B, S, S, 3) float -> (B, dim) unit
        return l2norm(self.image(x))

    def embed_ids(self, ids):  # (B, L) -> (B, dim) unit
        return l2norm(self.text(ids))

    # user-facing API (numpy in, numpy out)
    def encode_frames(self, frames8, chunk: int = 64) -> np.ndarray:
        """(T, H, W, 3) uint8 frames at 8 FPS -> (T, dim) float32 unit vectors."""
        frames = check_frames(frames8)
        size = self.cfg.image_size
        outs = [np.asarray(apply_method(self, "embed_images", frames_to_float(frames[i:i + chunk], size)))
                for i in range(0, len(frames), chunk)]
        return np.concatenate(outs, axis=0)

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """list of N strings -> (N, dim) float32 unit vectors. Unknown words are hashed too."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise EncoderInputError("encode_text takes a list of strings")
        if not texts:
            return np.zeros((0, self.cfg.dim), np.float32)
        ids = tokenize(list(texts), self.cfg.vocab_buckets, self.cfg.max_words)
        return np.asarray(apply_method(self, "embed_ids", jnp.asarray(ids)))
