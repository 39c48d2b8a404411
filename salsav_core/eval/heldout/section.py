"""`salsav eval --world heldout`: sync on the independent held-out world (scene.py).

Each scene goes through an H.264 mp4 and the product's video reader, the model generates its
audio (no prompt: the held-out world has no captions in the training vocabulary), and the
audio's onsets are scored against the scene's exact impacts with the SynthFoley test's own
functions (`metrics.detect_onsets`, `scoring.score_segment`, `scoring.aggregate`, paired clip
bootstrap). Rows:
- model: the generated audio against the scene's own impacts;
- mismatched: the same audio against the next scene's impacts (a control with the same onset
  count and rhythm statistics, no relation to the picture);
- true_audio: the scene's own sound (the detector's ceiling on this world).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from ... import metrics, sampler
from ..bootstrap import paired_change
from ..config import EvalError
from ..generation import decode, log
from ..scoring import SR, aggregate, ratio, score_segment
from .scene import FPS, HEIGHT, WIDTH, make_scene
from .video import model_frames

WORLDS = ("synthfoley", "heldout", "both")


@dataclass(frozen=True)
class HeldoutConfig:
    clips: int = 24
    duration: float = 5.0
    steps: int = 8
    guidance: float = 4.0
    schedule: str = sampler.DEFAULT_SCHEDULE
    seed0: int = 0                      # scene seeds seed0 .. seed0 + clips - 1
    chance_shifts: int = 20
    prompt: str = ""

    def check(self) -> "HeldoutConfig":
        if self.clips < 2:
            raise EvalError("the held-out world needs at least 2 clips (the mismatched control pairs them)")
        if self.steps not in sampler.ALLOWED_STEPS:
            raise EvalError(f"steps must be among {sampler.ALLOWED_STEPS}; got {self.steps}")
        if not (0.5 <= self.duration <= 60):
            raise EvalError(f"held-out clips are 0.5-60 s long; got {self.duration:g}")
        if not (math.isfinite(self.guidance) and self.guidance >= 0):
            raise EvalError(f"guidance must be finite and >= 0; got {self.guidance}")
        if self.seed0 < 0:
            raise EvalError("the held-out seed0 must be >= 0")
        return self


def _times(scene):
    return [e.time for e in scene.events]


def _kinds(scene):
    return [e.kind for e in scene.events]


def _run(pipe, scenes, hc: HeldoutConfig, rng):
    """Generate and score every scene: (own records, mismatched records, waves, s/clip)."""
    sizes = (pipe.semantic.cfg.image_size, pipe.sync.cfg.image_size)
    own, mism, gens, secs = [], [], [], []
    for i, s in enumerate(scenes):
        cond = pipe.conditions_from_frames(*model_frames(s, *sizes), hc.prompt)
        t0 = time.perf_counter()
        lat = pipe.sample(cond, s.duration, hc.steps, hc.guidance, seed=i, schedule=hc.schedule)
        secs.append(time.perf_counter() - t0)
        wave = decode(pipe, lat, s.duration)
        gens.append(wave)
        on = metrics.detect_onsets(wave, SR)
        own.append(score_scene(s, wave, on, rng, hc.chance_shifts))
        mism.append(score_scene(s, wave, on, rng, hc.chance_shifts, scenes[(i + 1) % len(scenes)]))
        if (i + 1) % 8 == 0 or i + 1 == len(scenes):
            log(f"held-out world: {i + 1}/{len(scenes)} scenes")
    return own, mism, gens, float(np.mean(secs))


def _true_onsets(scene):
    return metrics.detect_onsets(scene.audio, SR)


def score_scene(scene, wave, onsets, rng, chance_shifts: int, against=None) -> dict:
    """One generated wave's record: its onsets against `scene`'s own impacts (with SWSD and the
    true audio's onsets), or against another scene's (`against`: the mismatched control)."""
    if against is None:
        return score_segment(scene.audio, wave, _times(scene), onsets, [], 0.0, scene.duration, rng,
                             chance_shifts, True, _true_onsets(scene), _kinds(scene))
    return score_segment(scene.audio, wave, _times(against), onsets, [], 0.0, scene.duration, rng,
                         chance_shifts, False, None, _kinds(against))


def _background(waves) -> float:
    """Mean `metrics.background_db`: how loud the bed under the impacts is."""
    return float(np.mean([metrics.background_db(w, SR) for w in waves]))


def _pool(records, true_waves=None, gen_waves=None) -> dict:
    with warnings.catch_warnings():      # rows without SWSD (NaN) are not a problem
        warnings.simplefilter("ignore", RuntimeWarning)
        return aggregate(records, true_waves, gen_waves)


def swsd_references(scenes, training_sound=None) -> dict:
    """Held-out SWSD of references that know nothing of a model: the next scene's true audio
    (this world's own sound, unrelated timing) and, given `training_sound(i, duration)` (a
    training-world clip's true audio; the eval passes SynthFoley test clips, which this package
    may not import), what a perfect generator of that world would score. SWSD compares spectral
    shapes, so the gap between the two is the share of a model's SWSD its sound palette sets."""
    n = len(scenes)
    out = {"next scene's sound": float(np.mean(
        [metrics.swsd(s.audio, scenes[(i + 1) % n].audio, SR) for i, s in enumerate(scenes)]))}
    if training_sound is not None:
        out["training world's sound"] = float(np.mean(
            [metrics.swsd(s.audio, training_sound(i, s.duration), SR) for i, s in enumerate(scenes)]))
    return out


def eval_heldout(pipe, hc: HeldoutConfig, rng=None, baseline=None, training_sound=None) -> dict:
    """Model, mismatched-control and true-audio rows on hc.clips held-out scenes; with a
    `baseline` pipeline also its rows on the same scenes and noise, paired against the model;
    and the SWSD references (`swsd_references`)."""
    hc.check()
    rng = np.random.default_rng(0) if rng is None else rng
    t_all = time.perf_counter()
    scenes = [make_scene(hc.seed0 + i, hc.duration) for i in range(hc.clips)]
    audio = [s.audio for s in scenes]
    own, mism, gens, per_clip = _run(pipe, scenes, hc, rng)
    true = [score_segment(s.audio, s.audio, _times(s), _true_onsets(s), [], 0.0, s.duration, rng,
                          hc.chance_shifts, False, _true_onsets(s), _kinds(s)) for s in scenes]
    out = {"model": _pool(own, audio, gens), "mismatched": _pool(mism), "true_audio": _pool(true)}
    out["model"].update(steps=hc.steps, sample_seconds_per_clip=per_clip, background_db=_background(gens))
    out["true_audio"]["background_db"] = _background(audio)
    out["recall_ratio_vs_mismatched"] = ratio(out["model"]["sync_recall_50ms"],
                                              out["mismatched"]["sync_recall_50ms"])
    out["paired"] = {f"{hc.steps} steps vs mismatched": paired_change(own, mism)}
    if baseline is not None:
        b_own, b_mism, b_gens, b_sec = _run(baseline, scenes, hc, rng)
        out["baseline"] = _pool(b_own, audio, b_gens)
        out["baseline"].update(steps=hc.steps, sample_seconds_per_clip=b_sec,
                               background_db=_background(b_gens))
        out["baseline_mismatched"] = _pool(b_mism)
        out["paired"][f"{hc.steps} steps vs baseline"] = paired_change(own, b_own)
    out["swsd_references"] = swsd_references(scenes, training_sound)
    out["meta"] = {"config": asdict(hc), "seeds": [hc.seed0 + i for i in range(hc.clips)],
                   "world": f"salsav_core.eval.heldout: {WIDTH}x{HEIGHT} at {FPS} fps, H.264, "
                            "read by video_io.read_streams",
                   "wall_seconds": time.perf_counter() - t_all,
                   "notes": "mismatched = the same generated audio scored against the next "
                            "scene's impacts; true_audio = the scene's own sound; no prompt"}
    log(f"held-out world: R@50 {out['model']['sync_recall_50ms']:.3f} "
        f"P@50 {out['model']['sync_precision_50ms']:.3f} vs mismatched "
        f"{out['mismatched']['sync_recall_50ms']:.3f}")
    return out


def add_arguments(p) -> None:
    """`--world` and `--heldout-clips` for `salsav eval`."""
    p.add_argument("--world", choices=WORLDS, default="synthfoley",
                   help="synthfoley: the SynthFoley test; heldout: the independent held-out "
                        "world only (at --control-steps); both: the two side by side")
    p.add_argument("--heldout-clips", type=int, default=None,
                   help="held-out scenes (default: --clips)")


def config_from_args(a, cfg) -> HeldoutConfig | None:
    """The held-out run `--world` asks for (None for synthfoley), sharing the eval's
    duration, guidance, schedule and chance shifts; steps = --control-steps."""
    if a.world == "synthfoley":
        return None
    return HeldoutConfig(clips=a.heldout_clips or cfg.clips, duration=cfg.duration,
                         steps=cfg.control_steps, guidance=cfg.guidance, schedule=cfg.schedule,
                         chance_shifts=cfg.chance_shifts).check()


def format_heldout(block: dict) -> str:
    """The held-out rows as plain text (R@50 and P@50 with 95 % intervals, the control)."""
    cfg = block.get("meta", {}).get("config", {})
    lines = [f"Held-out world ({cfg.get('clips', '?')} x {cfg.get('duration', '?')} s scenes, "
             f"{cfg.get('steps', '?')} steps, guidance {cfg.get('guidance', '?')}; "
             "independent renderer, never trained on)",
             f"{'':<26} {'R@50':>20} {'P@50':>20} {'R@25':>8} {'med ms':>8} {'onset/ev':>8}"]
    for name, key in (("model", "model"), ("control: mismatched", "mismatched"),
                      ("baseline", "baseline"), ("baseline: mismatched", "baseline_mismatched"),
                      ("reference: true audio", "true_audio")):
        d = block.get(key)
        if not d:
            continue
        ci = d.get("ci95", {})

        def cell(k):
            v, iv = d.get(k), ci.get(k)
            if v is None or v != v:
                return f"{'-':>20}"
            return f"{v:.3f} [{iv[0]:.2f}, {iv[1]:.2f}]".rjust(20) if iv else f"{v:>20.3f}"
        num = lambda k, f: f"{d[k]:{f}}" if isinstance(d.get(k), (int, float)) and d[k] == d[k] else "-"  # noqa: E731
        lines.append(f"{name:<26} {cell('sync_recall_50ms')} {cell('sync_precision_50ms')} "
                     f"{num('sync_recall_25ms', '.3f'):>8} {num('sync_median_ms', '.1f'):>8} "
                     f"{num('onsets_per_event', '.2f'):>8}")
    refs = block.get("swsd_references")
    if refs:
        got = [f"{n} {block[k]['swsd']:.4f}" for n, k in (("model", "model"), ("baseline", "baseline"))
               if isinstance(block.get(k, {}).get("swsd"), float)]
        lines.append(f"SWSD: {', '.join(got)}; references: "
                     + ", ".join(f"{k} {v:.4f}" for k, v in refs.items()))
    bg = [f"{n} {block[k]['background_db']:.1f}" for n, k in
          (("model", "model"), ("baseline", "baseline"), ("true audio", "true_audio"))
          if isinstance(block.get(k, {}).get("background_db"), float)]
    if bg:
        lines.append(f"background, median frame below the loudest (dB): {', '.join(bg)}")
    r = block.get("recall_ratio_vs_mismatched")
    if isinstance(r, (int, float)) and r == r:
        lines.append(f"R@50 model / mismatched: {r:.2f}x")
    for name, d in block.get("paired", {}).items():
        c = d["sync_recall_50ms"]
        lo, hi = c["difference_ci95"]
        lines.append(f"paired, {name}: R@50 difference {c['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    return "\n".join(lines)
