"""Sampler speed on this machine: ms per forward, wall time and real-time factor for 1..32 steps
with CFG (long-form windows as configured), 8-vs-32 ratio, achieved FLOP/s vs a matmul peak,
and the share of a forward's FLOPs that does not change across steps (conditions only).

    JAX_PLATFORMS=cpu python benchmarks/sampler.py [--presets cpu-small cpu-wide cpu-tiny] [--seconds 10]
    python benchmarks/sampler.py --xla-sweep        # each XLA_FLAGS candidate in its own process,
                                                    # interleaved, forward and 8-step wall each
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from salsav_core.config import SEM_FPS, SYNC_FPS, latent_frames, model_preset, num_frames
from salsav_core.model import SalsaV
from salsav_core.sampler import Conditions, sample_long, window_starts


FORWARD_REPS = 30   # a forward is ~20 ms: the best of 5 still carried scheduler noise (19-24 ms)


def best_time(fn, reps: int = 3) -> float:
    fn()                                                # warm (compile)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def matmul_peak(n: int = 4096) -> float:
    """f32 n x n matmul FLOP/s, best of 7 (best of 3 moved by 15 % between runs: 156-182)."""
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda x, y: x @ y)
    t = best_time(lambda: f(a, a).block_until_ready(), reps=7)
    return 2 * n**3 / t


def bench(preset: str, seconds: float, peak: float) -> None:
    cfg = model_preset(preset)
    model = SalsaV(cfg, nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    n_params = sum(x.size for x in jax.tree.leaves(state))
    win = cfg.window_frames
    t_vs, t_syn = num_frames(cfg.window_seconds, SEM_FPS), num_frames(cfg.window_seconds, SYNC_FPS)
    b = 2                                               # CFG: conditional + unconditional branch
    args = (jnp.zeros((b, win, cfg.latent_dim)), jnp.full((b,), 0.5), jnp.full((b,), 0.125),
            jnp.zeros((b, win), bool), jnp.zeros((b, t_vs, cfg.sem_dim)), jnp.zeros((b, t_syn, cfg.sync_dim)),
            jnp.zeros((b, cfg.text_dim)), *[jnp.zeros((b,), bool)] * 3)
    fwd = jax.jit(lambda s, *a: nnx.merge(graphdef, s)(*a))
    flops = fwd.lower(state, *args).compile().cost_analysis()
    flops = (flops[0] if isinstance(flops, list) else flops).get("flops", float("nan"))
    t_fwd = best_time(lambda: fwd(state, *args).block_until_ready(), reps=FORWARD_REPS)
    n = latent_frames(seconds)
    n_win = len(window_starts(n, win, latent_frames(cfg.overlap_seconds)))
    print(f"\n== {preset}: {n_params / 1e6:.2f}M params, hidden {cfg.hidden}, "
          f"{cfg.mm_blocks}({cfg.mm_self_attn_blocks})+{cfg.dit_blocks} blocks, window "
          f"{cfg.window_seconds:g} s = {win} latent + {t_vs} video tokens, {seconds:g} s audio = {n_win} windows")
    print(f"forward (B=2, one window): {t_fwd * 1e3:.1f} ms, {flops / 1e9:.2f} GFLOP -> "
          f"{flops / t_fwd / 1e9:.1f} GFLOP/s = {100 * flops / t_fwd / peak:.0f}% of matmul peak")
    rng = np.random.default_rng(0)
    cond = Conditions(rng.normal(size=(num_frames(seconds, SEM_FPS), cfg.sem_dim)).astype(np.float32),
                      rng.normal(size=(num_frames(seconds, SYNC_FPS), cfg.sync_dim)).astype(np.float32),
                      rng.normal(size=(cfg.text_dim,)).astype(np.float32))
    walls = {}
    for steps in (1, 2, 4, 8, 16, 32):
        walls[steps] = best_time(lambda: sample_long((graphdef, state), cond, n, steps=steps, guidance=4.0),
                                 reps=2 if steps <= 8 else 1)
        print(f"  {steps:2d} steps + CFG: {walls[steps]:7.2f} s wall, real-time factor "
              f"{seconds / walls[steps]:6.2f}x  ({walls[steps] / (steps * n_win) * 1e3:.0f} ms per step-window)")
    print(f"  8 steps / 32 steps wall-time ratio: {walls[8] / walls[32]:.3f}")


def invariant_share(preset: str) -> float:
    """FLOPs of the per-window constant part of a forward (condition projections, sync
    upsampling, video token embedding) over the whole forward's, from XLA's cost analysis."""
    cfg = model_preset(preset)
    model = SalsaV(cfg, nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    b, win = 2, cfg.window_frames
    t_vs, t_syn = num_frames(cfg.window_seconds, SEM_FPS), num_frames(cfg.window_seconds, SYNC_FPS)
    sem, sync, text = (jnp.zeros((b, t_vs, cfg.sem_dim)), jnp.zeros((b, t_syn, cfg.sync_dim)),
                       jnp.zeros((b, cfg.text_dim)))

    def const(st, sem, sync, text):
        m = nnx.merge(graphdef, st)
        return (m.text_proj(text) + m.sem_pool_proj(sem.mean(axis=1)),
                m.sync_proj(m.sync_up(sync, win)), m.sem_proj(sem))

    def full(st, x, sem, sync, text):
        return nnx.merge(graphdef, st)(x, jnp.full((b,), 0.5), jnp.full((b,), 0.125),
                                       jnp.zeros((b, win), bool), sem, sync, text,
                                       *[jnp.zeros((b,), bool)] * 3)

    def flops(f, *a):
        c = jax.jit(f).lower(*a).compile().cost_analysis()
        return (c[0] if isinstance(c, list) else c).get("flops", float("nan"))
    return flops(const, state, sem, sync, text) / flops(full, state, jnp.zeros((b, win, cfg.latent_dim)),
                                                         sem, sync, text)


SWEEP = {
    "default": "",
    "legacy runtime": "--xla_cpu_use_thunk_runtime=false",
    "fast math": "--xla_cpu_enable_fast_math=true",
    "xnnpack": "--xla_cpu_use_xnnpack=true",
    "one eigen thread": "--xla_cpu_multi_thread_eigen=false",
}


def sweep_child(preset: str, seconds: float) -> dict:
    cfg = model_preset(preset)
    graphdef, state = nnx.split(SalsaV(cfg, nnx.Rngs(0)))
    b, win = 2, cfg.window_frames
    t_vs, t_syn = num_frames(cfg.window_seconds, SEM_FPS), num_frames(cfg.window_seconds, SYNC_FPS)
    args = (jnp.zeros((b, win, cfg.latent_dim)), jnp.full((b,), 0.5), jnp.full((b,), 0.125),
            jnp.zeros((b, win), bool), jnp.zeros((b, t_vs, cfg.sem_dim)), jnp.zeros((b, t_syn, cfg.sync_dim)),
            jnp.zeros((b, cfg.text_dim)), *[jnp.zeros((b,), bool)] * 3)
    fwd = jax.jit(lambda s, *a: nnx.merge(graphdef, s)(*a))
    c0 = time.process_time()
    t_fwd = best_time(lambda: fwd(state, *args).block_until_ready(), reps=FORWARD_REPS)
    rng = np.random.default_rng(0)
    cond = Conditions(rng.normal(size=(num_frames(seconds, SEM_FPS), cfg.sem_dim)).astype(np.float32),
                      rng.normal(size=(num_frames(seconds, SYNC_FPS), cfg.sync_dim)).astype(np.float32),
                      rng.normal(size=(cfg.text_dim,)).astype(np.float32))
    n = latent_frames(seconds)
    t8 = best_time(lambda: sample_long((graphdef, state), cond, n, steps=8, guidance=4.0), reps=2)
    return {"forward_ms": t_fwd * 1e3, "steps8_s": t8, "cpu_s": time.process_time() - c0}


def xla_sweep(preset: str, seconds: float, rounds: int = 2) -> None:
    """Each flag set in fresh processes (XLA reads XLA_FLAGS once), interleaved over `rounds`
    so that load changes on this shared machine hit every variant alike; best per variant."""
    res: dict[str, list[dict]] = {k: [] for k in SWEEP}
    for _ in range(rounds):
        for name, flags in SWEEP.items():
            env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
            r = subprocess.run([sys.executable, __file__, "--sweep-child", "--presets", preset,
                                "--seconds", str(seconds)], capture_output=True, text=True, env=env)
            if r.returncode == 0:
                res[name].append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"\n| XLA_FLAGS ({preset}, {seconds:g} s, best of {rounds} processes) | forward (B=2) | "
          f"8 steps | vs default |\n|---|---|---|---|")
    base = min((d["steps8_s"] for d in res["default"]), default=float("nan"))
    for name, runs in res.items():
        if not runs:
            print(f"| {name} `{SWEEP[name]}` | failed | | |")
            continue
        f, t = min(d["forward_ms"] for d in runs), min(d["steps8_s"] for d in runs)
        print(f"| {name} `{SWEEP[name]}` | {f:.1f} ms | {t:.2f} s | {t / base:.2f}× |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--presets", nargs="+", default=["cpu-small", "cpu-wide", "cpu-tiny"])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--xla-sweep", action="store_true", help="compare XLA_FLAGS candidates")
    p.add_argument("--sweep-child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.sweep_child:
        print(json.dumps(sweep_child(a.presets[0], a.seconds)))
        return
    if a.xla_sweep:
        xla_sweep(a.presets[0], a.seconds)
        return
    print(f"load average (1/5/15 min): {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    peak = matmul_peak()
    print(f"device {jax.devices()[0].device_kind}; measured f32 4096^2 matmul peak: {peak / 1e9:.1f} GFLOP/s")
    for name in a.presets:
        bench(name, a.seconds, peak)
        print(f"  per-window constant part of a forward: {100 * invariant_share(name):.1f}% of its FLOPs")


if __name__ == "__main__":
    main()
