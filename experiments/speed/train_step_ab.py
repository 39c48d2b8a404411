"""The generator's CPU train step before and after 2026-12-01's two changes, alternating in one
process: the old attention (scale applied to the (T, T) scores) and the old sync upsampler
(`nnx.ConvTranspose` applied, then resampled) against the product's.

    python experiments/speed/train_step_ab.py [--batch 16] [--rounds 5]

Each round times both versions (best of 6 steps after a compiling one, `cpu-tiny`, plain flow).
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from salsav_core.config import SEM_FPS, SYNC_FPS, model_preset, num_frames
from salsav_core.model import blocks, layers, sync_upsample
from salsav_core.training import TRAIN_PRESETS, init_train_state, make_train_step


def old_attention(q, k, v, pos):
    q, k, v = (jnp.swapaxes(x, 1, 2) for x in (q, k, v))
    q, k = layers.rope(q, pos), layers.rope(k, pos)
    scores = jnp.einsum("bntd,bnsd->bnts", q, k) * (q.shape[-1] ** -0.5)
    out = jnp.einsum("bnts,bnsd->btnd", jax.nn.softmax(scores, axis=-1), v)
    return out.reshape(*out.shape[:2], -1)


def old_upsample(self, v_syn, n_out):
    w_cubic = jnp.asarray(sync_upsample.cubic_weights(n_out, v_syn.shape[1], SYNC_FPS))
    interp = jnp.einsum("as,bsd->bad", w_cubic, v_syn)
    learned = self.up(v_syn)
    w_lin = jnp.asarray(sync_upsample.linear_weights(n_out, learned.shape[1], SYNC_FPS * self.stride))
    learned = jnp.einsum("as,bsd->bad", w_lin, learned)
    return self.norm(jax.lax.stop_gradient(interp)) + jnp.tanh(self.gate[...]) * learned


VERSIONS = {"old": (old_attention, old_upsample),
            "new": (layers.attention, sync_upsample.SyncUpsample.__call__)}


def step_seconds(batch: int, reps: int = 6) -> float:
    cfg = dataclasses.replace(model_preset("cpu-tiny"), shortcut=False)
    tcfg = TRAIN_PRESETS["flow"]
    graphdef, state = init_train_state(cfg, tcfg, seed=0)
    rng = np.random.default_rng(0)
    t_vs, t_syn = num_frames(cfg.window_seconds, SEM_FPS), num_frames(cfg.window_seconds, SYNC_FPS)
    shapes = {"x1": (cfg.window_frames, cfg.latent_dim), "sem": (t_vs, cfg.sem_dim),
              "sync": (t_syn, cfg.sync_dim), "text": (cfg.text_dim,)}
    data = {k: jnp.asarray(rng.standard_normal((batch, *s)), jnp.float32) for k, s in shapes.items()}
    step = make_train_step(graphdef, tcfg)
    key = jax.random.key(0)
    times = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        state, metrics = step(state, data, jax.random.fold_in(key, i))
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t0)
    return min(times[1:])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args(argv)
    times = {name: [] for name in VERSIONS}
    try:
        for _ in range(a.rounds):
            for name, (attention, upsample) in VERSIONS.items():
                blocks.attention = attention                  # the blocks call this name
                sync_upsample.SyncUpsample.__call__ = upsample
                times[name].append(step_seconds(a.batch))
    finally:
        blocks.attention, sync_upsample.SyncUpsample.__call__ = VERSIONS["new"]
    for name, ts in times.items():
        print(f"batch {a.batch} {name}: " + " ".join(f"{t:.3f}" for t in ts)
              + f"  best {min(ts):.3f} s, median {float(np.median(ts)):.3f} s")


if __name__ == "__main__":
    main()
