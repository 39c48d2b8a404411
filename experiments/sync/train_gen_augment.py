"""`salsav train generator` on clips seen through `train_tower.py`'s random camera and look.

The question: generators fine-tuned on the onset-trained towers fire extra onsets on the
held-out renderer's scenes (held-out precision drops), as if they trusted every bump of sync
features from a picture unlike their training clips. Here the generator's own training clips get
the augmentation that made `candidates/motion-augment` transfer: one random homography, colour
change and texture per clip (a share `--augment` of the clips; the sound and its timing are
untouched). Its semantic and sync features are computed on those frames, so the generator
learns from features of pictures that look unlike SynthFoley. Everything else is `salsav train
generator`; the product's training code is untouched:

    python experiments/sync/train_gen_augment.py --augment 0.8 --preset cpu-tiny \\
        --init checkpoints/salsav-synthfoley --sync experiments/sync/candidates/motion-augment \\
        --objective flow --clips 2000 --world mixed --steps 2000 --lr 3e-4 --seed 2 \\
        --out runs/gen_genaug/gen --export runs/gen_genaug/gen/pipeline
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from salsav_core import train_generator

from train_tower import augment


def with_augmented_frames(make_clips, p: float):
    """make_clips whose clips' frames are augmented afterwards, in this process (its clip workers
    are spawned, so they cannot be patched), with train_tower's draw for each seed."""
    def make(seeds, duration, size, workers=0, world="default"):
        clips = make_clips(seeds, duration, size, workers, world)
        return [(augment(frames, np.random.default_rng([int(s), 0xA06]), p), audio, caption)
                for s, (frames, audio, caption) in zip(seeds, clips)]
    return make


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--augment", type=float, default=0.8, help="share of clips augmented")
    a, rest = p.parse_known_args(argv)
    if not 0.0 <= a.augment <= 1.0:
        p.error("--augment must be in [0, 1]")
    train_generator.make_clips = with_augmented_frames(train_generator.make_clips, a.augment)
    return train_generator.main(rest)


if __name__ == "__main__":
    sys.exit(main())
