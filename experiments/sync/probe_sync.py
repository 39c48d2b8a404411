"""Event-probe AP of a sync model's per-frame features (how well v_syn locates audible onsets):
`encoders.evaluation.sync_event_probe` on the probe seeds, in the classic and the varied world,
and (`heldout`) on the eval's independent held-out scenes, read back from their mp4 the way an
upload is read. Nothing trains on the held-out scenes: the ridge probe is fit on some scenes'
features and scored on the others, as a diagnosis of how far a tower's timing transfers.

    python experiments/sync/probe_sync.py runs/sync_motion [--clips 160] [--world default,varied,heldout]
"""
from __future__ import annotations

import argparse
import functools
import json
import time

from salsav_core.data.synthfoley import make_clip
from salsav_core.encoders.evaluation import PROBE_SEED0, event_probe, sync_event_probe
from salsav_core.eval.heldout.scene import make_scene
from salsav_core.eval.heldout.video import model_frames
from salsav_core.metrics import merge_events
from salsav_core.encoders.pretrained import load_sync
from salsav_core.pipeline import Pipeline


def heldout_probe(model, seeds) -> dict:
    """Event probe on held-out scenes: v_syn of the mp4 read back, impact times as onsets."""
    feats, onsets = [], []
    for seed in seeds:
        scene = make_scene(int(seed))
        _, f24 = model_frames(scene, 64, model.cfg.image_size)
        feats.append(model.video_features(f24))
        onsets.append(merge_events([e.time for e in scene.events]))
    return event_probe(feats, onsets)


def main(argv=None):
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__)
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
        seeds = range(PROBE_SEED0, PROBE_SEED0 + a.clips)
        if world == "heldout":
            r = heldout_probe(model, seeds)
        else:
            mk = functools.partial(make_clip, world=None if world == "default" else world)
            r = sync_event_probe(model, seeds, make_clip=mk)
        r["seconds"] = round(time.time() - t, 1)
        out[world] = r
        print(world, json.dumps(r), flush=True)
    return out


if __name__ == "__main__":
    main()
