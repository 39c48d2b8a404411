"""THE key test: on a conditional two-mode toy problem, a model trained with the shortcut
objective samples better in 1 and 2 steps than one trained with plain flow matching (same
budget), and the two are about equal at 32 steps.

Toy: 8 latent frames x 4 channels. Sync channel 0 carries a per-clip amplitude a ~ U(-1, 1);
the clip's latent is a·U + e·M with a random mode e in {-1, +1} (U, M fixed patterns, |M| = 2).
Distance = mean squared error of a sample to the nearer of its two true modes; predicting the
mixture mean scores mean(M²) = 4. Tuned for the budget (toy, not the assertions): hidden 64,
lr 3e-3 cosine-decayed to 0, batch 32, 300 steps, 3 shortcut levels (2d in {1, 1/2, 1/4}),
bootstrap from the live params (kvfrans' bootstrap_ema=0 option): 300 steps are too few for an
EMA teacher.

One run per objective is a noisy comparison: with one seed at a constant lr, another CPU's float
rounding swung the 2-step shortcut/flow ratio from about 0.5 to 0.96. So each objective trains
from two seeds and the distances are averaged. Over seeds 0-5 (one run each, cosine lr) the
ratios were 0.30-0.66 at 1 step, 0.52-0.94 at 2 and equal within 0.06 at 32 steps.
"""
import dataclasses

import jax
import numpy as np
import optax
import pytest

from salsav_core.config import LATENT_RATE, MODEL_PRESETS, SEM_FPS, SYNC_FPS, num_frames
from salsav_core.sampler import sample_batch
from salsav_core.training import TrainConfig, init_train_state, make_train_step

T, C = 8, 4
DUR = T / LATENT_RATE
T_VS, T_SYN = num_frames(DUR, SEM_FPS), num_frames(DUR, SYNC_FPS)
_rng = np.random.default_rng(123)
U = np.broadcast_to(_rng.normal(size=(1, C)), (T, C)).astype(np.float32)
M = 2 * np.broadcast_to(np.sign(_rng.normal(size=(1, C))), (T, C)).astype(np.float32)


def toy_batch(rng, b):
    a = rng.uniform(-1, 1, size=(b,)).astype(np.float32)
    e = rng.choice([-1.0, 1.0], size=(b,)).astype(np.float32)
    sync = np.zeros((b, T_SYN, 16), np.float32)
    sync[:, :, 0] = a[:, None]
    batch = dict(x1=a[:, None, None] * U + e[:, None, None] * M, sync=sync,
                 sem=np.zeros((b, T_VS, 16), np.float32), text=np.zeros((b, 16), np.float32))
    return batch, a


def distance(x, a):
    d = [((x - (a[:, None, None] * U + e * M)) ** 2).mean(axis=(1, 2)) for e in (-1.0, 1.0)]
    return float(np.minimum(*d).mean())


def train(cfg, shortcut_frac, seeds=(0, 1), steps=300, b=32):
    """One model per seed (init, data and noise), all through one compiled step."""
    tcfg = TrainConfig(lr=optax.cosine_decay_schedule(3e-3, steps), shortcut_frac=shortcut_frac,
                       shortcut_levels=3, bootstrap_ema=False)
    models, step = [], None
    for seed in seeds:
        graphdef, state = init_train_state(cfg, tcfg, seed=seed)
        step = step or make_train_step(graphdef, tcfg)
        rng = np.random.default_rng(seed)
        for i in range(steps):
            state, _ = step(state, toy_batch(rng, b)[0], jax.random.key(i + 1000 * seed))
        models.append((graphdef, state.params))
    return models


def evaluate(models, n=256):
    """Distance to the nearer mode at 1, 2, 4 and 32 steps, averaged over the models."""
    batch, a = toy_batch(np.random.default_rng(99), n)
    x0 = jax.random.normal(jax.random.key(7), (n, T, C))
    return {s: float(np.mean([distance(np.asarray(sample_batch(m, batch["sem"], batch["sync"],
                                                                batch["text"], x0, s, guidance=1.0)), a)
                              for m in models]))
            for s in (1, 2, 4, 32)}


@pytest.mark.slow
def test_shortcut_beats_flow_matching_in_few_steps():
    cfg = dataclasses.replace(MODEL_PRESETS["test"], latent_dim=C, hidden=64)
    sc = evaluate(train(cfg, 0.25))
    fm = evaluate(train(cfg, 0.0))
    ref = float((M ** 2).mean())           # distance of the mixture mean
    print(f"\ndistance to nearest mode (mixture mean scores {ref:.2f})")
    print("steps   shortcut   flow-matching")
    for s in sc:
        print(f"{s:5d}   {sc[s]:8.3f}   {fm[s]:8.3f}")
    assert sc[1] < 0.7 * fm[1] and sc[2] < 0.9 * fm[2]
    # about equal at 32 steps: both close to the data, gap small against the mode scale
    assert sc[32] < 0.1 * ref and fm[32] < 0.1 * ref
    assert abs(sc[32] - fm[32]) < 0.05 * ref
