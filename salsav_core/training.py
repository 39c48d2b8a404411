"""Training: optax Adam + EMA train state and a data-parallel jitted `train_step`.

The model is split once (`nnx.split`); the step is a pure `jax.jit` function over the param
state. With a mesh, the batch is sharded on the `data` axis and params / optimizer / EMA are
replicated (NamedSharding); XLA inserts the gradient all-reduce. One device works the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from .config import ModelConfig
from .model import SalsaV
from .objective import make_targets, masked_mse, onset_weights, sample_drops, sample_ref_mask


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-4
    b1: float = 0.9
    b2: float = 0.999
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    shortcut_frac: float = 0.25      # fraction of each batch with self-consistency targets
    bootstrap_ema: bool = True       # teacher = EMA params (else the current params)
    shortcut_levels: int = 7         # d in {1, 1/2, ..., 1/64}; 1/128 = the flow level
    cond_drop: float = 0.1
    mask_prob: float = 0.25
    mask_min: int = 1
    mask_max: int = 88
    t_mean: float = 0.0
    t_std: float = 1.0
    onset_weight: float = 0.0        # >0: transient frames weigh more in the loss (objective.onset_weights)

    def n_shortcut(self, batch_size: int) -> int:
        return int(round(batch_size * self.shortcut_frac))


TRAIN_PRESETS = {
    "paper": TrainConfig(),
    "flow": TrainConfig(shortcut_frac=0.0),      # plain flow matching baseline
}


class TrainState(NamedTuple):
    step: jax.Array
    params: nnx.State
    ema: nnx.State
    opt_state: optax.OptState


def make_optimizer(tcfg: TrainConfig) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(tcfg.grad_clip), optax.adam(tcfg.lr, tcfg.b1, tcfg.b2))


def make_mesh(devices=None) -> Mesh:
    """1-D mesh with a `data` axis over all local devices (or the given ones)."""
    devices = jax.local_devices() if devices is None else devices
    return Mesh(np.asarray(devices), ("data",))


def replicate(tree, mesh: Mesh):
    return jax.device_put(tree, NamedSharding(mesh, P()))


def shard_batch(batch: dict, mesh: Mesh) -> dict:
    n = mesh.shape["data"]
    for k, v in batch.items():
        if v.shape[0] % n:
            raise ValueError(f"batch[{k!r}] size {v.shape[0]} not divisible by {n} devices")
    return jax.device_put(batch, NamedSharding(mesh, P("data")))


def init_train_state(cfg: ModelConfig, tcfg: TrainConfig, seed: int = 0, mesh: Mesh | None = None,
                     model: SalsaV | None = None):
    """Build (or take) the model and return (graphdef, TrainState)."""
    model = SalsaV(cfg, nnx.Rngs(seed)) if model is None else model
    graphdef, params = nnx.split(model)
    state = TrainState(jnp.zeros((), jnp.int32), params, jax.tree.map(jnp.copy, params),
                       make_optimizer(tcfg).init(params))
    return graphdef, (replicate(state, mesh) if mesh is not None else state)


def _apply(graphdef):
    def f(params, *args):
        return nnx.merge(graphdef, params)(*args)
    return f


def loss_fn(params, teacher_params, graphdef, batch: dict, key, tcfg: TrainConfig):
    """Masked flow + shortcut loss for one batch. Returns (loss, metrics)."""
    apply = _apply(graphdef)
    x1 = batch["x1"]                                                      # (B, T_a, C)
    b, t_len, _ = x1.shape
    k_mask, k_drop, k_tgt = jax.random.split(key, 3)
    ref_mask = sample_ref_mask(k_mask, b, t_len, tcfg.mask_prob, tcfg.mask_min, tcfg.mask_max)
    drops = sample_drops(k_drop, b, tcfg.cond_drop)
    conds = (batch["sem"], batch["sync"], batch["text"])
    teacher = lambda *a: apply(teacher_params, *a)                       # noqa: E731
    tg = make_targets(k_tgt, teacher, x1, ref_mask, conds, drops, tcfg.n_shortcut(b),
                      tcfg.shortcut_levels, tcfg.t_mean, tcfg.t_std)
    pred = apply(params, tg.x_t, tg.t, tg.d, ref_mask, *conds, *drops)
    w = onset_weights(x1, tcfg.onset_weight) if tcfg.onset_weight > 0 else None   # (B, T_a)
    loss = masked_mse(pred, tg.target, ref_mask, w)
    sc = tg.is_shortcut[:, None]
    metrics = dict(loss=loss,
                   flow_loss=masked_mse(pred, tg.target, ref_mask | sc),
                   shortcut_loss=masked_mse(pred, tg.target, ref_mask | ~sc))
    return loss, metrics


def make_train_step(graphdef, tcfg: TrainConfig, mesh: Mesh | None = None):
    """Jitted `train_step(state, batch, key) -> (state, metrics)`; batch = dict(x1, sem, sync, text)."""
    tx = make_optimizer(tcfg)

    def train_step(state: TrainState, batch: dict, key):
        teacher = state.ema if tcfg.bootstrap_ema else state.params
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, teacher, graphdef, batch, key, tcfg)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema = jax.tree.map(lambda e, p: tcfg.ema_decay * e + (1 - tcfg.ema_decay) * p, state.ema, params)
        metrics["grad_norm"] = optax.tree.norm(grads)
        return TrainState(state.step + 1, params, ema, opt_state), metrics

    if mesh is None:
        return jax.jit(train_step, donate_argnums=0)
    rep, data = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    return jax.jit(train_step, in_shardings=(rep, data, rep), out_shardings=(rep, rep), donate_argnums=0)


def model_from_state(graphdef, state: TrainState, ema: bool = True) -> SalsaV:
    """Merge the (EMA) params back into a module, e.g. for sampling or checkpointing."""
    return nnx.merge(graphdef, state.ema if ema else state.params)
