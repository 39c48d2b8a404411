"""Generator training speed on this machine: seconds per jitted train step (forward, backward,
Adam, EMA) and samples per second, per preset and batch size, with the step's ratio to one
forward of the same batch (an ideal backward makes it about 3).

    JAX_PLATFORMS=cpu python benchmarks/train_step.py [--presets cpu-tiny] [--batches 16 64]
        [--objective flow] [--reps 8]

The batch is one window of random features (the feature cache's shapes); the time is the best
of `--reps` steps after a compiling one.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from salsav_core.config import SEM_FPS, SYNC_FPS, model_preset, num_frames
from salsav_core.training import TRAIN_PRESETS, init_train_state, make_train_step


def best_of(fn, reps: int) -> float:
    jax.block_until_ready(fn())                         # warm (compile)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t0)
    return min(ts)


def bench(preset: str, batch: int, objective: str, reps: int) -> dict:
    cfg = dataclasses.replace(model_preset(preset), shortcut=objective != "flow")
    tcfg = TRAIN_PRESETS[objective]
    graphdef, state = init_train_state(cfg, tcfg, seed=0)
    rng = np.random.default_rng(0)
    win = cfg.window_frames
    t_vs, t_syn = num_frames(cfg.window_seconds, SEM_FPS), num_frames(cfg.window_seconds, SYNC_FPS)
    data = {"x1": (batch, win, cfg.latent_dim), "sem": (batch, t_vs, cfg.sem_dim),
            "sync": (batch, t_syn, cfg.sync_dim), "text": (batch, cfg.text_dim)}
    data = {k: jnp.asarray(rng.standard_normal(s), jnp.float32) for k, s in data.items()}
    step_fn = make_train_step(graphdef, tcfg)
    key = jax.random.key(0)
    box = {"state": state, "i": 0}

    def one_step():
        box["i"] += 1
        box["state"], metrics = step_fn(box["state"], data, jax.random.fold_in(key, box["i"]))
        return metrics

    step_s = best_of(one_step, reps)
    fwd = jax.jit(lambda p, *a: nnx.merge(graphdef, p)(*a))
    args = (data["x1"], jnp.full((batch,), 0.5), jnp.zeros((batch,)), jnp.zeros((batch, win), bool),
            data["sem"], data["sync"], data["text"], *[jnp.zeros((batch,), bool)] * 3)
    fwd_s = best_of(lambda: fwd(box["state"].params, *args), reps)
    return {"preset": preset, "batch": batch, "step_s": step_s, "samples_per_s": batch / step_s,
            "forward_s": fwd_s, "step_over_forward": step_s / fwd_s}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.add_argument("--presets", nargs="+", default=["cpu-tiny"])
    p.add_argument("--batches", nargs="+", type=int, default=[16, 64])
    p.add_argument("--objective", choices=sorted(TRAIN_PRESETS), default="flow")
    p.add_argument("--reps", type=int, default=8)
    a = p.parse_args(argv)
    print(f"{'preset':10s} {'batch':>5s} {'step':>8s} {'samples/s':>10s} {'forward':>8s} {'step/fwd':>8s}")
    for preset in a.presets:
        for batch in a.batches:
            r = bench(preset, batch, a.objective, a.reps)
            print(f"{preset:10s} {batch:5d} {r['step_s']:7.3f}s {r['samples_per_s']:10.1f} "
                  f"{r['forward_s']:7.3f}s {r['step_over_forward']:8.2f}")


if __name__ == "__main__":
    main()
