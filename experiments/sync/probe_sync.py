"""Event-probe AP of a sync model's per-frame features (how well v_syn locates audible onsets):
`encoders.evaluation.sync_event_probe` on the probe seeds, in the classic and the varied world.

    python experiments/sync/probe_sync.py runs/sync_motion [--clips 160] [--world default,varied]
"""
from __future__ import annotations

import argparse
import functools
import json
import time

from salsav_core.data.synthfoley import make_clip
from salsav_core.encoders.evaluation import PROBE_SEED0, sync_event_probe
from salsav_core.encoders.pretrained import load_sync
from salsav_core.pipeline import Pipeline


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("folder", help="a sync model folder or a pipeline checkpoint")
    p.add_argument("--clips", type=int, default=160)
    p.add_argument("--world", default="default")
    a = p.parse_args(argv)
    try:
        model = load_sync(a.folder)
    except Exception:                     # a whole pipeline checkpoint
        model = Pipeline.from_pretrained(a.folder).sync
    out = {}
    for world in a.world.split(","):
        t = time.time()
        mk = functools.partial(make_clip, world=None if world == "default" else world)
        r = sync_event_probe(model, range(PROBE_SEED0, PROBE_SEED0 + a.clips), make_clip=mk)
        r["seconds"] = round(time.time() - t, 1)
        out[world] = r
        print(world, json.dumps(r), flush=True)
    return out


if __name__ == "__main__":
    main()
