"""Encoder configs (frozen dataclasses) and their named presets.

`tiny` is for the tests; `cpu` is the real one (trains on 2 CPU cores in well under an
hour each, and as is on a GPU). Training settings live beside the model sizes so that a
preset name says everything a run needs.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import DictConfig


@dataclass(frozen=True)
class SemanticConfig(DictConfig):
    """Image tower over 8 FPS frames + text tower over captions (stands in for SigLIP 2)."""
    name: str = "cpu"
    image_size: int = 64
    patch: int = 8
    dim: int = 128               # embedding dim (D_sem)
    width: int = 128             # transformer width
    image_depth: int = 3
    text_depth: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    vocab_buckets: int = 4096    # hashed word ids; id 0 = padding
    max_words: int = 24
    # training
    batch: int = 64              # frame–caption pairs per step (one frame per clip)
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    clip_seconds: float = 3.0
    pool_clips: int = 256        # clips cached in memory
    refresh_per_step: int = 2    # clips replaced in the pool each step
    ckpt_every: int = 200



@dataclass(frozen=True)
class SyncConfig(DictConfig):
    """Sync model (paper §3.1, A.4). `tower="vit"`: factorized space–time video encoder over
    16-frame snippets + AST-style audio encoder (`sync.py`). `tower="motion"`: conv stem over
    RGB + frame difference and dilated temporal convs over whole clips, 1-D conv audio
    encoder, per-frame SigLIP loss (`motion.py`)."""
    name: str = "cpu"
    tower: str = "vit"
    image_size: int = 32         # frames are resized to this inside the model
    patch: int = 8               # spatial patch (pixels); input = RGB + frame difference
    snippet_frames: int = 16     # 16 frames at 24 FPS = 0.667 s
    dim: int = 128               # feature dim (D_syn)
    spatial_depth: int = 1
    temporal_depth: int = 2
    audio_depth: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    n_mels: int = 128
    mel_frames: int = 64         # 0.667 s at 10 ms hop gives 67; the first 64 are used
    freq_patch: int = 32
    time_patch: int = 4          # 40 ms per audio token
    feature_hop: int = 16        # v_syn: snippet start every `hop` frames (16: disjoint; 8: each
                                 # frame taken from the snippet where it sits most central)
    # motion tower only
    conv_widths: tuple = (16, 32, 64, 128)   # strided 3x3 conv stem, one stride-2 layer each
    temporal_kernel: int = 5
    temporal_dilations: tuple = (1, 2, 4, 8)
    stem_temporal: int = 0       # > 0: after each stem stage, a residual depthwise temporal conv of
                                 # this kernel at every pixel (zero-initialized output), so local
                                 # motion is compared across frames before space is pooled
    world: str = "default"       # SynthFoley training world: "default", "varied" or "mixed" (half each)
    crop_seconds: float = 0.0    # train on random crops of this length (0: whole clips); a
                                 # multiple of 0.25 s keeps frames and 10 ms mel frames aligned
    # training
    dense_weight: float = 0.0    # per-frame SigLIP term (frame i ↔ audio token i across snippets)
    shift_weight: float = 0.0    # per-frame term within a snippet against audio shifted by a
    shift_tokens: int = 4        # random ±shift_tokens tokens: only content tells the offset
    flux_weight: float = 0.0     # motion tower: also regress each frame's audio onset strength
                                 # (positive log-mel flux, from the clip's own audio: no labels)
                                 # from its video feature through a linear head
    onset_weight: float = 0.0    # motion tower: also classify each frame as near an audio onset
                                 # (±1 frame; from the clip's own audio: no labels), where the
    onset_target: str = "peaks"  # onsets are "peaks" of that strength or what the eval's onset
                                 # "detector" (`metrics.detect_onsets`) finds in the audio
    clips_per_batch: int = 3
    snippets_per_clip: int = 8   # snippets of one clip are each other's hard negatives
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    clip_seconds: float = 5.0
    pool_clips: int = 64
    refresh_per_step: int = 1
    ckpt_every: int = 200

    def __post_init__(self):
        for name in ("conv_widths", "temporal_dilations"):       # JSON gives lists; keep hashable
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.tower not in ("vit", "motion"):
            raise ValueError(f"unknown sync tower {self.tower!r}; choose 'vit' or 'motion'")
        if self.stem_temporal < 0 or (self.stem_temporal and self.stem_temporal % 2 == 0):
            raise ValueError(f"stem_temporal must be 0 or an odd kernel size, got {self.stem_temporal}")
        if self.onset_target not in ("peaks", "detector"):
            raise ValueError(f"unknown onset target {self.onset_target!r}; choose 'peaks' or 'detector'")



SEMANTIC_PRESETS: dict[str, SemanticConfig] = {
    "cpu": SemanticConfig(),
    "tiny": SemanticConfig(name="tiny", image_size=32, patch=8, dim=32, width=32, image_depth=1,
                           text_depth=1, heads=2, vocab_buckets=512, max_words=16, batch=16,
                           lr=3e-3, warmup=2, clip_seconds=1.0, pool_clips=16,
                           refresh_per_step=1, ckpt_every=1000),
}

SYNC_PRESETS: dict[str, SyncConfig] = {
    "cpu": SyncConfig(),
    "tiny": SyncConfig(name="tiny", image_size=32, patch=16, dim=32, spatial_depth=1,
                       temporal_depth=1, audio_depth=1, heads=2, n_mels=32, freq_patch=16,
                       time_patch=8, clips_per_batch=2, snippets_per_clip=4, lr=3e-3,
                       warmup=2, clip_seconds=2.0, pool_clips=4, refresh_per_step=1,
                       ckpt_every=1000),
    # the motion tower: whole 5 s clips, per-frame loss; 8 clips x 120 frames per step
    "motion": SyncConfig(name="motion", tower="motion", image_size=64, patch=4, dim=128, n_mels=64,
                         conv_widths=(32, 64, 128), clips_per_batch=6, clip_seconds=5.0,
                         crop_seconds=3.0, world="mixed", pool_clips=96, refresh_per_step=1, lr=2e-3,
                         warmup=100, ckpt_every=100),
    # the same tower with the audio-onset term: fine-tunes a `motion` model (`--init`)
    "motion-flux": SyncConfig(name="motion-flux", tower="motion", image_size=64, patch=4, dim=128,
                              n_mels=64, conv_widths=(32, 64, 128), clips_per_batch=6,
                              clip_seconds=5.0, crop_seconds=3.0, world="mixed", pool_clips=96,
                              refresh_per_step=1, lr=1e-3, warmup=50, ckpt_every=100,
                              flux_weight=1.0),
    # motion-flux with an onset-frame classifier term: fine-tunes a `motion-flux` model (`--init`)
    "motion-onset": SyncConfig(name="motion-onset", tower="motion", image_size=64, patch=4, dim=128,
                               n_mels=64, conv_widths=(32, 64, 128), clips_per_batch=6,
                               clip_seconds=5.0, crop_seconds=3.0, world="mixed", pool_clips=96,
                               refresh_per_step=1, lr=1e-3, warmup=50, ckpt_every=100,
                               flux_weight=1.0, onset_weight=2.0),
    "motion-tiny": SyncConfig(name="motion-tiny", tower="motion", image_size=32, patch=8, dim=32,
                              n_mels=32, conv_widths=(8, 16), temporal_dilations=(1, 2), clips_per_batch=2,
                              clip_seconds=2.0, pool_clips=4, refresh_per_step=1, lr=3e-3,
                              warmup=2, ckpt_every=1000),
}

# motion-onset with the onset term's target from the eval's onset detector run on the clip's own
# audio (closer to the audible events than strength peaks): fine-tunes `motion-onset`
SYNC_PRESETS["motion-detonset"] = replace(SYNC_PRESETS["motion-onset"], name="motion-detonset",
                                          onset_target="detector")


def semantic_preset(name: str) -> SemanticConfig:
    try:
        return SEMANTIC_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown semantic preset {name!r}; choose from {sorted(SEMANTIC_PRESETS)}") from None


def sync_preset(name: str) -> SyncConfig:
    try:
        return SYNC_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown sync preset {name!r}; choose from {sorted(SYNC_PRESETS)}") from None
