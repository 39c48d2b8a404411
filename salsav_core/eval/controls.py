"""Section `controls`: the video shifted or swapped (does the audio follow the video?), and
the ablations (one visual stream replaced by its learned null embedding)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import metrics
from ..config import SYNC_FPS
from .config import EvalConfig
from .generation import clip_conditions, log, run_clips, event_times
from .scoring import ratio


def shift_frames(frames: np.ndarray, seconds: float, fps: float = SYNC_FPS) -> np.ndarray:
    """Delay a frame stream by `seconds` (frame t shows time t − seconds; the first frame is
    repeated), keeping its length. (T, H, W, 3) -> (T, H, W, 3)."""
    k = int(round(seconds * fps))
    if k <= 0:
        return frames
    k = min(k, len(frames))
    return np.concatenate([np.repeat(frames[:1], k, axis=0), frames[:len(frames) - k]])



def eval_controls(pipe, clips, cfg: EvalConfig, rng, recs: dict) -> dict:
    """Same clips and captions, video shifted by shift_seconds or taken from the next clip."""
    out = {}
    for name in ("shifted", "other_video"):
        if name == "shifted":
            frames = [shift_frames(c.frames, cfg.shift_seconds) for c in clips]
            shown = [[t + cfg.shift_seconds for t in event_times(c) if t + cfg.shift_seconds < c.duration]
                     for c in clips]
        else:
            others = clips[1:] + clips[:1]
            frames, shown = [c.frames for c in others], [event_times(c) for c in others]
        conds = [clip_conditions(pipe, f, c.caption, cfg) for f, c in zip(frames, clips)]
        agg, onsets, _, recs[name] = run_clips(pipe, clips, conds, cfg.control_steps, cfg, rng)
        # does the audio follow the video it was shown (the shifted or the other clip's)?
        follow = [metrics.sync_scores(t, on, 0.05) for t, on in zip(shown, onsets)]
        agg["steps"] = cfg.control_steps
        agg["recall_vs_shown_video_50ms"] = ratio(sum(f["n_matched"] for f in follow),
                                                   sum(f["n_true"] for f in follow))
        agg["precision_vs_shown_video_50ms"] = ratio(sum(f["n_matched"] for f in follow),
                                                      sum(f["n_detected"] for f in follow))
        out[name] = agg
        log(f"control {name}: R@50 {agg['sync_recall_50ms']:.3f} P@50 {agg['sync_precision_50ms']:.3f}")
    return out


def eval_ablations(pipe, clips, conds, cfg: EvalConfig, rng, recs: dict) -> dict:
    """The same clips with one visual stream replaced by its learned null embedding in the
    conditional branch too: which stream carries the timing."""
    out = {}
    for name, kw in (("no_sync", dict(drop_sync=True)), ("no_semantic", dict(drop_sem=True))):
        dropped = [replace(c, **kw) for c in conds]
        agg, _, _, recs[name] = run_clips(pipe, clips, dropped, cfg.control_steps, cfg, rng)
        agg["steps"] = cfg.control_steps
        out[name] = agg
        log(f"ablation {name}: R@50 {agg['sync_recall_50ms']:.3f} P@50 {agg['sync_precision_50ms']:.3f}")
    return out

