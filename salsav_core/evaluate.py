"""`salsav eval`: objective evaluation of a pipeline on held-out SynthFoley clips.

Measures what the paper measures (issue 5), with procedural ground truth instead of human
labels:
- sync: every true event against the onsets detected in the generated audio — recall and
  precision of a one-to-one matching within ±50 ms and ±25 ms, the median distance of each
  event to its nearest onset, and a chance level (the same onsets circularly shifted by a
  random offset, which keeps their count and rhythm but breaks their timing);
- silence: the fraction of visible-but-soundless stretches kept quiet;
- SWSD (paper A.2) per clip, and a pooled Fréchet distance of log-mel frame statistics
  (`mel_stat_distance`: a spectral-statistics distance, NOT VGGish FAD);
- all of it at each step count (Fig. 5 left, Table 2), for two controls (video shifted by
  0.5 s, another clip's video), for the true audio and the codec round trip (the ceilings);
- audio conditioning (Fig. 6): the same scores over a common unseen tail as the true-audio
  reference at the start grows (0, 0.5, 1, 2, 4 s);
- long form (Fig. 5 right): per 10 s segment of 60 s clips, iterative window-by-window
  extension against one single pass over the whole clip.

Pure scoring/aggregation functions first, then `run_eval(pipe, EvalConfig)`, then `main`.
The JSON layout is the one `analysis/objective.py` reads.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .config import SAMPLE_RATE, SYNC_FPS, latent_frames
from .data.synthfoley import HELDOUT_SEED0, make_clip
from . import metrics, sampler

SECTIONS = ("steps", "reference", "controls", "conditioning", "long")
SR = SAMPLE_RATE


class EvalError(ValueError):
    """Bad evaluation request (message safe to print)."""


def check_unseen_tail(seconds: float, refs, what: str, margin: float = 0.5) -> None:
    """Conditioning clips need an unseen tail of at least `margin` s after the longest reference."""
    if seconds < max(refs) + margin:
        raise EvalError(f"{what} ({seconds:g} s) must be at least the largest reference "
                        f"({max(refs):g} s) + {margin:g} s")


@dataclass(frozen=True)
class EvalConfig:
    clips: int = 24                               # 5 s clips for steps / controls / reference
    steps: tuple = (1, 2, 4, 8, 16, 32)
    guidance: float = 4.0
    schedule: str = sampler.DEFAULT_SCHEDULE      # step sizes (sampler.step_sizes)
    seed0: int = HELDOUT_SEED0                    # held-out clip seeds start here (>= 10**9)
    duration: float = 5.0
    control_steps: int = 8
    shift_seconds: float = 0.5
    cond_clips: int = 24
    cond_seconds: float = 9.5                     # across-window variant: 2 windows of 5 s
    cond_refs: tuple = (0.0, 0.5, 1.0, 2.0, 4.0)
    cond_steps: int = 8
    long_clips: int = 2
    long_seconds: float = 60.0
    segment_seconds: float = 10.0
    long_steps: int = 8
    chance_shifts: int = 20
    prompt: str = "caption"                       # "caption" (the clip's caption) or "none"
    skip: frozenset = field(default_factory=frozenset)

    # Seed offsets keep the clip sets of the sections disjoint.
    COND_OFFSET = 100_000             # across-window conditioning clips
    COND_WINDOW_OFFSET = 150_000      # in-window conditioning clips
    LONG_OFFSET = 200_000

    def check(self) -> "EvalConfig":
        if self.seed0 < HELDOUT_SEED0:
            raise EvalError(f"--seed0 must be >= {HELDOUT_SEED0} (held-out seeds); got {self.seed0}")
        if self.clips < 2:
            raise EvalError("need at least 2 clips (the other-video control pairs clips)")
        bad = [s for s in self.steps if s not in sampler.ALLOWED_STEPS]
        if bad or not self.steps:
            raise EvalError(f"steps must be among {sampler.ALLOWED_STEPS}; got {list(self.steps)}")
        if self.schedule not in sampler.SCHEDULES:
            raise EvalError(f"schedule must be one of {sampler.SCHEDULES}; got {self.schedule!r}")
        if not (math.isfinite(self.guidance) and self.guidance >= 0):
            raise EvalError(f"guidance must be finite and >= 0; got {self.guidance}")
        if "conditioning" not in self.skip:
            check_unseen_tail(self.cond_seconds, self.cond_refs, "conditioning clips")
        if "long" not in self.skip and self.long_seconds < self.segment_seconds:
            raise EvalError("--long-seconds must be at least one segment long")
        unknown = set(self.skip) - set(SECTIONS)
        if unknown:
            raise EvalError(f"unknown --skip sections {sorted(unknown)}; choose from {SECTIONS}")
        return self


# ----------------------------------------------------------------------------- scoring

def nearest_distances(true_times, onsets) -> np.ndarray:
    """Seconds from each true event to its nearest onset (inf when there are no onsets)."""
    t, o = np.asarray(true_times, float).ravel(), np.asarray(onsets, float).ravel()
    if not len(o):
        return np.full(len(t), np.inf)
    return np.abs(o[None, :] - t[:, None]).min(axis=1) if len(t) else np.zeros(0)


def chance_matches(true_times, onsets, length: float, rng, n_shifts: int = 20,
                   tol: float = 0.05, margin: float = 0.25) -> float:
    """Mean matched count when the onsets are circularly shifted by δ ~ U[margin, length−margin]
    within [0, length): the count coincidence alone gives (a circular-shift null)."""
    t, o = np.asarray(true_times, float), np.asarray(onsets, float)
    if not len(t) or not len(o) or length <= 2 * margin or n_shifts < 1:
        return 0.0
    counts = [metrics.sync_scores(t, np.mod(o + d, length), tol)["n_matched"]
              for d in rng.uniform(margin, length - margin, n_shifts)]
    return float(np.mean(counts))


MERGE_S = 0.05      # events closer than this are one audible onset (the detector's min gap)


def score_segment(true_wave, gen_wave, true_times, onsets, spans, t0: float, t1: float, rng,
                  n_shifts: int = 20, with_swsd: bool = True, true_onsets=None, kinds=None) -> dict:
    """Counts and distances for [t0, t1) of one clip; event/onset times are in clip seconds.

    True events less than MERGE_S apart are grouped into one onset (`metrics.merge_events`);
    n_events/matched_events_50 score the raw events instead.
    Returns a record for `aggregate`: n_true, n_det, matched_50/25, chance_50/25 (expected
    matches under the circular-shift null), nearest (s, per event), spans, kept, swsd, and
    n_detectable/matched_detectable_50: the same over the events the detector finds in the
    true audio (a true-audio onset within ±50 ms; all events when true_onsets is None), and
    by_kind {kind: [raw events, events with an onset within ±50 ms]} when kinds (one per true
    time) are given.
    """
    a, b = int(round(t0 * SR)), int(round(t1 * SR))
    tw, gw = np.asarray(true_wave)[a:b], np.asarray(gen_wave)[a:b]
    raw = np.asarray([x for x in true_times if t0 <= x < t1]) - t0
    tt = metrics.merge_events(raw, MERGE_S)                # audible onsets (event groups)
    oo = np.asarray([x for x in onsets if t0 <= x < t1]) - t0
    m50 = metrics.sync_scores(tt, oo, 0.05)["n_matched"]
    det = tt if true_onsets is None else tt[nearest_distances(tt, np.asarray(true_onsets) - t0) <= 0.05]
    m50_det = metrics.sync_scores(det, oo, 0.05)["n_matched"]
    m25 = metrics.sync_scores(tt, oo, 0.025)["n_matched"]
    by_kind = {}
    if kinds is not None:
        inside = [(x - t0, k) for x, k in zip(true_times, kinds) if t0 <= x < t1]
        hit = nearest_distances([x for x, _ in inside], oo) <= 0.05
        for (_, k), h in zip(inside, hit):
            n_h = by_kind.setdefault(k, [0, 0])
            n_h[0] += 1
            n_h[1] += int(h)
    sp = [(max(s, t0) - t0, min(e, t1) - t0) for s, e in spans if e > t0 and s < t1 and min(e, t1) - max(s, t0) > 0.1]
    kept = metrics.silence_kept(gw, SR, sp) * len(sp) if sp else 0.0
    return dict(n_true=len(tt), n_det=len(oo), matched_50=m50, matched_25=m25,
                n_events=len(raw), matched_events_50=metrics.sync_scores(raw, oo, 0.05)["n_matched"],
                n_detectable=len(det), matched_detectable_50=m50_det,
                chance_50=chance_matches(tt, oo, t1 - t0, rng, n_shifts, 0.05),
                chance_25=chance_matches(tt, oo, t1 - t0, rng, n_shifts, 0.025),
                nearest=nearest_distances(tt, oo).tolist(), spans=len(sp), kept=float(kept),
                swsd=metrics.swsd(tw, gw, SR) if with_swsd else float("nan"), seconds=t1 - t0,
                by_kind=by_kind)


def _ratio(a, b) -> float:
    return float(a) / float(b) if b else float("nan")


def _clipmean(records, num: str, den: str) -> float:
    v = [r[num] / r[den] for r in records if r[den]]
    return float(np.mean(v)) if v else float("nan")


CI_STATS = ("sync_recall_50ms", "sync_precision_50ms", "sync_recall_25ms", "silence_kept", "swsd")


def _pooled_stats(records: list[dict], idx: np.ndarray) -> dict:
    """The CI_STATS over clip resamples: idx (n_boot, n_clips) indices into records -> (n_boot,) each."""
    col = lambda k: np.asarray([r[k] for r in records], float)[idx].sum(axis=1)   # noqa: E731
    div = lambda a, b: np.divide(a, b, out=np.full_like(a, np.nan), where=b > 0)  # noqa: E731
    swsd = np.asarray([r["swsd"] for r in records], float)[idx]
    return {"sync_recall_50ms": div(col("matched_50"), col("n_true")),
            "sync_precision_50ms": div(col("matched_50"), col("n_det")),
            "sync_recall_25ms": div(col("matched_25"), col("n_true")),
            "silence_kept": div(col("kept"), col("spans")),
            "swsd": np.nanmean(swsd, axis=1) if np.isfinite(swsd).any() else np.full(len(idx), np.nan)}


def _resamples(n_clips: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_clips, (n_boot, n_clips))


def _interval(x: np.ndarray) -> list:
    x = x[np.isfinite(x)]
    return [float(v) for v in np.percentile(x, [2.5, 97.5])] if len(x) else [float("nan")] * 2


def bootstrap_ci(records: list[dict], n_boot: int = 1000, seed: int = 0) -> dict:
    """95 % percentile intervals of the pooled CI_STATS, resampling clips with replacement."""
    if len(records) < 2:
        return {}
    boot = _pooled_stats(records, _resamples(len(records), n_boot, seed))
    return {k: _interval(v) for k, v in boot.items()}


def _paired_resamples(n_a: int, n_b: int, n_boot: int, seed: int) -> np.ndarray:
    if n_a != n_b or n_a < 2:
        raise EvalError("a paired comparison needs the same clips (at least 2) on both sides")
    return _resamples(n_a, n_boot, seed)


def _change(a: float, b: float, a_boot: np.ndarray, b_boot: np.ndarray) -> dict:
    """A, B, A/B − 1 and A − B, each change with its 95 % interval over paired resamples."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"a": float(a), "b": float(b),
                "relative": float(a / b - 1), "relative_ci95": _interval(a_boot / b_boot - 1),
                "difference": float(a - b), "difference_ci95": _interval(a_boot - b_boot)}


def paired_change(records_a: list[dict], records_b: list[dict], n_boot: int = 1000,
                  seed: int = 0) -> dict:
    """A against B on the same clips (same order), for each of CI_STATS (`_change`); one
    resample of the clips drives both sides (a paired clip bootstrap)."""
    idx = _paired_resamples(len(records_a), len(records_b), n_boot, seed)
    full = np.arange(len(records_a))[None]
    a0, b0 = _pooled_stats(records_a, full), _pooled_stats(records_b, full)
    a, b = _pooled_stats(records_a, idx), _pooled_stats(records_b, idx)
    return {k: _change(a0[k][0], b0[k][0], a[k], b[k]) for k in CI_STATS}


def paired_mean_change(a, b, n_boot: int = 1000, seed: int = 0) -> dict:
    """The mean of per-clip values (e.g. SWSD on each clip's own unseen part), A against B on
    the same clips (`_change`, paired clip bootstrap)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    idx = _paired_resamples(len(a), len(b), n_boot, seed)
    return _change(a.mean(), b.mean(), a[idx].mean(axis=1), b[idx].mean(axis=1))


def aggregate(records: list[dict], true_waves=None, gen_waves=None) -> dict:
    """Pool per-clip records: micro-averaged recall/precision (Σ matched / Σ events or onsets),
    median nearest distance over all events, pooled silence, mean SWSD, and (when waves are
    given) the pooled log-mel statistics distance."""
    s = lambda k: sum(r[k] for r in records)
    near = np.concatenate([np.asarray(r["nearest"], float) for r in records]) if records else np.zeros(0)
    out = {
        "sync_recall_50ms": _ratio(s("matched_50"), s("n_true")),
        "sync_precision_50ms": _ratio(s("matched_50"), s("n_det")),
        "sync_median_ms": float(1000 * np.median(near)) if len(near) else float("nan"),
        "silence_kept": _ratio(s("kept"), s("spans")),
        "swsd": float(np.nanmean([r["swsd"] for r in records])) if records else float("nan"),
        "sync_recall_25ms": _ratio(s("matched_25"), s("n_true")),
        "sync_recall_detectable_50ms": _ratio(s("matched_detectable_50"), s("n_detectable")),
        "sync_recall_50ms_per_event": _ratio(s("matched_events_50"), s("n_events")),
        "sync_precision_50ms_per_event": _ratio(s("matched_events_50"), s("n_det")),
        "sync_recall_50ms_clipmean": _clipmean(records, "matched_50", "n_true"),
        "sync_precision_50ms_clipmean": _clipmean(records, "matched_50", "n_det"),
        "sync_precision_25ms": _ratio(s("matched_25"), s("n_det")),
        "chance_recall_50ms": _ratio(s("chance_50"), s("n_true")),
        "chance_precision_50ms": _ratio(s("chance_50"), s("n_det")),
        "chance_recall_25ms": _ratio(s("chance_25"), s("n_true")),
        "events": int(s("n_true")), "raw_events": int(s("n_events")), "onsets": int(s("n_det")),
        "silent_spans": int(s("spans")),
        "onsets_per_event": _ratio(s("n_det"), s("n_true")), "clips": len(records),
        "ci95": bootstrap_ci(records),    # clip bootstrap of the pooled numbers above
    }
    kinds = {}
    for r in records:
        for k, (n, h) in r.get("by_kind", {}).items():
            kinds.setdefault(k, [0, 0])
            kinds[k][0] += n
            kinds[k][1] += h
    if kinds:   # per raw event: an onset within ±50 ms (not one-to-one), by event kind
        out["recall_50ms_by_kind"] = {k: _ratio(h, n) for k, (n, h) in sorted(kinds.items())}
        out["events_by_kind"] = {k: n for k, (n, _) in sorted(kinds.items())}
    if true_waves is not None and gen_waves is not None and len(true_waves):
        out["mel_stat_distance"] = metrics.mel_stat_distance(
            np.concatenate(true_waves), np.concatenate(gen_waves), SR)
    return out


def shift_frames(frames: np.ndarray, seconds: float, fps: float = SYNC_FPS) -> np.ndarray:
    """Delay a frame stream by `seconds` (frame t shows time t − seconds; the first frame is
    repeated), keeping its length. (T, H, W, 3) -> (T, H, W, 3)."""
    k = int(round(seconds * fps))
    if k <= 0:
        return frames
    k = min(k, len(frames))
    return np.concatenate([np.repeat(frames[:1], k, axis=0), frames[:len(frames) - k]])


# ----------------------------------------------------------------------------- generation

def _log(msg: str) -> None:
    print(f"[eval {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def decode(pipe, latent, duration: float) -> np.ndarray:
    """Latent → waveform of exactly `duration` s, peak-limited as `Pipeline.generate` does."""
    wave = pipe.codec.decode(np.asarray(latent))
    n = int(round(duration * SR))
    wave = np.pad(wave, (0, max(n - len(wave), 0)))[:n]
    peak = float(np.max(np.abs(wave))) if n else 0.0
    return (wave * (0.99 / peak) if peak > 0.99 else wave).astype(np.float32)


def _conditions(pipe, frames24, caption, cfg: EvalConfig):
    prompt = caption if cfg.prompt == "caption" else ""
    return pipe.conditions_from_frames(frames24[::3], frames24, prompt)


def _times(clip):
    return [e.time for e in clip.events]


def _kinds(clip):
    return [e.kind for e in clip.events]


_TRUE_ONSETS: dict = {}


def true_onsets(clip) -> np.ndarray:
    """Onsets the detector finds in the clip's true audio (cached per seed and duration)."""
    key = (clip.seed, clip.duration)
    if key not in _TRUE_ONSETS:
        _TRUE_ONSETS[key] = metrics.detect_onsets(clip.audio, SR)
    return _TRUE_ONSETS[key]


def _score_clip(clip, wave, rng, cfg, with_swsd=True):
    on = metrics.detect_onsets(wave, SR)
    return score_segment(clip.audio, wave, _times(clip), on, clip.silent_spans, 0.0, clip.duration,
                         rng, cfg.chance_shifts, with_swsd, true_onsets(clip), _kinds(clip)), on


def _run_clips(pipe, clips, conds, steps: int, cfg: EvalConfig, rng):
    """Sample every clip from its conditions (noise seed = clip index), decode and score.
    Returns (pooled scores, detected onsets per clip, sampling seconds per clip, per-clip records)."""
    recs, gens, onsets, secs = [], [], [], []
    for i, (clip, cond) in enumerate(zip(clips, conds)):
        t0 = time.perf_counter()
        lat = pipe.sample(cond, clip.duration, steps, cfg.guidance, seed=i, schedule=cfg.schedule)
        secs.append(time.perf_counter() - t0)
        gens.append(decode(pipe, lat, clip.duration))
        rec, on = _score_clip(clip, gens[-1], rng, cfg)
        recs.append(rec)
        onsets.append(on)
    return aggregate(recs, [c.audio for c in clips], gens), onsets, secs, recs


def eval_steps(pipe, clips, conds, cfg: EvalConfig, rng, recs: dict) -> dict:
    """Every step count on the same clips and noise; recs receives the per-clip records by
    step count (for `paired_rows`), as it does in eval_controls and eval_ablations."""
    out = {}
    for s in cfg.steps:
        agg, _, secs, recs[str(s)] = _run_clips(pipe, clips, conds, s, cfg, rng)
        per_clip = float(np.mean(secs))
        agg.update(sample_seconds_per_clip=per_clip, ms_per_step=1000 * per_clip / s,
                   rtf=per_clip / cfg.duration)
        out[str(s)] = agg
        _log(f"steps {s:2d}: R@50 {agg['sync_recall_50ms']:.3f} P@50 {agg['sync_precision_50ms']:.3f} "
             f"SWSD {agg['swsd']:.4f} ({per_clip:.2f} s/clip)")
    return out


def eval_reference(pipe, clips, cfg: EvalConfig, rng) -> dict:
    """The detector on the true audio (the ceiling) and on its codec round trip."""
    true = aggregate([_score_clip(c, c.audio, rng, cfg)[0] for c in clips],
                     [c.audio for c in clips], [c.audio for c in clips])
    rt = [decode(pipe, pipe.codec.encode(c.audio, SR), c.duration) for c in clips]
    codec = aggregate([_score_clip(c, w, rng, cfg)[0] for c, w in zip(clips, rt)],
                      [c.audio for c in clips], rt)
    return {"true_audio": true, "codec_roundtrip": codec}


def eval_controls(pipe, clips, cfg: EvalConfig, rng, recs: dict) -> dict:
    """Same clips and captions, video shifted by shift_seconds or taken from the next clip."""
    out = {}
    for name in ("shifted", "other_video"):
        if name == "shifted":
            frames = [shift_frames(c.frames, cfg.shift_seconds) for c in clips]
            shown = [[t + cfg.shift_seconds for t in _times(c) if t + cfg.shift_seconds < c.duration]
                     for c in clips]
        else:
            others = clips[1:] + clips[:1]
            frames, shown = [c.frames for c in others], [_times(c) for c in others]
        conds = [_conditions(pipe, f, c.caption, cfg) for f, c in zip(frames, clips)]
        agg, onsets, _, recs[name] = _run_clips(pipe, clips, conds, cfg.control_steps, cfg, rng)
        # does the audio follow the video it was shown (the shifted or the other clip's)?
        follow = [metrics.sync_scores(t, on, 0.05) for t, on in zip(shown, onsets)]
        agg["steps"] = cfg.control_steps
        agg["recall_vs_shown_video_50ms"] = _ratio(sum(f["n_matched"] for f in follow),
                                                   sum(f["n_true"] for f in follow))
        agg["precision_vs_shown_video_50ms"] = _ratio(sum(f["n_matched"] for f in follow),
                                                      sum(f["n_detected"] for f in follow))
        out[name] = agg
        _log(f"control {name}: R@50 {agg['sync_recall_50ms']:.3f} P@50 {agg['sync_precision_50ms']:.3f}")
    return out


def eval_ablations(pipe, clips, conds, cfg: EvalConfig, rng, recs: dict) -> dict:
    """The same clips with one visual stream replaced by its learned null embedding in the
    conditional branch too: which stream carries the timing."""
    out = {}
    for name, kw in (("no_sync", dict(drop_sync=True)), ("no_semantic", dict(drop_sem=True))):
        dropped = [replace(c, **kw) for c in conds]
        agg, _, _, recs[name] = _run_clips(pipe, clips, dropped, cfg.control_steps, cfg, rng)
        agg["steps"] = cfg.control_steps
        out[name] = agg
        _log(f"ablation {name}: R@50 {agg['sync_recall_50ms']:.3f} P@50 {agg['sync_precision_50ms']:.3f}")
    return out


def eval_conditioning(pipe, cfg: EvalConfig, rng, seconds: float | None = None,
                      offset: int | None = None) -> dict:
    """Fig. 6: reference = the true audio of [0, L), generation of the rest.

    Every L is scored on the same unseen tail [max(cond_refs), end) (`swsd`, sync, ...), so
    the rows compare like with like; `swsd_unseen` is the paper's variant, each L on its own
    unseen part [L, end). `seconds` = None: clips one model window long (the paper's setting:
    the whole clip is in the model's context); else clips of that length (long-form
    extension, later windows see only the previous window's overlap)."""
    tail0 = max(cfg.cond_refs)
    in_window = seconds is None
    seconds = pipe.cfg.window_seconds if in_window else seconds
    offset = (cfg.COND_WINDOW_OFFSET if in_window else cfg.COND_OFFSET) if offset is None else offset
    check_unseen_tail(seconds, cfg.cond_refs, "conditioning clips")
    clips = [make_clip(cfg.seed0 + offset + i, seconds) for i in range(cfg.cond_clips)]
    conds = [_conditions(pipe, c.frames, c.caption, cfg) for c in clips]
    out = {}
    base = None                                   # (records, own SWSD) of the first reference
    for L in sorted(cfg.cond_refs):               # the first is the shortest: the paired base
        recs, tw, gw, own = [], [], [], []
        for i, (clip, cond) in enumerate(zip(clips, conds)):
            ref = pipe.codec.encode(clip.audio[:int(round(L * SR))], SR) if L > 0 else None
            lat = pipe.sample(cond, clip.duration, cfg.cond_steps, cfg.guidance, seed=i,
                              ref_latent=ref, ref_start=0.0, schedule=cfg.schedule)
            wave = decode(pipe, lat, clip.duration)
            on = metrics.detect_onsets(wave, SR)
            recs.append(score_segment(clip.audio, wave, _times(clip), on, clip.silent_spans,
                                      tail0, clip.duration, rng, cfg.chance_shifts,
                                      true_onsets=true_onsets(clip)))
            a, b = int(round(tail0 * SR)), int(round(L * SR))
            tw.append(clip.audio[a:])
            gw.append(wave[a:])
            own.append(metrics.swsd(clip.audio[b:], wave[b:], SR))
        agg = aggregate(recs, tw, gw)
        agg.update(reference_seconds=L, scored_from_s=tail0, scored_to_s=seconds,
                   swsd_unseen=float(np.mean(own)), clip_seconds=seconds)
        if base is None:
            base = (recs, own, L)
        elif len(recs) > 1:      # same clips and noise as the first (shortest) reference
            agg["paired_vs_first"] = {"reference_seconds": base[2], **paired_change(recs, base[0])}
            agg["swsd_unseen_vs_first"] = paired_mean_change(own, base[1])
        out[f"{L:g}"] = agg
        _log(f"conditioning ({seconds:g} s clips) ref {L:g} s: SWSD tail {agg['swsd']:.4f} "
             f"unseen {agg['swsd_unseen']:.4f} R@50 {agg['sync_recall_50ms']:.3f}")
    return out


def eval_long(pipe, cfg: EvalConfig, rng) -> dict:
    """Iterative extension (the product path) vs one single pass over the whole clip."""
    from .pipeline import _window_spans
    clips = [make_clip(cfg.seed0 + cfg.LONG_OFFSET + i, cfg.long_seconds) for i in range(cfg.long_clips)]
    n_seg = int(cfg.long_seconds // cfg.segment_seconds)
    n_frames = latent_frames(cfg.long_seconds)
    res = {"iterative": [[] for _ in range(n_seg)], "single_pass": [[] for _ in range(n_seg)]}
    waves = {k: [[] for _ in range(n_seg)] for k in res}
    truth = [[] for _ in range(n_seg)]
    wall = {"iterative": [], "single_pass": []}
    for i, clip in enumerate(clips):
        cond = _conditions(pipe, clip.frames, clip.caption, cfg)
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
                res[mode][k].append(score_segment(clip.audio, wave, _times(clip), on,
                                                  clip.silent_spans, a, b, rng, cfg.chance_shifts,
                                                  true_onsets=true_onsets(clip)))
                waves[mode][k].append(wave[int(a * SR):int(b * SR)])
                if mode == "iterative":
                    truth[k].append(clip.audio[int(a * SR):int(b * SR)])
            _log(f"long clip {i} {mode}: {wall[mode][-1]:.1f} s")
    out = {}
    for mode in res:
        rows = []
        for k in range(n_seg):
            agg = aggregate(res[mode][k], truth[k], waves[mode][k])
            rows.append({"segment": k, "start_s": k * cfg.segment_seconds,
                         "end_s": (k + 1) * cfg.segment_seconds, **agg})
        out[mode] = rows
    out.update(seconds=cfg.long_seconds, clips=cfg.long_clips, steps=cfg.long_steps,
               windows_per_clip=len(_window_spans(n_frames, pipe.cfg)),
               iterative_wall_s=float(np.mean(wall["iterative"])),
               single_pass_wall_s=float(np.mean(wall["single_pass"])))
    return out


def _machine() -> dict:
    import jax
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=10).stdout.strip()
    except Exception:
        commit = ""
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "jax": jax.__version__,
            "devices": [str(d) for d in jax.devices()], "git_commit": commit}


def paired_rows(recs: dict, cfg: EvalConfig) -> dict:
    """Paired comparisons on the same clips and noise: every step count against the largest
    ("8 vs 32 steps": the paper's claim), and the model at control_steps against each control
    and ablation ("8 steps vs shifted")."""
    out = {}
    counts = sorted(int(k) for k in recs if k.isdigit())
    if len(counts) > 1:
        top = counts[-1]
        for s in counts[:-1]:
            out[f"{s} vs {top} steps"] = paired_change(recs[str(s)], recs[str(top)])
    model = recs.get(str(cfg.control_steps))
    for name in ("shifted", "other_video", "no_sync", "no_semantic"):
        if model is not None and name in recs:
            out[f"{cfg.control_steps} steps vs {name}"] = paired_change(model, recs[name])
    return out


def eval_baseline(baseline, clips, cfg: EvalConfig, recs: dict) -> tuple[dict, dict]:
    """The step rows of another checkpoint on the same clips, captions and noise (its own
    encoders read the video), and each step count paired against it: "8 steps vs baseline"."""
    conds = [_conditions(baseline, c.frames, c.caption, cfg) for c in clips]
    b_recs: dict = {}
    rows = eval_steps(baseline, clips, conds, cfg, np.random.default_rng(0), b_recs)
    paired = {f"{s} steps vs baseline": paired_change(recs[str(s)], b_recs[str(s)]) for s in cfg.steps}
    return rows, paired


def run_eval(pipe, cfg: EvalConfig, checkpoint: str = "", baseline=None,
             baseline_name: str = "") -> dict:
    """All sections (minus cfg.skip) → the JSON-ready result dict. With `baseline` (a
    Pipeline) the step rows are also run on it and paired against the model's."""
    cfg.check()
    if baseline is not None and "steps" in cfg.skip:
        raise EvalError("a baseline is compared on the step rows: do not skip 'steps'")
    if "conditioning" not in cfg.skip:
        check_unseen_tail(pipe.cfg.window_seconds, cfg.cond_refs, "the model's window")
    t_all = time.perf_counter()
    rng = np.random.default_rng(0)
    seeds = [cfg.seed0 + i for i in range(cfg.clips)]
    clips = [make_clip(s, cfg.duration) for s in seeds]
    conds = [_conditions(pipe, c.frames, c.caption, cfg) for c in clips]
    pipe.sample(conds[0], cfg.duration, 1, cfg.guidance, seed=0)   # compile outside the timings
    ev: dict = {}
    recs: dict = {}                                   # per-clip records by row, same clips
    if "steps" not in cfg.skip:
        ev["steps"] = eval_steps(pipe, clips, conds, cfg, rng, recs)
    if "controls" not in cfg.skip:
        ev["controls"] = eval_controls(pipe, clips, cfg, rng, recs)
        ev["ablations"] = eval_ablations(pipe, clips, conds, cfg, rng, recs)
    paired = paired_rows(recs, cfg)
    if baseline is not None:
        rows, vs = eval_baseline(baseline, clips, cfg, recs)
        ev["baseline"] = {"checkpoint": baseline_name, "steps": rows}
        paired.update(vs)
    if paired:
        ev["paired"] = paired
    if "reference" not in cfg.skip:
        ev["reference"] = eval_reference(pipe, clips, cfg, rng)
    if "conditioning" not in cfg.skip:
        ev["conditioning"] = eval_conditioning(pipe, cfg, rng)
        ev["conditioning_long"] = eval_conditioning(pipe, cfg, rng, seconds=cfg.cond_seconds)
    if "long" not in cfg.skip:
        ev["long_form"] = eval_long(pipe, cfg, rng)
    c = asdict(cfg)
    c["skip"] = sorted(cfg.skip)
    ev["meta"] = {
        "checkpoint": checkpoint, "config": c, "seeds": seeds,
        "conditioning_seeds": [cfg.seed0 + o + i for o in (cfg.COND_WINDOW_OFFSET, cfg.COND_OFFSET)
                               for i in range(cfg.cond_clips)],
        "long_form_seeds": [cfg.seed0 + cfg.LONG_OFFSET + i for i in range(cfg.long_clips)],
        "wall_seconds": time.perf_counter() - t_all, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": _machine(), "generator": pipe.cfg.to_dict(),
        "notes": {
            "sync": "one-to-one matching of true onsets to detected onsets within ±50/±25 ms; "
                    "a true onset is a group of SynthFoley events less than 50 ms apart "
                    "(metrics.merge_events: simultaneous strikes are one sound); "
                    "sync_median_ms = median over true onsets of the distance to the nearest "
                    "detected onset; *_per_event: the same matching against every raw event",
            "detectable": "sync_recall_detectable_50ms: recall over the events the detector finds "
                          "in the true audio (a true-audio onset within ±50 ms); *_clipmean: the "
                          "mean of per-clip ratios (the others pool counts over clips)",
            "chance": "circular-shift null: the generated onsets shifted by δ~U[0.25, L−0.25] s "
                      "(mod L), mean matches over shifts",
            "mel_stat_distance": "Fréchet distance of pooled log-mel frame statistics; NOT VGGish FAD",
            "controls": "same clips, same caption and noise; video shifted by shift_seconds or "
                        "another clip's video; scored against the clip's own truth",
            "ablations": "same clips, caption and noise; the sync (or semantic) features replaced "
                         "by the learned null embedding in both CFG branches",
            "conditioning": "clips one model window long (the paper's setting: the whole clip "
                            "is in context); reference = true audio of [0, L) placed at 0; "
                            "scored on the common unseen tail [max(cond_refs), end); "
                            "swsd_unseen: each L on its own unseen part [L, end); "
                            "paired_vs_first / swsd_unseen_vs_first: each L against the "
                            "shortest reference (0 s) on the same clips and noise",
            "conditioning_long": "the same on cond_seconds clips generated by long-form extension "
                                 "(windows after the first see only the previous overlap)",
            "long_form": "iterative = the product's window-by-window extension; single_pass = "
                         "one window of the whole clip",
            "rtf": "sampling wall seconds / audio seconds (decode excluded), this machine",
            "ci95": "95 % percentile intervals from 1,000 resamples of the clips (with "
                    "replacement) of the pooled numbers",
            "paired": "A vs B on the same clips and noise: relative change A/B - 1 and difference "
                      "A - B, with 95 % intervals from a paired clip bootstrap",
            "baseline": "--baseline: another checkpoint's step rows on the same clips, captions "
                        "and noise (its own encoders read the video); paired as 'N steps vs baseline'",
        },
    }
    return ev


# ----------------------------------------------------------------------------- report

_COLS = [("R@50", "sync_recall_50ms", "{:.3f}"), ("P@50", "sync_precision_50ms", "{:.3f}"),
         ("R@25", "sync_recall_25ms", "{:.3f}"), ("P@25", "sync_precision_25ms", "{:.3f}"),
         ("chR@50", "chance_recall_50ms", "{:.3f}"), ("Rdet@50", "sync_recall_detectable_50ms", "{:.3f}"),
         ("Rev@50", "sync_recall_50ms_per_event", "{:.3f}"),
         ("Rclip@50", "sync_recall_50ms_clipmean", "{:.3f}"), ("med ms", "sync_median_ms", "{:.1f}"),
         ("onset/ev", "onsets_per_event", "{:.2f}"), ("silence", "silence_kept", "{:.2f}"),
         ("SWSD", "swsd", "{:.4f}"), ("melFD", "mel_stat_distance", "{:.1f}")]


def _row(name: str, d: dict, extra=()) -> str:
    cells = [f"{name:<26}"]
    for _, k, f in list(_COLS) + list(extra):
        v = d.get(k)
        cells.append(f"{(f.format(v) if isinstance(v, (int, float)) and v == v else '-'):>8}")
    return " ".join(cells)


def _result_blocks(ev: dict) -> list[tuple[str, dict]]:
    """(label, block) of the 5 s-clip rows: model by step count, controls, ablations, references."""
    by_steps = lambda block: sorted(block.items(), key=lambda kv: int(kv[0]))   # noqa: E731
    rows = [(f"model, {s} steps", d) for s, d in by_steps(ev.get("steps", {}))]
    rows += [(f"baseline, {s} steps", d) for s, d in by_steps(ev.get("baseline", {}).get("steps", {}))]
    for sec, label in (("controls", "control"), ("ablations", "ablation"), ("reference", "reference")):
        rows += [(f"{label}: {name}", d) for name, d in ev.get(sec, {}).items()]
    return rows


def _pct(change: dict, digits: int = 1) -> str:
    """A `_change` as 'relative % [95 % interval]'."""
    lo, hi = change["relative_ci95"]
    return f"{100 * change['relative']:+.{digits}f}% [{100 * lo:+.0f}, {100 * hi:+.0f}]"


def _paired_rows_text(ev: dict) -> list[str]:
    """The paired comparisons: relative change of R@50, P@50 and SWSD with 95 % intervals."""
    paired = ev.get("paired")
    if not paired:
        return []
    keys = (("R@50", "sync_recall_50ms"), ("P@50", "sync_precision_50ms"), ("SWSD", "swsd"))
    lines = ["", "Paired on the same clips and noise: A/B - 1 [95 % clip-bootstrap interval]",
             " ".join([f"{'':<26}"] + [f"{h:>22}" for h, _ in keys])]
    for name, d in paired.items():
        lines.append(" ".join([f"{name:<26}"] + [f"{_pct(d[k]):>22}" for _, k in keys]))
    return lines


def _kind_rows(ev: dict) -> list[str]:
    """Recall within ±50 ms per raw event, by event kind, for every block that has it."""
    blocks = [(name, d) for name, d in _result_blocks(ev) if d.get("recall_50ms_by_kind")]
    if not blocks:
        return []
    kinds = sorted({k for _, d in blocks for k in d["recall_50ms_by_kind"]})
    n = blocks[0][1].get("events_by_kind", {})
    lines = ["", "Recall within ±50 ms by event kind (per raw event, not one-to-one; events: "
             + ", ".join(f"{k} {n.get(k, '?')}" for k in kinds) + ")",
             " ".join([f"{'':<26}"] + [f"{k:>10}" for k in kinds])]
    for name, d in blocks:
        r = d["recall_50ms_by_kind"]
        lines.append(" ".join([f"{name:<26}"] + [f"{r[k]:>10.3f}" if k in r else f"{'-':>10}" for k in kinds]))
    return lines


def format_table(ev: dict) -> str:
    """Markdown-ish plain-text table of every section."""
    head = lambda extra=(): " ".join([f"{'':<26}"] + [f"{h:>8}" for h, _, _ in list(_COLS) + list(extra)])
    t_extra = [("s/clip", "sample_seconds_per_clip", "{:.2f}"), ("RTF", "rtf", "{:.3f}")]
    lines = []
    if "steps" in ev or "controls" in ev or "reference" in ev:
        dur = ev.get("meta", {}).get("config", {}).get("duration", "?")
        lines += [f"Sync / quality ({dur} s held-out clips)", head(t_extra)]
        lines += [_row(name, d, t_extra) for name, d in _result_blocks(ev)]
        lines += _kind_rows(ev) + _paired_rows_text(ev)
    c_extra = [("SWSDown", "swsd_unseen", "{:.4f}")]
    for key, title in (("conditioning", "Audio conditioning, clips of one window"),
                       ("conditioning_long", "Audio conditioning across windows")):
        block = ev.get(key)
        if not block:
            continue
        first = next(iter(block.values()))
        span = (f" ({first['clip_seconds']:g} s clips, common tail {first['scored_from_s']:g}-"
                f"{first['scored_to_s']:g} s; SWSDown = own unseen part)" if "clip_seconds" in first else "")
        lines += ["", title + span, head(c_extra)]
        refs = sorted(block.items(), key=lambda kv: float(kv[0]))
        lines += [_row(f"reference {k} s", d, c_extra) for k, d in refs]
        changes = [f"{k} s {_pct(d['swsd_unseen_vs_first'], 0)}" for k, d in refs if "swsd_unseen_vs_first" in d]
        if changes:
            lines.append("SWSDown vs the shortest reference, paired [95 %]: " + "; ".join(changes))
    lf = ev.get("long_form")
    if lf:
        lines += ["", f"Long form ({lf['clips']} x {lf['seconds']:g} s, {lf['steps']} steps; "
                      f"wall {lf['iterative_wall_s']:.1f} s iterative, {lf['single_pass_wall_s']:.1f} s single pass)",
                  head()]
        for mode in ("iterative", "single_pass"):
            for r in lf[mode]:
                lines.append(_row(f"{mode} {r['start_s']:g}-{r['end_s']:g} s", r))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- CLI

def _floats(s: str) -> tuple:
    return tuple(float(x) for x in s.split(",") if x.strip())


def _ints(s: str) -> tuple:
    return tuple(int(x) for x in s.split(",") if x.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="salsav eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = EvalConfig()
    p.add_argument("--checkpoint", default=None, help="checkpoint folder or Hub repo (default: bundled)")
    p.add_argument("--clips", type=int, default=d.clips, help="5 s held-out clips")
    p.add_argument("--steps", type=_ints, default=d.steps, help="comma-separated step counts")
    p.add_argument("--guidance", type=float, default=d.guidance)
    p.add_argument("--schedule", choices=sampler.SCHEDULES, default=d.schedule,
                   help="sampler step sizes (uniform: the paper's)")
    p.add_argument("--out", default=None, help="write the JSON here")
    p.add_argument("--baseline", default=None,
                   help="another checkpoint to run the step rows on too, paired against this one "
                        "(same clips and noise): is a new checkpoint better?")
    p.add_argument("--seed0", type=int, default=d.seed0, help="first held-out clip seed (>= 10**9)")
    p.add_argument("--duration", type=float, default=d.duration, help="seconds per clip")
    p.add_argument("--control-steps", type=int, default=d.control_steps)
    p.add_argument("--cond-clips", type=int, default=d.cond_clips)
    p.add_argument("--cond-seconds", type=float, default=d.cond_seconds)
    p.add_argument("--cond-refs", type=_floats, default=d.cond_refs, help="reference seconds")
    p.add_argument("--long-clips", type=int, default=d.long_clips)
    p.add_argument("--long-seconds", type=float, default=d.long_seconds)
    p.add_argument("--segment-seconds", type=float, default=d.segment_seconds)
    p.add_argument("--chance-shifts", type=int, default=d.chance_shifts)
    p.add_argument("--prompt", choices=("caption", "none"), default=d.prompt)
    p.add_argument("--skip", default="", help=f"comma-separated sections to skip: {','.join(SECTIONS)} "
                                              "(also accepts long_form)")
    return p


def config_from_args(a) -> EvalConfig:
    skip = {s.strip().replace("long_form", "long") for s in a.skip.split(",") if s.strip()}
    return EvalConfig(clips=a.clips, steps=tuple(a.steps), guidance=a.guidance,
                      schedule=a.schedule, seed0=a.seed0,
                      duration=a.duration, control_steps=a.control_steps, cond_clips=a.cond_clips,
                      cond_seconds=a.cond_seconds, cond_refs=tuple(a.cond_refs),
                      long_clips=a.long_clips, long_seconds=a.long_seconds,
                      segment_seconds=a.segment_seconds, chance_shifts=a.chance_shifts,
                      prompt=a.prompt, skip=frozenset(skip)).check()


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(a)
    except EvalError as e:
        print(f"salsav eval: {e}", file=sys.stderr)
        return 2
    from .pipeline import DEFAULT_CHECKPOINT, Pipeline
    ckpt = a.checkpoint or DEFAULT_CHECKPOINT
    _log(f"loading {ckpt}")
    pipe = Pipeline.from_pretrained(ckpt)
    baseline = None
    if a.baseline:
        _log(f"loading the baseline {a.baseline}")
        baseline = Pipeline.from_pretrained(a.baseline)
    try:
        ev = _jsonable(run_eval(pipe, cfg, checkpoint=str(ckpt), baseline=baseline,
                                baseline_name=str(a.baseline or "")))
    except EvalError as e:
        print(f"salsav eval: {e}", file=sys.stderr)
        return 2
    if a.out:   # written before the table is printed, so a long run is never lost
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(ev, f, indent=1)
        _log(f"wrote {a.out} ({ev['meta']['wall_seconds']:.0f} s)")
    print(format_table(ev))
    return 0


if __name__ == "__main__":
    sys.exit(main())
