"""Contrastive sync model (paper §3.1, A.4).

Video: 16-frame snippets at 24 FPS, factorized space–time (ViViT-style): a spatial
transformer over patches of each frame (RGB + frame difference), a MAP head over space, then
a temporal transformer over the 16 frames -> (16, d) per snippet. Audio: AST-style encoder
over 128-band log-mel of 16 kHz audio (25 ms window, 10 ms hop), patches over
(freq × time), one transformer, pooled over frequency -> (t_a, d). The time means give one
vector each; trained with the SigLIP loss. The per-frame video features are v_syn.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

from .audio_frontend import log_mel
from .blocks import MAPHead, Stack, apply_method, l2norm, linear, posemb
from .losses import B_INIT, T_INIT
from .presets import SyncConfig
from .semantic import EncoderInputError, check_frames, frames_to_float


class VideoEncoder(nnx.Module):
    def __init__(self, cfg: SyncConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        p, d = cfg.patch, cfg.dim
        if cfg.image_size % p:
            raise ValueError(f"image_size {cfg.image_size} must be a multiple of patch {p}")
        g = cfg.image_size // p
        self.embed = linear(p * p * 6, d, rngs)
        self.pos_space = posemb(rngs, 1, g * g, d)
        self.spatial = Stack(cfg.spatial_depth, d, cfg.heads, cfg.mlp_ratio, rngs)
        self.ln_space = nnx.LayerNorm(d, rngs=rngs)
        self.map = MAPHead(d, cfg.heads, cfg.mlp_ratio, rngs)
        self.pos_time = posemb(rngs, 1, cfg.snippet_frames, d)
        self.temporal = Stack(cfg.temporal_depth, d, cfg.heads, cfg.mlp_ratio, rngs)
        self.ln = nnx.LayerNorm(d, rngs=rngs)

    def __call__(self, x):  # (B, F, S, S, 3) float in [-1, 1] -> (B, F, d) per-frame features
        b, f, s = x.shape[:3]
        p = self.cfg.patch
        g = s // p
        diff = jnp.concatenate([jnp.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], axis=1)
        x = jnp.concatenate([x, diff], axis=-1)                             # (B, F, S, S, 6)
        x = x.reshape(b * f, g, p, g, p, 6).transpose(0, 1, 3, 2, 4, 5).reshape(b * f, g * g, -1)
        x = self.spatial(self.embed(x) + self.pos_space[...])               # (B*F, N, d)
        x = self.map(self.ln_space(x)).reshape(b, f, -1)                    # (B, F, d)
        return self.ln(self.temporal(x + self.pos_time[...]))


class AudioEncoder(nnx.Module):
    def __init__(self, cfg: SyncConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        if cfg.n_mels % cfg.freq_patch or cfg.mel_frames % cfg.time_patch:
            raise ValueError("n_mels / mel_frames must be multiples of freq_patch / time_patch")
        gf, gt = cfg.n_mels // cfg.freq_patch, cfg.mel_frames // cfg.time_patch
        self.embed = linear(cfg.freq_patch * cfg.time_patch, cfg.dim, rngs)
        self.pos = posemb(rngs, 1, gf, gt, cfg.dim)
        self.stack = Stack(cfg.audio_depth, cfg.dim, cfg.heads, cfg.mlp_ratio, rngs)
        self.ln = nnx.LayerNorm(cfg.dim, rngs=rngs)

    def __call__(self, mel):  # (B, mel_frames, n_mels) -> (B, t_a, d), pooled over frequency
        c = self.cfg
        b = mel.shape[0]
        gf, gt = c.n_mels // c.freq_patch, c.mel_frames // c.time_patch
        x = mel.reshape(b, gt, c.time_patch, gf, c.freq_patch).transpose(0, 3, 1, 2, 4)
        x = self.embed(x.reshape(b, gf, gt, -1)) + self.pos[...]            # (B, gf, gt, d)
        x = self.ln(self.stack(x.reshape(b, gf * gt, -1)))
        return x.reshape(b, gf, gt, -1).mean(axis=1)                        # (B, gt, d)


def snippet_plan(t: int, f: int, hop: int) -> tuple[list[int], np.ndarray]:
    """Snippet starts for t >= f frames, and for each frame the (snippet, index) it is read from:
    the snippet where it sits farthest from an edge (ties: the earlier snippet)."""
    if not 1 <= hop <= f:
        raise ValueError(f"feature_hop must be in [1, {f}], got {hop}")
    starts = list(range(0, t - f + 1, hop))
    if starts[-1] + f < t:
        starts.append(t - f)
    s = np.asarray(starts)                                                      # (N,)
    i = np.arange(t)[:, None] - s[None, :]                                      # (t, N)
    margin = np.where((i >= 0) & (i < f), np.minimum(i, f - 1 - i), -1)
    k = margin.argmax(axis=1)                                                   # (t,)
    return starts, np.stack([k, np.arange(t) - s[k]], axis=1)


class SyncModel(nnx.Module):
    """`video_features(frames24) -> (T, d)` (v_syn); `audio_embed(wave16k_snippets) -> (B, d)`."""

    def __init__(self, cfg: SyncConfig, rngs: nnx.Rngs, video_cls=None, audio_cls=None):
        self.cfg = cfg
        self.video = (video_cls or VideoEncoder)(cfg, rngs)
        self.audio = (audio_cls or AudioEncoder)(cfg, rngs)
        self.video_head = linear(cfg.dim, cfg.dim, rngs)
        self.audio_head = linear(cfg.dim, cfg.dim, rngs)
        self.log_t = nnx.Param(jnp.asarray(T_INIT, jnp.float32))
        self.bias = nnx.Param(jnp.asarray(B_INIT, jnp.float32))

    # traced pieces
    def snippet_features(self, frames_u8):  # (B, 16, H, W, 3) uint8 -> (B, 16, d)
        return self.video(frames_to_float(frames_u8, self.cfg.image_size))

    def video_unit(self, feats):  # (..., d) video features -> (..., d) unit embeddings
        return l2norm(self.video_head(feats))

    def audio_unit(self, feats):  # (..., d) audio features -> (..., d) unit embeddings
        return l2norm(self.audio_head(feats))

    def embed_video(self, frames_u8):  # (B, 16, H, W, 3) uint8 -> (B, d) unit (time mean)
        return self.video_unit(self.snippet_features(frames_u8).mean(axis=1))

    def embed_mel(self, mel):  # (B, mel_frames, n_mels) -> (B, d) unit (time mean)
        return self.audio_unit(self.audio(mel).mean(axis=1))

    # user-facing API (numpy in, numpy out)
    def onset_curve(self, feats) -> np.ndarray | None:
        """(T, d) video features -> (T,) the audio onset strength the flux head reads from the
        picture (towers trained with `flux_weight`), standardized; None without that head."""
        head = getattr(self, "flux_head", None)
        if head is None:
            return None
        k, b = np.asarray(head.kernel[...], np.float32), np.asarray(head.bias[...], np.float32)
        o = np.asarray(feats, np.float32) @ k[:, 0] + b[0]
        return (o - o.mean()) / (o.std() + 1e-3)

    def video_features(self, frames24, chunk: int = 16) -> np.ndarray:
        """(T, H, W, 3) uint8 at 24 FPS, any T >= 1 -> (T, d) per-frame features (v_syn).

        16-frame snippets start every `cfg.feature_hop` frames. Disjoint (hop 16): the tail is
        padded by repeating the last frame. Overlapping: the last snippet ends at the clip's end
        (only a clip under 16 frames is padded), and each frame's feature comes from the snippet
        in which it sits farthest from an edge, so all but the clip's first and last few frames
        see context on both sides."""
        frames = check_frames(frames24)
        t, f, hop = len(frames), self.cfg.snippet_frames, self.cfg.feature_hop
        padded = -(-t // f) * f if hop == f else max(t, f)
        frames = np.concatenate([frames, np.repeat(frames[-1:], padded - t, axis=0)], axis=0)
        starts, src = snippet_plan(padded, f, hop)
        snippets = np.stack([frames[s:s + f] for s in starts])                  # (N, 16, H, W, 3)
        outs = [np.asarray(apply_method(self, "snippet_features", jnp.asarray(snippets[i:i + chunk])))
                for i in range(0, len(starts), chunk)]
        feats = np.concatenate(outs, axis=0)                                    # (N, 16, d)
        return feats[src[:, 0], src[:, 1]][:t]

    def video_embed(self, snippets24) -> np.ndarray:
        """(B, 16, H, W, 3) uint8 snippets -> (B, d) unit vectors."""
        x = np.asarray(snippets24)
        if x.ndim != 5 or x.shape[1] != self.cfg.snippet_frames:
            raise EncoderInputError(f"expected snippets (B, {self.cfg.snippet_frames}, H, W, 3), got {x.shape}")
        return np.asarray(apply_method(self, "embed_video", jnp.asarray(x)))

    def audio_embed(self, wave16k_snippets) -> np.ndarray:
        """(B, n) 16 kHz snippets of 0.667 s -> (B, d) unit vectors."""
        w = np.asarray(wave16k_snippets, np.float32)
        if w.ndim != 2:
            raise EncoderInputError(f"expected 16 kHz snippets (B, n), got shape {w.shape}")
        mel = log_mel(w, self.cfg.n_mels)
        if mel.shape[1] < self.cfg.mel_frames:
            raise EncoderInputError(f"snippets too short: {mel.shape[1]} mel frames < {self.cfg.mel_frames}")
        return self.mel_embed(mel[:, :self.cfg.mel_frames])

    def mel_embed(self, mel) -> np.ndarray:
        """(B, mel_frames, n_mels) log-mel -> (B, d) unit vectors."""
        return np.asarray(apply_method(self, "embed_mel", jnp.asarray(mel, jnp.float32)))
