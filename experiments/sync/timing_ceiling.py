"""How much onset timing is in the pixels, and how much of it reaches v_syn? (diagnostic)

Two per-frame onset detectors, scored like `encoders.evaluation.event_probe` (frames within
±1 frame of an audible onset are positives; AP on the 160 event-probe clips, seeds 2·10⁶…):

    python experiments/sync/timing_ceiling.py pixels --clips 600 --steps 1500     # ~35 min on 2 cores
    python experiments/sync/timing_ceiling.py features --sync checkpoints/salsav-synthfoley --clips 600

`pixels` trains a small *supervised* conv net on the 64 px frames (RGB + frame difference,
four stride-2 convs, two temporal convs), an upper-ish bound on what a video encoder could
tell the generator; real videos have no event labels, so this is not a product part.
`features` trains a 2-layer MLP on the sync model's v_syn (±2 frames of context), a
nonlinear version of the ridge probe. `pixels` also reports peak onsets on 128 validation
clips (seeds 10⁹ + 900,000…): R@50 / P@50 by one-to-one matching (as `salsav eval`) and by
the looser nearest-peak rule (`recall_precision`), the threshold picked for F1 on the probe
clips.
"""
from __future__ import annotations

import argparse
import time

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from salsav_core import metrics
from salsav_core.config import SYNC_FPS
from salsav_core.data.synthfoley import make_clip
from salsav_core.encoders.evaluation import PROBE_SEED0, _context, average_precision, event_frames
from sync_sweep import load_any_sync   # the script beside this one (sys.path[0])

TRAIN_SEED0, VAL_SEED0 = 7_000_000, 1_000_900_000


def labelled(seeds):
    """[(frames (T,64,64,3) u8, labels (T,), onsets)] for SynthFoley seeds."""
    out = []
    for s in seeds:
        c = make_clip(int(s), 5.0)
        on = metrics.merge_events([e.time for e in c.events])
        out.append((c.frames, event_frames(on, len(c.frames)), on))
    return out


class PixelDetector(nnx.Module):
    def __init__(self, r: nnx.Rngs):
        self.convs = nnx.List([nnx.Conv(a, b, (3, 3), strides=2, rngs=r)
                               for a, b in ((6, 24), (24, 48), (48, 64), (64, 64))])
        self.fc = nnx.Linear(4 * 4 * 64, 128, rngs=r)
        self.t1 = nnx.Conv(128, 128, (5,), rngs=r)
        self.t2 = nnx.Conv(128, 128, (5,), rngs=r)
        self.out = nnx.Linear(128, 1, rngs=r)

    def __call__(self, x):  # (B, T, 64, 64, 3) in [-1, 1] -> (B, T) onset logits
        b, t = x.shape[:2]
        d = jnp.concatenate([jnp.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], 1)
        h = jnp.concatenate([x, d], -1).reshape(b * t, 64, 64, 6)
        for c in self.convs:
            h = nnx.gelu(c(h))                                                       # -> (B*T, 4, 4, 64)
        h = nnx.gelu(self.fc(h.reshape(b, t, -1)))                                   # (B, T, 128)
        h = h + nnx.gelu(self.t1(h))
        h = h + nnx.gelu(self.t2(h))
        return self.out(h)[..., 0]


class FeatureMLP(nnx.Module):
    def __init__(self, d: int, r: nnx.Rngs):
        self.a, self.b, self.o = nnx.Linear(d, 256, rngs=r), nnx.Linear(256, 256, rngs=r), nnx.Linear(256, 1, rngs=r)

    def __call__(self, x):  # (..., d) -> (...) onset logits
        return self.o(nnx.gelu(self.b(nnx.gelu(self.a(x)))))[..., 0]


def fit(model, steps: int, batch_fn, lr: float, wd: float, warmup: int = 0, log=None):
    sched = (optax.warmup_cosine_decay_schedule(0, lr, warmup, steps) if warmup
             else optax.cosine_decay_schedule(lr, steps))
    opt = nnx.Optimizer(model, optax.adamw(sched, weight_decay=wd), wrt=nnx.Param)

    @nnx.jit
    def step(m, opt, x, y):
        loss, g = nnx.value_and_grad(lambda m: optax.sigmoid_binary_cross_entropy(m(x), y).mean())(m)
        opt.update(m, g)
        return loss
    for i in range(steps):
        loss = step(model, opt, *batch_fn(i))
        if log and i % 200 == 0:
            log(f"step {i} loss {float(loss):.4f}")


def peaks(s, th):
    return np.array([i / SYNC_FPS for i in range(len(s))
                     if s[i] > th and s[i] >= s[max(i - 1, 0)] and s[i] >= s[min(i + 1, len(s) - 1)]])


def recall_precision(onsets, scores, th) -> dict:
    """Pooled R@50 / P@50 of the score peaks above `th`, by two rules:
    `one_to_one` (metrics.sync_scores, as `salsav eval` scores the generator) and `nearest`
    (a true onset counts when any peak is within 50 ms, and those hits are divided by the
    peaks: the looser rule of the earlier read-outs, kept so that they can be compared)."""
    hit = n_true = n_pred = matched = 0
    for o, s in zip(onsets, scores):
        p, o = peaks(s, th), np.asarray(o)
        if len(o):
            hit += ((np.abs(o[:, None] - p[None]).min(1) if len(p) else np.full(len(o), 9.0)) <= 0.05).sum()
        matched += metrics.sync_scores(o, p)["n_matched"]
        n_true, n_pred = n_true + len(o), n_pred + len(p)
    return {"one_to_one": (matched / max(n_true, 1), matched / max(n_pred, 1)),
            "nearest": (hit / max(n_true, 1), hit / max(n_pred, 1))}


def report_ap(scores, labels, log):
    log("AP on all 160 probe clips %.3f, on the ridge probe's 40 test clips %.3f" % (
        average_precision(np.concatenate(scores), np.concatenate(labels)),
        average_precision(np.concatenate(scores[120:]), np.concatenate(labels[120:]))))


def main(argv=None):
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["pixels", "features"])
    p.add_argument("--sync", default="checkpoints/salsav-synthfoley", help="features: pipeline or sync folder")
    p.add_argument("--clips", type=int, default=600, help="training clips (seeds 7e6…)")
    p.add_argument("--steps", type=int, default=None, help="default: 1500 (pixels), 3000 (features)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    log = lambda m: print(f"[{time.perf_counter() - t0:7.1f}s] {m}", flush=True)  # noqa: E731
    rng = np.random.default_rng(0)
    tr = labelled(range(TRAIN_SEED0, TRAIN_SEED0 + a.clips))
    pr = labelled(range(PROBE_SEED0, PROBE_SEED0 + 160))
    f32 = lambda fr: fr.astype(np.float32) / 127.5 - 1                              # noqa: E731
    if a.mode == "pixels":
        steps = a.steps or 1500
        va = labelled(range(VAL_SEED0, VAL_SEED0 + 128))
        m = PixelDetector(nnx.Rngs(0))

        def batch(_):
            idx = rng.integers(0, len(tr), 6)
            return (jnp.asarray(np.stack([f32(tr[j][0]) for j in idx])), jnp.asarray(np.stack([tr[j][1] for j in idx])))
        fit(m, steps, batch, 1e-3, 1e-4, warmup=min(100, steps // 2), log=log)
        pred = nnx.jit(lambda m, x: m(x))
        score = lambda fr: np.asarray(pred(m, jnp.asarray(f32(fr)[None])))[0]         # noqa: E731
        sp = [score(c[0]) for c in pr]
        report_ap(sp, [c[1] for c in pr], log)
        rule = lambda th: recall_precision([c[2] for c in pr], sp, th)["nearest"]    # noqa: E731
        th = max(np.linspace(-3, 2, 26), key=lambda th: (lambda r, q: 2 * r * q / max(r + q, 1e-9))(*rule(th)))
        rp = recall_precision([c[2] for c in va], [score(c[0]) for c in va], th)
        log(f"val 128 clips, threshold {th:.2f} from the probe clips: peak R@50 / P@50 "
            f"{rp['one_to_one'][0]:.3f} / {rp['one_to_one'][1]:.3f} one-to-one, "
            f"{rp['nearest'][0]:.3f} / {rp['nearest'][1]:.3f} by the nearest-peak rule")
    else:
        steps = a.steps or 3000
        sm = load_any_sync(a.sync)
        ctx = lambda c: _context(np.asarray(sm.video_features(c[0]), np.float32), 2)  # noqa: E731
        x = np.concatenate([ctx(c) for c in tr])
        y = np.concatenate([c[1] for c in tr])
        mu, sd = x.mean(0), x.std(0) + 1e-6
        x = (x - mu) / sd
        m = FeatureMLP(x.shape[1], nnx.Rngs(0))

        def batch(_):
            j = rng.integers(0, len(x), 512)
            return jnp.asarray(x[j]), jnp.asarray(y[j])
        fit(m, steps, batch, 1e-3, 1e-3)
        report_ap([np.asarray(m(jnp.asarray((ctx(c) - mu) / sd))) for c in pr], [c[1] for c in pr], log)


if __name__ == "__main__":
    main()
