"""Encoder checkpoint folders through `salsav_core.checkpoints`.

`folder/` holds config.json (kind, config, step, history) + model.safetensors (float32
params); `folder/train_state/` holds the optimizer state for resume. Keys are nnx state
paths; loading fills a module built from the config (no pickle, no code in the files).
"""
from __future__ import annotations

import json
import os

from flax import nnx

from salsav_core.checkpoints import (CheckpointError, flat_to_state, load_folder, resolve,
                                     save_folder as _save, state_to_flat)

__all__ = ["CheckpointError", "save_folder", "read_meta", "load_params", "load_train_state", "resolve"]

CONFIG = "config.json"
TRAIN_STATE_DIR = "train_state"


def save_folder(folder: str, meta: dict, model: nnx.Module, optimizer: nnx.Optimizer | None = None):
    """Write the optimizer state first, then model.safetensors + config.json (float32)."""
    if optimizer is not None:
        _save(os.path.join(folder, TRAIN_STATE_DIR), {"step": meta.get("step", 0)},
              state_to_flat(nnx.state(optimizer)), dtype="float32")
    _save(folder, meta, state_to_flat(nnx.state(model, nnx.Param)), dtype="float32")


def read_meta(folder: str) -> dict:
    path = os.path.join(folder, CONFIG)
    if not os.path.isfile(path):
        raise CheckpointError(f"no {CONFIG} in {folder!r}")
    with open(path) as f:
        return json.load(f)


def load_params(folder: str, model: nnx.Module) -> dict:
    """Fill `model` params from the folder in place; returns its config.json."""
    meta, tensors = load_folder(folder)
    nnx.update(model, flat_to_state(nnx.state(model, nnx.Param), tensors))
    return meta


def load_train_state(folder: str, optimizer: nnx.Optimizer) -> bool:
    """Fill optimizer state from folder/train_state; False if there is none."""
    sub = os.path.join(folder, TRAIN_STATE_DIR)
    if not os.path.isfile(os.path.join(sub, CONFIG)):
        return False
    _, tensors = load_folder(sub)
    nnx.update(optimizer, flat_to_state(nnx.state(optimizer), tensors))
    return True
