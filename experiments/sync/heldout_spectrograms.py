"""Spectrograms of held-out scenes: the true audio and each checkpoint's, impacts marked.

    python experiments/sync/heldout_spectrograms.py --checkpoints checkpoints/salsav-synthfoley \
        runs/gen_stemtime2/gen/pipeline --out runs/heldout_spectrograms.png

Rows: the scenes' own sound, then one per checkpoint (8 steps, guidance 4, the eval's noise).
"""
from __future__ import annotations

import argparse

import matplotlib
import numpy as np
from scipy import signal

from salsav_core.eval.generation import decode
from salsav_core.eval.heldout.scene import make_scene
from salsav_core.eval.heldout.video import model_frames
from salsav_core.eval.scoring import SR
from salsav_core.pipeline import Pipeline

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--scenes", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", required=True)
    a = p.parse_args()
    scenes = [make_scene(i, 5.0) for i in a.scenes]
    rows = [("true audio", [s.audio for s in scenes])]
    for ck in a.checkpoints:
        pipe = Pipeline.from_pretrained(ck)
        sizes = (pipe.semantic.cfg.image_size, pipe.sync.cfg.image_size)
        rows.append((ck, [decode(pipe, pipe.sample(pipe.conditions_from_frames(*model_frames(s, *sizes), ""),
                                                   5.0, 8, 4.0, seed=s.seed), 5.0) for s in scenes]))
    fig, ax = plt.subplots(len(rows), len(scenes), figsize=(5 * len(scenes), 2.7 * len(rows)), squeeze=False)
    for r, (name, waves) in enumerate(rows):
        for c, w in enumerate(waves):
            f, t, S = signal.spectrogram(w, SR, nperseg=1024, noverlap=768)
            ax[r, c].pcolormesh(t, f, 10 * np.log10(S + 1e-12), vmin=-110, vmax=-30, shading="auto")
            ax[r, c].set_ylim(0, 12000)
            for e in scenes[c].events:
                ax[r, c].axvline(e.time, color="w", lw=0.5, alpha=0.6)
            ax[r, c].set_title(f"{name}, scene {scenes[c].seed}", fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=60)


if __name__ == "__main__":
    main()
