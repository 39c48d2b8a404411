"""Retrieval numbers of a checkpoint's encoders on held-out SynthFoley seeds and the
sync model's event probe (how well v_syn locates audible onsets).

    python experiments/encoders/eval_encoders.py [--checkpoint checkpoints/salsav-synthfoley] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from salsav_core.data.synthfoley import HELDOUT_SEED0
from salsav_core.encoders.evaluation import PROBE_SEED0, semantic_retrieval, sync_event_probe, sync_retrieval
from salsav_core.pipeline import Pipeline


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", default="checkpoints/salsav-synthfoley")
    p.add_argument("--semantic-clips", type=int, default=100)
    p.add_argument("--sync-clips", type=int, default=24)
    p.add_argument("--probe-clips", type=int, default=160)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    pipe = Pipeline.from_pretrained(a.checkpoint)
    res = {}
    t = time.time()
    res["semantic"] = semantic_retrieval(pipe.semantic, range(HELDOUT_SEED0, HELDOUT_SEED0 + a.semantic_clips))
    res["semantic"]["eval_seconds"] = time.time() - t
    print("semantic", json.dumps(res["semantic"], indent=1), flush=True)
    t = time.time()
    res["sync"] = sync_retrieval(pipe.sync, range(HELDOUT_SEED0, HELDOUT_SEED0 + a.sync_clips), duration=8.0)
    res["sync"]["eval_seconds"] = time.time() - t
    print("sync", json.dumps(res["sync"], indent=1), flush=True)
    t = time.time()
    res["sync_event_probe"] = sync_event_probe(pipe.sync, range(PROBE_SEED0, PROBE_SEED0 + a.probe_clips))
    res["sync_event_probe"].update(seed0=PROBE_SEED0, eval_seconds=time.time() - t)
    print("sync_event_probe", json.dumps(res["sync_event_probe"], indent=1), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
