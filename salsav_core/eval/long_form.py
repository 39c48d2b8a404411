"""Section `long` (Fig. 5 right): per segment of long clips, the product's window-by-window
extension against one single pass over the whole clip."""
from __future__ import annotations

import time

import numpy as np

from .. import metrics, sampler
from ..config import latent_frames
from ..data.synthfoley import make_clip
from ..pipeline import window_spans
from .config import EvalConfig
from .generation import clip_conditions, log, event_times, decode, true_onsets
from .scoring import SR, aggregate, score_segment


def eval_long(pipe, cfg: EvalConfig, rng) -> dict:
    """Iterative extension (the product path) vs one single pass over the whole clip."""
    clips = [make_clip(cfg.seed0 + cfg.LONG_OFFSET + i, cfg.long_seconds) for i in range(cfg.long_clips)]
    n_seg = int(cfg.long_seconds // cfg.segment_seconds)
    n_frames = latent_frames(cfg.long_seconds)
    res = {"iterative": [[] for _ in range(n_seg)], "single_pass": [[] for _ in range(n_seg)]}
    waves = {k: [[] for _ in range(n_seg)] for k in res}
    truth = [[] for _ in range(n_seg)]
    wall = {"iterative": [], "single_pass": []}
    for i, clip in enumerate(clips):
        cond = clip_conditions(pipe, clip.frames, clip.caption, cfg)
        for mode in ("iterative", "single_pass"):
            t0 = time.perf_counter()
            if mode == "iterative":
                lat = pipe.sample(cond, clip.duration, cfg.long_steps, cfg.guidance, seed=i,
                                  schedule=cfg.schedule)
            else:   # one window of the full length (RoPE: any length runs)
                lat = sampler.sample(pipe._graph, cond, n_frames, cfg.long_steps, cfg.guidance, seed=i,
                                     schedule=cfg.schedule)
            wall[mode].append(time.perf_counter() - t0)
            wave = decode(pipe, lat, clip.duration)
            on = metrics.detect_onsets(wave, SR)
            for k in range(n_seg):
                a, b = k * cfg.segment_seconds, (k + 1) * cfg.segment_seconds
                res[mode][k].append(score_segment(clip.audio, wave, event_times(clip), on,
                                                  clip.silent_spans, a, b, rng, cfg.chance_shifts,
                                                  true_onsets=true_onsets(clip)))
                waves[mode][k].append(wave[int(a * SR):int(b * SR)])
                if mode == "iterative":
                    truth[k].append(clip.audio[int(a * SR):int(b * SR)])
            log(f"long clip {i} {mode}: {wall[mode][-1]:.1f} s")
    out = {}
    for mode in res:
        rows = []
        for k in range(n_seg):
            agg = aggregate(res[mode][k], truth[k], waves[mode][k])
            rows.append({"segment": k, "start_s": k * cfg.segment_seconds,
                         "end_s": (k + 1) * cfg.segment_seconds, **agg})
        out[mode] = rows
    out.update(seconds=cfg.long_seconds, clips=cfg.long_clips, steps=cfg.long_steps,
               windows_per_clip=len(window_spans(n_frames, pipe.cfg)),
               iterative_wall_s=float(np.mean(wall["iterative"])),
               single_pass_wall_s=float(np.mean(wall["single_pass"])))
    return out

