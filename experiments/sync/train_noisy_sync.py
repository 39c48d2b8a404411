"""`salsav train generator` with Gaussian noise on the sync features during training.

The question: generators fine-tuned on the onset-trained towers fire extra onsets on the
held-out renderer's scenes (held-out precision drops), as if they trusted every bump of
out-of-distribution sync features. Noise on the features at training time (scaled per
channel by the batch's spread) asks the generator for stronger evidence before it places an
onset. Everything else is `salsav train generator`; the noise is added inside the loss, so
the product's training code stays as it is:

    python experiments/sync/train_noisy_sync.py --sync-noise 0.5 --preset cpu-tiny \
        --init checkpoints/salsav-synthfoley --sync experiments/sync/candidates/motion-detonset-4800 \
        --objective flow --clips 3000 --world mixed --steps 2800 --lr 3e-4 --seed 2 \
        --out runs/gen_det4800_noise/gen --export runs/gen_det4800_noise/gen/pipeline

With the same seed, clips and steps as `runs/README.md`'s 3,000-clip CPU fine-tune, it is a
paired ablation of that run (copy its `cache.npz`, `cache_encoders.json` and `codec.json`
into the new `--out` to skip the 20-minute feature cache).
"""
from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp

from salsav_core import train_generator, training


def with_sync_noise(loss_fn, scale: float):
    """loss_fn with N(0, (scale * per-channel std)^2) added to batch['sync'] (its own key)."""
    def noisy(params, teacher_params, graphdef, batch, key, tcfg):
        print(f"train_noisy_sync: sync-feature noise {scale:g} x std in the loss (traced)", flush=True)
        sync = batch["sync"]                                              # (B, T, D)
        std = jnp.std(sync, axis=(0, 1), keepdims=True)
        noise = jax.random.normal(jax.random.fold_in(key, 0x5A5A), sync.shape, sync.dtype)
        return loss_fn(params, teacher_params, graphdef, {**batch, "sync": sync + scale * std * noise},
                       key, tcfg)
    return noisy


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    p.add_argument("--sync-noise", type=float, default=0.5, help="noise std / feature std")
    a, rest = p.parse_known_args(argv)
    if a.sync_noise < 0:
        p.error("--sync-noise must be >= 0")
    training.loss_fn = with_sync_noise(training.loss_fn, a.sync_noise)   # read by make_train_step
    return train_generator.main(rest)


if __name__ == "__main__":
    sys.exit(main())
