"""Add the codec's per-band latent ceiling to an existing checkpoint, keeping its mean/std.

The bundled checkpoint was trained before `MelCodec.ceiling` existed; this computes the
ceiling on training-seed SynthFoley clips (the same seeds the generator was trained on) and
writes it into config.json. New runs get it from `MelCodec.fit_stats`.

    python experiments/bundle-training/stages-1-7/fit_codec_ceiling.py checkpoints/salsav-synthfoley --clips 256
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from salsav_core.codec import MelCodec
from salsav_core.config import ModelConfig
from salsav_core.train_generator import make_clips


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--clips", type=int, default=256)
    p.add_argument("--seed", type=int, default=0, help="seed of the training run's clip choice")
    a = p.parse_args(argv)
    path = Path(a.checkpoint) / "config.json"
    cfg = json.loads(path.read_text())
    codec = MelCodec.from_dict(cfg["codec"])
    duration = ModelConfig.from_dict(cfg["generator"]).window_seconds
    seeds = np.random.default_rng(a.seed).choice(1_000_000, size=max(a.clips, 1), replace=False)
    clips = make_clips(seeds[: a.clips], duration, 32, workers=1)
    z = np.concatenate([codec.encode(audio, codec.sample_rate) for _, audio, _ in clips])
    ceiling = z.max(0)
    cfg["codec"] = dataclasses.replace(codec, ceiling=tuple(float(v) for v in ceiling)).to_dict()
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    print(f"ceiling over {len(clips)} clips: min {ceiling.min():.2f}, median {np.median(ceiling):.2f}, "
          f"max {ceiling.max():.2f} (normalised units) -> {path}")


if __name__ == "__main__":
    main()
