"""A sync tower preset trained on one SynthFoley world only (the presets train on "mixed"), to
see whether its timing transfers further: judge it with `probe_sync.py --world heldout`.

    python experiments/sync/train_tower_world.py --preset motion-detonset --world varied \
        --init experiments/sync/candidates/motion-detonset-4800 --steps 1200 --out runs/sync_varied
"""
from __future__ import annotations

import argparse
from dataclasses import replace

from salsav_core.encoders.presets import sync_preset
from salsav_core.encoders.pretrained import load_sync
from salsav_core.encoders.train import train_sync


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="motion-detonset")
    p.add_argument("--world", choices=["default", "varied", "mixed"], default="varied")
    p.add_argument("--init", default=None, help="a trained sync model folder to start from")
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--seed", type=int, default=9)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    cfg = replace(sync_preset(a.preset), world=a.world)
    init = load_sync(a.init) if a.init else None
    _, metrics = train_sync(cfg, a.steps, a.out, seed=a.seed, init=init)
    print(metrics)


if __name__ == "__main__":
    main()
