"""Configs as frozen dataclasses with named presets, and the shared rate/shape contract.

Rates (DESIGN.md "Rates and shapes"): audio latent at 44100/1024 ≈ 43.07 Hz, semantic
video at 8 FPS, sync video at 24 FPS. Every module converts durations to frame counts with
`num_frames`, so all streams agree on lengths.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

SAMPLE_RATE = 44100          # generated audio, Hz
HOP = 1024                   # codec hop → latent rate
LATENT_RATE = SAMPLE_RATE / HOP   # ≈ 43.066 Hz
LATENT_DIM = 64
SEM_FPS = 8
SYNC_FPS = 24


def num_frames(duration: float, rate: float) -> int:
    """Frames of a stream at `rate` covering `duration` seconds (frame i sits at i / rate)."""
    return max(int(round(duration * rate)), 0)


def latent_frames(duration: float) -> int:
    return num_frames(duration, LATENT_RATE)


class DictConfig:
    """to_dict / from_dict for frozen config dataclasses (unknown keys are ignored on load)."""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class ModelConfig(DictConfig):
    """SALSA-V velocity network (MMDiT-X blocks + DiT blocks)."""
    name: str = "cpu-small"
    latent_dim: int = LATENT_DIM
    hidden: int = 256
    heads: int = 4
    mm_blocks: int = 4            # MMDiT-X blocks (joint audio ‖ semantic-video attention)
    mm_self_attn_blocks: int = 2  # the first n MM blocks add audio-only self-attention
    dit_blocks: int = 4           # single-stream DiT blocks over audio tokens
    mlp_ratio: float = 4.0
    sem_dim: int = 128            # semantic video feature dim (paper: 1152, SigLIP 2)
    text_dim: int = 128           # text feature dim (paper: 1152)
    sync_dim: int = 128           # sync feature dim (paper: 768)
    window_seconds: float = 5.0   # one compiled window; long videos are extended window by window
    overlap_seconds: float = 0.5  # reference taken from the previous window (paper A.1 / DESIGN)
    shortcut: bool = True         # False: a plain flow-matching generator (trained with d = 0
                                  # only), which is told d = 0 at every step, whatever the step size

    @property
    def window_frames(self) -> int:
        return latent_frames(self.window_seconds)



MODEL_PRESETS: dict[str, ModelConfig] = {
    # Paper sizes (A.4). Hidden sizes chosen so the parameter counts land near 643M / 347M.
    "paper-large": ModelConfig(name="paper-large", hidden=1344, heads=21, mm_blocks=6,
                               mm_self_attn_blocks=3, dit_blocks=6, sem_dim=1152,
                               text_dim=1152, sync_dim=768, window_seconds=10.0),
    "paper-small": ModelConfig(name="paper-small", hidden=1216, heads=19, mm_blocks=4,
                               mm_self_attn_blocks=2, dit_blocks=4, sem_dim=1152,
                               text_dim=1152, sync_dim=768, window_seconds=10.0),
    # CPU presets (2 cores): see PLATFORM-NOTES timings.
    "cpu-small": ModelConfig(name="cpu-small", hidden=256, heads=4, mm_blocks=4,
                             mm_self_attn_blocks=2, dit_blocks=4),
    "cpu-tiny": ModelConfig(name="cpu-tiny", hidden=128, heads=4, mm_blocks=2,
                            mm_self_attn_blocks=1, dit_blocks=2),
    # cpu-tiny at width 256: 76-81 % of this CPU's matmul peak against 48-54 %, for 3.4x the
    # FLOPs (8 steps of 10 s: 1.31 s against 0.56 s; benchmarks/RESULTS.md, 2026-12-01)
    "cpu-wide": ModelConfig(name="cpu-wide", hidden=256, heads=4, mm_blocks=2,
                            mm_self_attn_blocks=1, dit_blocks=2),
    # For unit tests only.
    "test": ModelConfig(name="test", hidden=32, heads=2, mm_blocks=1, mm_self_attn_blocks=1,
                        dit_blocks=1, sem_dim=16, text_dim=16, sync_dim=16,
                        window_seconds=1.0, overlap_seconds=0.25),
}


def model_preset(name: str) -> ModelConfig:
    try:
        return MODEL_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; choose from {sorted(MODEL_PRESETS)}") from None
