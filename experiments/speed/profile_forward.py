"""Where a generator forward's time goes on the CPU, and the attention layouts compared.

    python experiments/speed/profile_forward.py              # op-time shares of one forward
    python experiments/speed/profile_forward.py --compare    # head-major (the product) vs token-major

The profile sums XLA's per-thunk op time over 20 forwards (B = 2, one 5 s window) by op kind
(YNNPACK fusions = the matmuls with their fused elementwise ops; transpose copies; the rest).
`--compare` times the product's head-major attention against the old token-major one
(`jax.nn.dot_product_attention`), alternating, best of 60 forwards, four rounds.
"""
from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from salsav_core.config import SEM_FPS, SYNC_FPS, model_preset, num_frames
from salsav_core.model import SalsaV, blocks, layers


def token_major_attention(q, k, v, pos):
    """The attention before 2026-12-01: RoPE on (B, T, N, Dh), then jax.nn.dot_product_attention."""
    half = q.shape[-1] // 2
    ang = pos.astype(jnp.float32)[:, None] / (10000.0 ** (jnp.arange(half, dtype=jnp.float32) / half))[None]
    cos, sin = jnp.cos(ang)[None, :, None], jnp.sin(ang)[None, :, None]

    def rot(x):
        return jnp.concatenate([x[..., :half] * cos - x[..., half:] * sin,
                                x[..., :half] * sin + x[..., half:] * cos], axis=-1)
    out = jax.nn.dot_product_attention(rot(q), rot(k), v)
    return out.reshape(*out.shape[:2], -1)


def forward(preset: str):
    """(jitted forward, its args) for one CFG batch of one window, with non-zero weights."""
    cfg = model_preset(preset)
    g, state = nnx.split(SalsaV(cfg, nnx.Rngs(0)))
    state = jax.tree.map(lambda x: x + 0.02 * jax.random.normal(jax.random.key(1), x.shape, x.dtype)
                         if x.ndim == 2 else x, state)
    rng = np.random.default_rng(0)
    b, win = 2, cfg.window_frames
    t_vs, t_syn = num_frames(cfg.window_seconds, SEM_FPS), num_frames(cfg.window_seconds, SYNC_FPS)
    args = (jnp.asarray(rng.normal(size=(b, win, cfg.latent_dim)), jnp.float32), jnp.full((b,), 0.5),
            jnp.full((b,), 0.125), jnp.zeros((b, win), bool),
            jnp.asarray(rng.normal(size=(b, t_vs, cfg.sem_dim)), jnp.float32),
            jnp.asarray(rng.normal(size=(b, t_syn, cfg.sync_dim)), jnp.float32),
            jnp.asarray(rng.normal(size=(b, cfg.text_dim)), jnp.float32), *[jnp.zeros((b,), bool)] * 3)
    return jax.jit(lambda s, *a: nnx.merge(g, s)(*a)), state, args


def best_ms(f, state, args, reps: int) -> float:
    for _ in range(5):
        f(state, *args).block_until_ready()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f(state, *args).block_until_ready()
        ts.append(time.perf_counter() - t)
    return 1e3 * min(ts)


def profile(preset: str, n: int = 20) -> None:
    f, state, args = forward(preset)
    print(f"forward: {best_ms(f, state, args, 30):.1f} ms (best of 30)")
    with tempfile.TemporaryDirectory() as d:
        jax.profiler.start_trace(d, create_perfetto_trace=True)
        for _ in range(n):
            f(state, *args).block_until_ready()
        jax.profiler.stop_trace()
        events = json.load(gzip.open(sorted(glob.glob(f"{d}/**/*.trace.json.gz", recursive=True))[-1]))
    events = events["traceEvents"] if isinstance(events, dict) else events
    kinds = collections.Counter()
    for e in events:
        name = e.get("name", "")
        if e.get("ph") == "X" and ("fusion" in name or name.startswith(("conv", "wrapped"))):
            kinds["ynn_fusion" if name.startswith("ynn") else
                  "transpose copies" if name.startswith("transpose") else "other ops"] += e.get("dur", 0)
    total = sum(kinds.values())
    for k, v in kinds.most_common():
        print(f"  {k:18s} {v / n / 1e3:6.2f} ms per forward ({100 * v / total:.0f} %)")


def compare(preset: str, rounds: int = 4) -> None:
    layouts = {"head-major (product)": layers.attention, "token-major (old)": token_major_attention}
    times = collections.defaultdict(list)
    try:
        for _ in range(rounds):
            for name, fn in layouts.items():
                blocks.attention = fn                          # MMDiT-X and DiT blocks call this name
                f, state, args = forward(preset)
                times[name].append(best_ms(f, state, args, 60))
    finally:
        blocks.attention = layers.attention
    for name, ts in times.items():
        print(f"{name:22s} " + " / ".join(f"{t:.2f}" for t in ts) + " ms")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu-tiny")
    p.add_argument("--compare", action="store_true")
    a = p.parse_args(argv)
    if a.compare:
        compare(a.preset)
    else:
        profile(a.preset)


if __name__ == "__main__":
    main()
