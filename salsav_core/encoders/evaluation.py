"""Retrieval evaluations of the trained encoders on SynthFoley seeds (pure: model + seeds in, numbers out)."""
from __future__ import annotations

import math

import numpy as np

from .audio_frontend import snippet_mels, to_16k

SYNC_FPS = 24
OFFSETS = (0.2, 0.4, 1.0)
PROBE_SEED0 = 2_000_000   # event-probe clips: disjoint from training (< 1e6) and test (>= 1e9) seeds


def _make_clip(make_clip):
    if make_clip is None:
        from salsav_core.data.synthfoley import make_clip
    return make_clip


def sync_retrieval(model, seeds, duration: float = 8.0, make_clip=None, size: int = 64,
                   stride_frames: int = 8) -> dict:
    """Video snippet (0.667 s) -> its audio.

    Returns top-1 within the same clip (candidates: the clip's non-overlapping snippets),
    over all clips' snippets, against 1 s offsets (candidates: audio at every whole-second
    shift that fits in the clip), and for each offset δ in ±0.2/0.4/1.0 s the rate at which
    the true alignment scores higher than audio shifted by δ, ties counting one half
    (video starts every `stride_frames` frames)."""
    make_clip = _make_clip(make_clip)
    cfg = model.cfg
    f = cfg.snippet_frames
    snip_s = f / SYNC_FPS
    grid_v, grid_a, grid_clip = [], [], []
    same_hits, sec_hits = [], []
    wins = {d: [] for d in OFFSETS for d in (d, -d)}
    ties = {d: [] for d in wins}
    for ci, seed in enumerate(seeds):
        clip = make_clip(int(seed), duration=duration, size=size)
        wave = to_16k(clip.audio, 44100)
        t = len(clip.frames)
        starts = np.arange(0, t - f + 1, stride_frames)                        # (S,)
        zv = model.video_embed(np.stack([clip.frames[s:s + f] for s in starts]))  # (S, D)
        t0 = starts / SYNC_FPS
        last = (t - f) / SYNC_FPS                                              # latest start that fits
        emb = lambda times: model.mel_embed(snippet_mels(wave, times, snip_s, cfg.mel_frames, cfg.n_mels))
        za = emb(t0)                                                           # (S, D) true alignment
        true = np.sum(zv * za, axis=1)
        for d in list(wins):
            ok = (t0 + d >= 0) & (t0 + d <= last + 1e-9)
            if ok.any():
                shifted = np.sum(zv[ok] * emb(t0[ok] + d), axis=1)
                # ties (both snippets digitally silent: identical audio) count one half
                wins[d] += list((true[ok] > shifted) + 0.5 * (true[ok] == shifted))
                ties[d] += list(true[ok] == shifted)
        for i, s0 in enumerate(t0):                                             # whole-second shifts
            ks = [k for k in range(-int(duration), int(duration) + 1)
                  if k != 0 and 0 <= s0 + k <= last + 1e-9]
            if ks:
                other = zv[i] @ emb(s0 + np.array(ks, float)).T
                sec_hits.append(bool(true[i] > other.max()))
        grid = (starts % f == 0)                                               # non-overlapping snippets
        grid_v.append(zv[grid]); grid_a.append(za[grid]); grid_clip += [ci] * int(grid.sum())
        sim = zv[grid] @ za[grid].T
        same_hits += list(np.argmax(sim, axis=1) == np.arange(len(sim)))
    gv, ga = np.concatenate(grid_v), np.concatenate(grid_a)
    all_hits = np.argmax(gv @ ga.T, axis=1) == np.arange(len(gv))
    n_same = len(same_hits) / len(seeds)
    out = {"clips": len(seeds), "duration": duration,
           "same_clip_top1": float(np.mean(same_hits)), "same_clip_chance": 1.0 / n_same,
           "all_clips_top1": float(np.mean(all_hits)), "all_clips_chance": 1.0 / len(gv),
           "vs_1s_offsets_top1": float(np.mean(sec_hits)) if sec_hits else float("nan"),
           "vs_1s_offsets_n": len(sec_hits)}
    for d in OFFSETS:
        both = wins[d] + wins[-d]
        out[f"offset_{d:.1f}s_rate"] = float(np.mean(both)) if both else float("nan")
        out[f"offset_+{d:.1f}s_rate"] = float(np.mean(wins[d])) if wins[d] else float("nan")
        out[f"offset_-{d:.1f}s_rate"] = float(np.mean(wins[-d])) if wins[-d] else float("nan")
        out[f"offset_{d:.1f}s_ties"] = float(np.mean(ties[d] + ties[-d])) if both else float("nan")
    return out


def semantic_retrieval(model, seeds, duration: float = 3.0, make_clip=None, size: int = 64) -> dict:
    """Caption -> clip among all held-out clips (clip = mean of its 8 FPS frame embeddings).

    `strict` counts only the clip the caption came from; `same_caption` also counts a clip
    whose caption is identical. Chance levels are given for both."""
    make_clip = _make_clip(make_clip)
    clips = [make_clip(int(s), duration=duration, size=size) for s in seeds]
    zc = np.stack([model.encode_frames(c.frames[::3]).mean(axis=0) for c in clips])   # (N, D)
    zc /= np.linalg.norm(zc, axis=1, keepdims=True) + 1e-8
    caps = [c.caption for c in clips]
    zt = model.encode_text(caps)                                                   # (N, D)
    order = np.argsort(-(zt @ zc.T), axis=1)                                       # (N, N)
    n = len(clips)
    same = np.array([[a == b for b in caps] for a in caps])                        # (N, N)
    strict1 = order[:, 0] == np.arange(n)
    strict5 = (order[:, :5] == np.arange(n)[:, None]).any(axis=1)
    eq1 = same[np.arange(n), order[:, 0]]
    eq5 = np.take_along_axis(same, order[:, :5], axis=1).any(axis=1)
    k = same.sum(axis=1)
    chance5 = [1.0 - (math.comb(n - m, 5) / math.comb(n, 5) if n >= 5 else 0.0) for m in k]
    return {"clips": n, "top1": float(strict1.mean()), "top5": float(strict5.mean()),
            "chance_top1": 1.0 / n, "chance_top5": min(5, n) / n,
            "same_caption_top1": float(eq1.mean()), "same_caption_top5": float(eq5.mean()),
            "same_caption_chance_top1": float(np.mean(k / n)), "same_caption_chance_top5": float(np.mean(chance5)),
            "distinct_captions": len(set(caps))}


# ----------------------------------------------------------------------------- event probe

def average_precision(scores, labels) -> float:
    """Area under the precision–recall curve (mean precision at each positive), pure numpy."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    y = np.asarray(labels, bool)[order]
    if not y.any():
        return float("nan")
    hits = np.cumsum(y)
    return float(np.mean(hits[y] / (np.flatnonzero(y) + 1)))


def event_frames(onsets, n_frames: int, fps: float = SYNC_FPS, tol_frames: int = 1) -> np.ndarray:
    """(n_frames,) 0/1 labels: 1 within ±tol_frames of an onset (± 42 ms at 24 FPS, tol 1)."""
    y = np.zeros(n_frames, np.float32)
    for t in onsets:
        i = int(round(float(t) * fps))
        y[max(i - tol_frames, 0):max(i + tol_frames + 1, 0)] = 1.0
    return y


def _context(x, k: int):
    """(T, D) -> (T, (2k+1) D): each frame with its k neighbours on either side (edges repeated)."""
    p = np.pad(x, ((k, k), (0, 0)), mode="edge")
    return np.concatenate([p[j:j + len(x)] for j in range(2 * k + 1)], axis=1)


def event_probe(features, onsets, fps: float = SYNC_FPS, context: int = 2, ridge: float = 10.0,
                train_fraction: float = 0.75) -> dict:
    """How well per-frame features say *when* something is heard: a linear (ridge) probe.

    features: [(T_i, D)] per clip; onsets: [times in s] per clip. Frames within ±1 frame of an
    audible onset are positives; the probe sees each frame with `context` neighbours each
    side, is fit on the first `train_fraction` of the clips and scored (average precision)
    on the rest. Chance AP is the positive rate. Used to compare sync models before the
    generator is trained on their features."""
    xs = [_context(np.asarray(f, np.float64), context) for f in features]
    ys = [event_frames(o, len(f), fps) for f, o in zip(features, onsets)]
    n = max(1, min(len(xs) - 1, int(round(len(xs) * train_fraction))))
    xtr, ytr = np.concatenate(xs[:n]), np.concatenate(ys[:n])
    xte, yte = np.concatenate(xs[n:]), np.concatenate(ys[n:])
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    a = np.c_[xtr, np.ones(len(xtr))]
    w = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ (ytr - 0.5))
    scores = np.c_[xte, np.ones(len(xte))] @ w
    return {"ap": average_precision(scores, yte), "chance_ap": float(yte.mean()),
            "train_clips": n, "test_clips": len(xs) - n, "test_frames": int(len(yte))}


def sync_event_probe(model, seeds, duration: float = 5.0, make_clip=None, size: int = 64, **kw) -> dict:
    """`event_probe` of the sync model's v_syn on SynthFoley clips (audible onsets = merged events)."""
    from salsav_core.metrics import merge_events
    make_clip = _make_clip(make_clip)
    feats, onsets = [], []
    for seed in seeds:
        clip = make_clip(int(seed), duration=duration, size=size)
        feats.append(model.video_features(clip.frames))
        onsets.append(merge_events([e.time for e in clip.events]))
    return event_probe(feats, onsets, **kw)
