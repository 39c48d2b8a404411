"""Shared by the sections: conditions for a clip, sampling, decoding and scoring a clip set."""
from __future__ import annotations

import sys
import time

import numpy as np

from .. import metrics
from .config import EvalConfig
from .scoring import SR, aggregate, score_segment


def log(msg: str) -> None:
    print(f"[eval {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def decode(pipe, latent, duration: float) -> np.ndarray:
    """Latent → waveform of exactly `duration` s, peak-limited as `Pipeline.generate` does."""
    wave = pipe.codec.decode(np.asarray(latent))
    n = int(round(duration * SR))
    wave = np.pad(wave, (0, max(n - len(wave), 0)))[:n]
    peak = float(np.max(np.abs(wave))) if n else 0.0
    return (wave * (0.99 / peak) if peak > 0.99 else wave).astype(np.float32)


def clip_conditions(pipe, frames24, caption, cfg: EvalConfig):
    prompt = caption if cfg.prompt == "caption" else ""
    return pipe.conditions_from_frames(frames24[::3], frames24, prompt)


def event_times(clip):
    return [e.time for e in clip.events]


def event_kinds(clip):
    return [e.kind for e in clip.events]


_TRUE_ONSETS: dict = {}


def true_onsets(clip) -> np.ndarray:
    """Onsets the detector finds in the clip's true audio (cached per seed and duration)."""
    key = (clip.seed, clip.duration)
    if key not in _TRUE_ONSETS:
        _TRUE_ONSETS[key] = metrics.detect_onsets(clip.audio, SR)
    return _TRUE_ONSETS[key]


def score_clip(clip, wave, rng, cfg, with_swsd=True):
    on = metrics.detect_onsets(wave, SR)
    return score_segment(clip.audio, wave, event_times(clip), on, clip.silent_spans, 0.0, clip.duration,
                         rng, cfg.chance_shifts, with_swsd, true_onsets(clip), event_kinds(clip)), on


def run_clips(pipe, clips, conds, steps: int, cfg: EvalConfig, rng):
    """Sample every clip from its conditions (noise seed = clip index), decode and score.
    Returns (pooled scores, detected onsets per clip, sampling seconds per clip, per-clip records)."""
    recs, gens, onsets, secs = [], [], [], []
    for i, (clip, cond) in enumerate(zip(clips, conds)):
        t0 = time.perf_counter()
        lat = pipe.sample(cond, clip.duration, steps, cfg.guidance, seed=i, schedule=cfg.schedule)
        secs.append(time.perf_counter() - t0)
        gens.append(decode(pipe, lat, clip.duration))
        rec, on = score_clip(clip, gens[-1], rng, cfg)
        recs.append(rec)
        onsets.append(on)
    return aggregate(recs, [c.audio for c in clips], gens), onsets, secs, recs

