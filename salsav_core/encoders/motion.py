"""Motion sync model: a convolutional, frame-rate sync tower that keeps onset timing.

The ViT tower (`sync.py`) sees 32 px frames through 8 px patches and pools space with an
attention head: a bouncing ball's reversal survives that only faintly (event-probe AP 0.62,
an untrained tower 0.60). This tower keeps the pixels' timing:

- video: every frame at `image_size` (64 px) with its frame difference (RGB + ΔRGB, 6 channels)
  through a patch embedding and a strided conv stem; space is pooled by mean and max (a small moving object is
  kept by the max); then dilated temporal convolutions over the whole clip give one feature
  per 24 FPS frame (v_syn), translation-equivariant in time: no snippets, no positions;
  optionally (`stem_temporal`) each stem stage also mixes every pixel's features over a few
  frames, so local motion is compared across frames before space is pooled;
- audio: a 10 ms log-mel through 1-D convolutions, pooled onto the same 24 FPS frame grid;
- trained with a per-frame SigLIP loss (`losses.frame_siglip_loss`): frame t of a clip is
  paired with its own audio frame t against every other frame of every clip in the batch,
  so only *when* something happens tells the pairs apart.

Same user API as `SyncModel`: `video_features(frames24) -> (T, d)`, `video_embed`,
`mel_embed`, `audio_embed`.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .audio_frontend import HOP, SR as SR_16K, log_mel
from .blocks import apply_method, l2norm, linear
from .presets import SyncConfig
from .semantic import EncoderInputError, check_frames, frames_to_float
from .sync import SyncModel

SYNC_FPS = 24
MEL_RATE = SR_16K / HOP          # 100 mel frames a second


@functools.lru_cache(maxsize=32)
def frame_pool(n_mel: int, n_frames: int) -> np.ndarray:
    """(n_frames, n_mel) averaging matrix: video frame t takes the mel frames whose centres lie
    within half a frame of t / 24 s (the instant the frame shows)."""
    tm = np.arange(n_mel) / MEL_RATE
    tv = np.arange(n_frames) / SYNC_FPS
    m = (np.abs(tm[None, :] - tv[:, None]) <= 0.5 / SYNC_FPS + 1e-9).astype(np.float32)
    return m / np.maximum(m.sum(axis=1, keepdims=True), 1.0)


def mel_frames_for(n_frames: int) -> int:
    """Mel frames (10 ms hop, centred) that cover `n_frames` video frames at 24 FPS."""
    return int(np.ceil((n_frames - 0.5) / SYNC_FPS * MEL_RATE)) + 1


def onset_strength(mel, n_frames: int):
    """(B, T_mel, n_mels) log-mel -> (B, n_frames) onset strength on the 24 FPS grid: the
    positive flux (sum over bands of the rise since the previous 10 ms frame), pooled onto the
    frames and standardized per clip. Made from the audio alone, so any video with sound has it."""
    rise = jnp.maximum(mel[:, 1:] - mel[:, :-1], 0.0).sum(axis=-1)
    flux = jnp.concatenate([jnp.zeros_like(rise[:, :1]), rise], axis=1)             # (B, T_mel)
    x = jnp.einsum("tm,bm->bt", jnp.asarray(frame_pool(mel.shape[1], n_frames)), flux)
    return (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-3)


def onset_frames(strength, threshold: float = 1.0):
    """(B, T) standardized onset strength -> (B, T) float 0/1: frames within ±1 of a peak (a
    frame above `threshold` and above both neighbours). Audio onsets without labels."""
    s = jnp.pad(strength, ((0, 0), (1, 1)), constant_values=-jnp.inf)
    peak = (strength > threshold) & (strength >= s[:, :-2]) & (strength > s[:, 2:])
    p = jnp.pad(peak, ((0, 0), (1, 1)))
    return (p[:, :-2] | p[:, 1:-1] | p[:, 2:]).astype(jnp.float32)


class TemporalBlock(nnx.Module):
    """Pre-norm residual 1-D conv over time: x + W2 gelu(conv_k,dil(LN x))."""

    def __init__(self, d: int, kernel: int, dilation: int, rngs: nnx.Rngs):
        self.ln = nnx.LayerNorm(d, rngs=rngs)
        self.conv = nnx.Conv(d, d, (kernel,), kernel_dilation=(dilation,), padding="SAME", rngs=rngs)
        self.out = linear(d, d, rngs)

    def __call__(self, x):  # (B, T, d)
        return x + self.out(jax.nn.gelu(self.conv(self.ln(x))))


class PixelTemporalBlock(nnx.Module):
    """Residual temporal mixing at every pixel of a stem stage: x + W gelu(dwconv_k over time),
    W zero-initialized (the block starts as the identity, so a trained tower can take it on).
    The depthwise conv is applied as k shifted products in the stem's own layout (no
    transposes); `self.conv` holds its weights as an `nnx.Conv` would."""

    def __init__(self, c: int, kernel: int, rngs: nnx.Rngs):
        self.conv = nnx.Conv(c, c, (kernel,), padding="SAME", feature_group_count=c, rngs=rngs)
        self.out = nnx.Linear(c, c, kernel_init=nnx.initializers.zeros, rngs=rngs)

    def __call__(self, h, b: int, t: int):  # (B*T, g, g, C) -> same
        k = self.conv.kernel[...].shape[0]
        w, r = self.conv.kernel[...][:, 0], k // 2                   # (k, C); SAME: taps -r..r
        x = h.reshape(b, t, *h.shape[1:])
        xp = jnp.pad(x, ((0, 0), (r, r), (0, 0), (0, 0), (0, 0)))
        y = sum(xp[:, j:j + t] * w[j] for j in range(k)) + self.conv.bias[...]
        return h + self.out(jax.nn.gelu(y)).reshape(h.shape)


class MotionVideoEncoder(nnx.Module):
    def __init__(self, cfg: SyncConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        p, chans = cfg.patch, tuple(cfg.conv_widths)
        if cfg.image_size % p:
            raise ValueError(f"image_size {cfg.image_size} must be a multiple of patch {p}")
        self.embed = linear(p * p * 6, chans[0], rngs)        # non-overlapping p x p patches
        self.stem = nnx.List([nnx.Conv(a, b, (3, 3), strides=(2, 2), padding="SAME", rngs=rngs)
                              for a, b in zip(chans[:-1], chans[1:])])
        self.mix = nnx.List([PixelTemporalBlock(c, cfg.stem_temporal, rngs) for c in chans]
                            if cfg.stem_temporal else [])
        self.proj = linear(2 * chans[-1], cfg.dim, rngs)
        self.temporal = nnx.List([TemporalBlock(cfg.dim, cfg.temporal_kernel, d, rngs)
                                  for d in cfg.temporal_dilations])
        self.ln = nnx.LayerNorm(cfg.dim, rngs=rngs)

    def mixed(self, stage: int, h, b: int, t: int):  # stem stage output, with `stem_temporal`'s mixing
        return self.mix[stage](h, b, t) if self.mix else h

    def __call__(self, x):  # (B, T, S, S, 3) float in [-1, 1] -> (B, T, d)
        b, t, s = x.shape[:3]
        p = self.cfg.patch
        g = s // p
        diff = jnp.concatenate([jnp.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], axis=1)
        h = jnp.concatenate([x, diff * 2.0], axis=-1)                              # (B, T, S, S, 6)
        h = h.reshape(b * t, g, p, g, p, 6).transpose(0, 1, 3, 2, 4, 5).reshape(b * t, g, g, -1)
        h = self.mixed(0, jax.nn.gelu(self.embed(h)), b, t)                       # (B*T, g, g, C0)
        for i, conv in enumerate(self.stem, 1):
            h = self.mixed(i, jax.nn.gelu(conv(h)), b, t)
        h = jnp.concatenate([h.mean(axis=(1, 2)), h.max(axis=(1, 2))], axis=-1)    # (B*T, 2C)
        h = self.proj(h).reshape(b, t, -1)
        for block in self.temporal:
            h = block(h)
        return self.ln(h)


class MotionAudioEncoder(nnx.Module):
    def __init__(self, cfg: SyncConfig, rngs: nnx.Rngs):
        self.cfg = cfg
        d = cfg.dim
        self.inp = nnx.Conv(cfg.n_mels, d, (5,), padding="SAME", rngs=rngs)
        self.mid = nnx.Conv(d, d, (5,), padding="SAME", rngs=rngs)
        self.post = TemporalBlock(d, 3, 1, rngs)
        self.ln = nnx.LayerNorm(d, rngs=rngs)

    def __call__(self, mel, n_frames: int):  # (B, T_mel, n_mels) -> (B, n_frames, d) at 24 FPS
        h = jax.nn.gelu(self.mid(jax.nn.gelu(self.inp(mel))))
        pool = jnp.asarray(frame_pool(mel.shape[1], n_frames))
        return self.ln(self.post(jnp.einsum("tm,bmd->btd", pool, h)))


class MotionSyncModel(SyncModel):
    """`video_features(frames24) -> (T, d)` (v_syn) from whole clips; `SyncModel`'s heads, loss
    parameters and API, with the motion encoders in place of the snippet ones."""

    CHUNK = 240          # frames per compiled call (10 s); longer videos go chunk by chunk
    MARGIN = 24          # context frames on each side of a chunk (> the temporal receptive field)

    def __init__(self, cfg: SyncConfig, rngs: nnx.Rngs):
        super().__init__(cfg, rngs, MotionVideoEncoder, MotionAudioEncoder)
        if cfg.flux_weight > 0:                       # training-only heads (`motion_sync_loss`)
            self.flux_head = linear(cfg.dim, 1, rngs)
        if cfg.onset_weight > 0:
            self.onset_head = linear(cfg.dim, 1, rngs)

    # traced pieces
    def frame_features(self, frames_u8):  # (B, T, H, W, 3) uint8 -> (B, T, d)
        return self.video(frames_to_float(frames_u8, self.cfg.image_size))

    def snippet_features(self, frames_u8):  # the ViT tower's name for the same thing
        return self.frame_features(frames_u8)

    def audio_frames(self, mel, n_frames: int):  # (B, T_mel, n_mels) -> (B, n_frames, d)
        return self.audio(mel, n_frames)

    def embed_video(self, frames_u8):  # (B, F, H, W, 3) -> (B, d) unit (time mean of units)
        return l2norm(self.video_unit(self.frame_features(frames_u8)).mean(axis=1))

    def embed_mel(self, mel):  # (B, T_mel, n_mels) -> (B, d) unit
        return l2norm(self.audio_units(mel).mean(axis=1))

    def audio_units(self, mel):  # (B, T_mel, n_mels) -> (B, T, d) unit, T frames covered by T_mel
        n = max(1, int((mel.shape[1] - 1) * SYNC_FPS / MEL_RATE))
        return self.audio_unit(self.audio(mel, n))

    # user-facing API (numpy in, numpy out)
    def video_features(self, frames24, chunk: int | None = None) -> np.ndarray:
        """(T, H, W, 3) uint8 at 24 FPS, any T >= 1 -> (T, d). One compiled shape: the clip is
        cut into CHUNK-frame pieces, each read with MARGIN frames of real context on both
        sides (edge frames repeated past the clip's ends, i.e. a still picture)."""
        frames = check_frames(frames24)
        t, c, m = len(frames), self.CHUNK, self.MARGIN
        n = -(-t // c)
        idx = np.clip(np.arange(-m, n * c + m), 0, t - 1)
        padded = frames[idx]                                                     # (n*c + 2m, ...)
        pieces = np.stack([padded[i * c:i * c + c + 2 * m] for i in range(n)])  # (n, c+2m, ...)
        outs = [np.asarray(apply_method(self, "frame_features", pieces[i:i + 1]))[0, m:m + c]
                for i in range(n)]
        return np.concatenate(outs, axis=0)[:t]

    def video_features_many(self, clips24, group: int = 8) -> list[np.ndarray]:
        """Equal-length clips [(T, H, W, 3)] -> [(T, d)], `group` clips per call (feature caches).
        Each clip is read whole with MARGIN still frames on both sides, as `video_features`
        reads a short clip, so both give the same features for T <= CHUNK."""
        clips = [check_frames(c) for c in clips24]
        t, m = len(clips[0]), self.MARGIN
        if any(len(c) != t for c in clips) or t > self.CHUNK:
            return [self.video_features(c) for c in clips]
        idx = np.clip(np.arange(-m, self.CHUNK + m), 0, t - 1)
        out = []
        for i in range(0, len(clips), group):
            part = np.stack([c[idx] for c in clips[i:i + group]])
            part = np.concatenate([part, np.repeat(part[-1:], group - len(part), axis=0)])
            feats = np.asarray(apply_method(self, "frame_features", jnp.asarray(part)))
            out += [f[m:m + t] for f in feats[:len(clips[i:i + group])]]
        return out

    def video_embed(self, snippets24) -> np.ndarray:
        x = np.asarray(snippets24)
        if x.ndim != 5:
            raise EncoderInputError(f"expected snippets (B, F, H, W, 3), got {x.shape}")
        return np.asarray(apply_method(self, "embed_video", jnp.asarray(x)))

    def audio_embed(self, wave16k_snippets) -> np.ndarray:
        w = np.asarray(wave16k_snippets, np.float32)
        if w.ndim != 2:
            raise EncoderInputError(f"expected 16 kHz snippets (B, n), got shape {w.shape}")
        return self.mel_embed(log_mel(w, self.cfg.n_mels))

    def audio_features(self, wave16k) -> np.ndarray:
        """(n,) 16 kHz audio -> (T, d) unit audio embeddings on the 24 FPS frame grid."""
        mel = log_mel(np.asarray(wave16k, np.float32), self.cfg.n_mels)[None]
        return np.asarray(apply_method(self, "audio_units", jnp.asarray(mel)))[0]
