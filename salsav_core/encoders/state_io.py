"""Encoder checkpoint folders: config.json + model.safetensors (+ train_state.safetensors for resume).

Tensors are keyed by their dotted nnx state path; loading fills a freshly built module whose
structure comes from the config, so no pickle and no code in the files.
"""
from __future__ import annotations

import json
import os

import jax.numpy as jnp
import numpy as np
from flax import nnx
from safetensors.numpy import load_file, save_file

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TRAIN_STATE = "train_state.safetensors"


class CheckpointError(ValueError):
    """A checkpoint folder that is missing files or does not match the model."""


def state_to_flat(state) -> dict[str, np.ndarray]:
    """nnx State -> {"a.b.0.c": array}."""
    return {".".join(str(k) for k in path): np.asarray(var.get_value())
            for path, var in nnx.to_flat_state(state)}


def fill_state(state, flat: dict[str, np.ndarray], what: str):
    """Write `flat` arrays into a template State (same keys and shapes) and return it."""
    fs = nnx.to_flat_state(state)
    keys = {".".join(str(k) for k in p) for p, _ in fs}
    missing, extra = keys - set(flat), set(flat) - keys
    if missing or extra:
        raise CheckpointError(f"{what}: missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}")
    for path, var in fs:
        arr = flat[".".join(str(k) for k in path)]
        if arr.shape != np.shape(var.get_value()):
            raise CheckpointError(f"{what}: {path} has shape {arr.shape}, expected {np.shape(var.get_value())}")
        var.set_value(jnp.asarray(arr))
    return nnx.from_flat_state(fs)


def save_folder(folder: str, meta: dict, model: nnx.Module, optimizer: nnx.Optimizer | None = None):
    """Write config.json (meta) + model.safetensors (params) [+ train_state.safetensors] atomically."""
    os.makedirs(folder, exist_ok=True)
    save_file(state_to_flat(nnx.state(model, nnx.Param)), os.path.join(folder, WEIGHTS + ".tmp"))
    if optimizer is not None:
        save_file(state_to_flat(nnx.state(optimizer)), os.path.join(folder, TRAIN_STATE + ".tmp"))
    with open(os.path.join(folder, CONFIG + ".tmp"), "w") as f:
        json.dump(meta, f, indent=2)
    names = [WEIGHTS] + ([TRAIN_STATE] if optimizer is not None else []) + [CONFIG]
    for n in names:
        os.replace(os.path.join(folder, n + ".tmp"), os.path.join(folder, n))


def read_meta(folder: str) -> dict:
    path = os.path.join(folder, CONFIG)
    if not os.path.isfile(path):
        raise CheckpointError(f"no {CONFIG} in {folder!r}")
    with open(path) as f:
        return json.load(f)


def load_params(folder: str, model: nnx.Module):
    """Fill `model` params from folder/model.safetensors in place."""
    path = os.path.join(folder, WEIGHTS)
    if not os.path.isfile(path):
        raise CheckpointError(f"no {WEIGHTS} in {folder!r}")
    nnx.update(model, fill_state(nnx.state(model, nnx.Param), load_file(path), "model"))


def load_train_state(folder: str, optimizer: nnx.Optimizer) -> bool:
    """Fill optimizer state from folder/train_state.safetensors; False if there is none."""
    path = os.path.join(folder, TRAIN_STATE)
    if not os.path.isfile(path):
        return False
    nnx.update(optimizer, fill_state(nnx.state(optimizer), load_file(path), "optimizer"))
    return True
