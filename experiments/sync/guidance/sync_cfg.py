"""Sync guidance sweep: a second classifier-free guidance term on the sync features alone.

    v = v_u + g (v_c - v_u) + s (v_c - v_ns)

v_c: all conditions; v_u: none (the product's unconditional branch); v_ns: all conditions but
the sync features (the training drops each condition on its own, so the model knows this
branch). s = 0 is the product's sampler. The sweep runs the bundle (or --checkpoint) on the
same clips and noise for each s and prints R@50 / P@50 / onsets per event, paired against the
first s, on SynthFoley test clips or the eval's held-out scenes.

    python experiments/sync/guidance/sync_cfg.py --clips 32 --weights 0,1,2 [--world heldout]
"""
from __future__ import annotations

import json
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from salsav_core.config import latent_frames
from salsav_core.eval.config import EvalConfig
from salsav_core.pipeline import Pipeline
from salsav_core.sampler import _model_step, step_sizes
from sweep import load_world, parser, run_settings   # the onset guidance sweep beside this script (sys.path[0])


@partial(jax.jit, static_argnums=0)
def _loop(graphdef, state, x0, sem, sync, dts, text, null_text, guidance, sync_guidance):
    """x0 (1,T,C); one clip, no reference. Branches: [cond, no sync, uncond]."""
    model = nnx.merge(graphdef, state)
    yes, no = jnp.ones((1,), bool), jnp.zeros((1,), bool)
    sem3, sync3 = jnp.concatenate([sem] * 3), jnp.concatenate([sync] * 3)
    text3 = jnp.concatenate([text, text, null_text])
    drop_sem = jnp.concatenate([no, no, yes])
    drop_sync = jnp.concatenate([no, yes, yes])
    drop_text = jnp.concatenate([no, no, yes])
    mask3 = jnp.zeros((3, x0.shape[1]), bool)
    ts = jnp.cumsum(dts) - dts

    def step(i, x):
        d = dts[i]
        v = model(jnp.concatenate([x] * 3), jnp.full((3,), ts[i]), jnp.full((3,), _model_step(d)), mask3,
                  sem3, sync3, text3, drop_sem, drop_sync, drop_text)
        v_c, v_ns, v_u = v[0:1], v[1:2], v[2:3]
        v = v_u + guidance * (v_c - v_u) + sync_guidance * (v_c - v_ns)
        return x + d * v

    return jax.lax.fori_loop(0, len(dts), step, x0)


def sample(pipe, cond, n_frames: int, steps: int, guidance: float, sync_guidance: float, seed: int):
    graphdef, state = pipe._graph
    x0 = jax.random.normal(jax.random.key(seed), (1, n_frames, pipe.cfg.latent_dim))
    dts = jnp.asarray(step_sizes(steps, "uniform"), jnp.float32)
    out = _loop(graphdef, state, x0, jnp.asarray(cond.sem[None]), jnp.asarray(cond.sync[None]), dts,
                jnp.asarray(cond.text[None]), jnp.asarray(pipe.null_text[None]), jnp.float32(guidance),
                jnp.float32(sync_guidance))
    return np.asarray(out[0])


def main():
    ap = parser()
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--weights", default="0,1,2",
                    help="sync guidance weights s, or g:s pairs (guidance g, sync guidance s)")
    a = ap.parse_args()
    pipe = Pipeline.from_pretrained(a.checkpoint)
    cfg = EvalConfig(clips=a.clips)
    clips, conds = load_world(pipe, a.world, a.clips, cfg)
    runs = [tuple(float(v) for v in w.split(":")) if ":" in w else (a.guidance, float(w))
            for w in a.weights.split(",")]

    def setting(g, s):
        return lambda i, clip, cond: sample(pipe, cond, latent_frames(clip.duration), a.steps, g, s, i)
    keys = ("sync_recall_50ms", "sync_precision_50ms", "sync_recall_25ms", "onsets_per_event", "swsd")
    res = run_settings(pipe, clips, conds, cfg, {f"{g:g}:{s:g}": setting(g, s) for g, s in runs}, keys)
    if a.out:
        json.dump(res, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
