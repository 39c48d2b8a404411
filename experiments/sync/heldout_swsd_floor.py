"""What does held-out SWSD measure? Every generator fine-tuned since the bundle scores 20-34 %
worse SWSD on the held-out world while its SynthFoley SWSD is level. The held-out world's sound
is its own (noise bursts through two resonant filters over a faint noise floor); SynthFoley's
is modal strikes over indoor, rain or wind ambience. So this prints, on `salsav eval --world
heldout`'s scenes (same seeds and duration), the SWSD of references that know nothing of the
generator:

- held-out sound, other scene: the next scene's true audio (the right sound, wrong timing);
- SynthFoley sound: a SynthFoley test clip's true audio, raw and through the bundle's codec
  (what a perfect SynthFoley generator would score here);

and, per `--checkpoints`, the generated audio's SWSD with its background level: the median
frame level below the clip's loudest frame (`metrics.background_db`).

    python experiments/sync/heldout_swsd_floor.py --clips 64 \
        --checkpoints checkpoints/salsav-synthfoley runs/gen_stemtime2/gen/pipeline

A diagnosis only: nothing trains on these scenes.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from salsav_core import metrics
from salsav_core.data.synthfoley import HELDOUT_SEED0, make_clip
from salsav_core.eval.generation import decode
from salsav_core.eval.heldout.scene import make_scene
from salsav_core.eval.heldout.section import swsd_references
from salsav_core.eval.heldout.video import model_frames
from salsav_core.eval.scoring import SR
from salsav_core.pipeline import Pipeline


def summary(values) -> dict:
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "sem": float(v.std(ddof=1) / np.sqrt(len(v)))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--guidance", type=float, default=4.0)
    p.add_argument("--codec", default="checkpoints/salsav-synthfoley",
                   help="the pipeline whose codec round-trips the SynthFoley sound")
    p.add_argument("--checkpoints", nargs="*", default=[])
    p.add_argument("--out", default=None)
    a = p.parse_args()

    scenes = [make_scene(i, a.duration) for i in range(a.clips)]
    foley = [make_clip(HELDOUT_SEED0 + i, a.duration).audio for i in range(a.clips)]
    codec = Pipeline.from_pretrained(a.codec).codec
    n = int(round(a.duration * SR))
    coded = [np.pad(w := codec.decode(codec.encode(f, SR)), (0, max(n - len(w), 0)))[:n] for f in foley]
    refs = swsd_references(scenes, lambda i, d: foley[i])      # the eval's two references
    rows = {"SynthFoley sound through codec": [metrics.swsd(s.audio, f, SR) for s, f in zip(scenes, coded)]}
    level = {"held-out true audio": [metrics.background_db(s.audio, SR) for s in scenes],
             "SynthFoley true audio": [metrics.background_db(f, SR) for f in foley],
             "SynthFoley through codec": [metrics.background_db(f, SR) for f in coded]}
    for ck in a.checkpoints:
        pipe = Pipeline.from_pretrained(ck)
        sizes = (pipe.semantic.cfg.image_size, pipe.sync.cfg.image_size)
        waves = []
        for i, s in enumerate(scenes):      # the eval's conditions and noise (seed = scene index)
            cond = pipe.conditions_from_frames(*model_frames(s, *sizes), "")
            waves.append(decode(pipe, pipe.sample(cond, s.duration, a.steps, a.guidance, seed=i),
                                s.duration))
        rows[f"generated: {ck}"] = [metrics.swsd(s.audio, w, SR) for s, w in zip(scenes, waves)]
        level[f"generated: {ck}"] = [metrics.background_db(w, SR) for w in waves]
    out = {"config": vars(a), "swsd_references": refs, "swsd": {k: summary(v) for k, v in rows.items()},
           "background_db": {k: summary(v) for k, v in level.items()}}
    for k, v in refs.items():
        print(f"SWSD reference: {k:<44} {v:.4f}")
    for k, d in out["swsd"].items():
        print(f"SWSD {k:<55} {d['mean']:.4f} ± {d['sem']:.4f}")
    for k, d in out["background_db"].items():
        print(f"background {k:<49} {d['mean']:6.1f} dB ± {d['sem']:.1f}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
