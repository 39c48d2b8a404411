"""SigLIP sigmoid loss (Zhai et al. 2023), pure."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

T_INIT = math.log(10.0)   # learned log-temperature init: exp(t) = 10
B_INIT = -10.0            # learned bias init


def siglip_logits(zx, zy, log_t, bias):
    """(N, D), (M, D) unit vectors -> (N, M) logits = exp(t) * zx zy^T + b."""
    return zx @ zy.T * jnp.exp(log_t) + bias


def siglip_loss(zx, zy, log_t, bias, labels=None):
    """Sigmoid loss over all pairs, summed over columns, averaged over rows (big_vision).

    labels: (N, M) in {0, 1}, 1 for positive pairs; default the identity (pair i ↔ i).
    """
    logits = siglip_logits(zx, zy, log_t, bias)
    if labels is None:
        labels = jnp.eye(zx.shape[0], zy.shape[0])
    signs = 2.0 * labels - 1.0
    return -jnp.sum(jax.nn.log_sigmoid(signs * logits)) / zx.shape[0]


def dense_siglip_loss(zv, za, log_t, bias):
    """Per-time SigLIP: (B, T, D) video frames vs (B, T, D) audio tokens, unit vectors.

    At each time index t the B×B pairs (frame t of snippet i, token t of snippet j) form one
    SigLIP problem with the matches on the diagonal, so position alone never tells the pair
    apart: only content does. Averaged over t."""
    logits = jnp.einsum("itd,jtd->tij", zv, za) * jnp.exp(log_t) + bias      # (T, B, B)
    signs = 2.0 * jnp.eye(zv.shape[0]) - 1.0
    return -jnp.sum(jax.nn.log_sigmoid(signs * logits)) / (zv.shape[0] * zv.shape[1])


def shift_siglip_loss(zv, za, labels, weights, log_t, bias):
    """Within-snippet SigLIP against shifted audio: (B, T, D) frames vs (B, T, D) tokens of an
    audio window moved by a random offset per snippet. labels (B, T, T) mark the token that
    overlaps each frame; weights (B, T, T) zero the ambiguous neighbours. Position embeddings
    cannot solve it (the offset is random), so it trains when, not only what."""
    logits = jnp.einsum("bid,bjd->bij", zv, za) * jnp.exp(log_t) + bias        # (B, T, T)
    signs = 2.0 * labels - 1.0
    return -jnp.sum(weights * jax.nn.log_sigmoid(signs * logits)) / (zv.shape[0] * zv.shape[1])


def frame_siglip_loss(zv, za, log_t, bias, ignore: int = 1):
    """Per-frame SigLIP over whole clips: (B, T, D) video frames vs (B, T, D) audio frames,
    unit vectors. Every video frame is scored against every audio frame of every clip; the
    positive is the same clip's same frame. Same-clip pairs within `ignore` frames of each
    other are left out (an onset between two frames belongs to both). Averaged over frames."""
    b, t, d = zv.shape
    logits = zv.reshape(b * t, d) @ za.reshape(b * t, d).T * jnp.exp(log_t) + bias   # (BT, BT)
    clip = jnp.repeat(jnp.arange(b), t)
    frame = jnp.tile(jnp.arange(t), b)
    same = clip[:, None] == clip[None, :]
    gap = jnp.abs(frame[:, None] - frame[None, :])
    labels = same & (gap == 0)
    weights = jnp.where(same & (gap > 0) & (gap <= ignore), 0.0, 1.0)
    signs = 2.0 * labels - 1.0
    return -jnp.sum(weights * jax.nn.log_sigmoid(signs * logits)) / (b * t)
