"""Checkpoint folders: `config.json` + `model.safetensors` (no pickle anywhere).

A checkpoint is a local folder or a Hugging Face Hub repo id; `resolve` turns either into
a local folder (through `snapshot_download`, which honours HF_HUB_OFFLINE and the cache).
Tensors are flat dicts keyed by '/'-joined nnx state paths (`state_to_flat`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.md"]


class CheckpointError(ValueError):
    """A checkpoint that is missing, incomplete or corrupt (message names what and where)."""


def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in {"1", "true", "yes", "on"}


def resolve(path_or_repo_id: str | os.PathLike, revision: str | None = None,
            cache_dir: str | os.PathLike | None = None,
            local_files_only: bool | None = None) -> Path:
    """Local folder as is; otherwise a Hub snapshot folder (download or cache).

    HF_HUB_OFFLINE and HF_HUB_CACHE are read at call time (huggingface_hub reads them once
    at import), so setting them later in the process still takes effect.
    """
    s = os.fspath(path_or_repo_id)
    if os.path.isdir(s):                      # the Hub rejects paths as repo ids: check first
        return Path(s)
    if os.path.exists(s):
        raise CheckpointError(f"checkpoint {s!r} is a file; expected a folder holding "
                              f"{CONFIG_NAME} and {WEIGHTS_NAME}, or a Hub repo id")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (HFValidationError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)
    if local_files_only is None:
        local_files_only = _truthy(os.environ.get("HF_HUB_OFFLINE"))
    if cache_dir is None:
        cache_dir = os.environ.get("HF_HUB_CACHE") or None
    try:
        folder = snapshot_download(s, revision=revision, cache_dir=cache_dir,
                                   allow_patterns=ALLOW_PATTERNS,
                                   local_files_only=local_files_only)
    except HFValidationError:
        raise CheckpointError(f"checkpoint {s!r} is neither an existing folder nor a valid "
                              f"Hub repo id (like 'org/name')") from None
    except LocalEntryNotFoundError:
        how = "offline mode (HF_HUB_OFFLINE=1)" if local_files_only else "no connection to the Hub"
        raise CheckpointError(f"checkpoint {s!r}: not a local folder, and not in the Hugging "
                              f"Face cache ({cache_dir or 'default cache'}) with {how}") from None
    except RevisionNotFoundError:
        raise CheckpointError(f"checkpoint {s!r}: revision {revision!r} not found") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"checkpoint {s!r}: no such Hub repo (or it is private)") from None
    except OSError as e:   # network failures, permissions, full disk
        raise CheckpointError(f"checkpoint {s!r}: could not fetch it ({type(e).__name__}: {e})") from None
    return Path(folder)


def save_folder(folder: str | os.PathLike, config: dict, tensors: dict[str, np.ndarray],
                dtype: str = "float16") -> Path:
    """Write config.json + model.safetensors. Floating tensors of ≥ 2 dims are cast to
    `dtype`; 1-D tensors (biases, norms, gates) stay float32. Returns the folder."""
    from safetensors.numpy import save_file
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, v in tensors.items():
        a = np.asarray(v)
        if np.issubdtype(a.dtype, np.floating):
            a = a.astype(dtype if a.ndim >= 2 else np.float32)
        out[k] = np.array(a, order="C")   # (ascontiguousarray would make 0-d arrays 1-d)
    text = json.dumps(config, indent=2, sort_keys=True, default=_json_default)
    save_file(out, str(folder / WEIGHTS_NAME), metadata={"format": "np"})
    (folder / CONFIG_NAME).write_text(text + "\n")
    return folder


def _json_default(o: Any):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"config value of type {type(o).__name__} is not JSON serialisable")


def load_folder(folder: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """(config dict, tensors as float32 numpy, integer tensors unchanged)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file
    folder = Path(folder)
    cfg_path = folder / CONFIG_NAME
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder {str(folder)!r} does not exist")
    weights = sorted(folder.glob("*.safetensors"))
    missing = [n for n, ok in [(CONFIG_NAME, cfg_path.is_file()), ("*.safetensors", bool(weights))]
               if not ok]
    if missing:
        raise CheckpointError(f"checkpoint {str(folder)!r} is missing {' and '.join(missing)}")
    try:
        config = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {str(folder)!r}: {CONFIG_NAME} is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint {str(folder)!r}: {CONFIG_NAME} must hold a JSON object")
    tensors: dict[str, np.ndarray] = {}
    for w in weights:
        try:
            part = load_file(str(w))
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"checkpoint {str(folder)!r}: {w.name} is corrupt or "
                                  f"truncated ({e})") from None
        for k, v in part.items():
            if k in tensors:
                raise CheckpointError(f"checkpoint {str(folder)!r}: tensor {k!r} appears in two files")
            tensors[k] = v.astype(np.float32) if np.issubdtype(v.dtype, np.floating) else v
    return config, tensors


# ------------------------------------------------------------------ nnx state <-> flat dict

def _is_key_array(x) -> bool:
    import jax
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _leaf_value(v):
    return v.get_value() if hasattr(v, "get_value") else v


def _path_str(path) -> str:
    return "/".join(str(p) for p in path)


def state_to_flat(state) -> dict[str, np.ndarray]:
    """nnx.State (or module) → {'a/0/kernel': array}. RNG key/count state is skipped
    (it is reseeded on load, not a learned weight)."""
    from flax import nnx
    if isinstance(state, nnx.Module):
        state = nnx.state(state)
    flat = {}
    for path, var in nnx.to_flat_state(state):
        if isinstance(var, nnx.RngState):
            continue
        val = _leaf_value(var)
        if _is_key_array(val):
            continue
        flat[_path_str(path)] = np.asarray(val)
    return flat


def flat_to_state(model_or_state, flat: dict[str, np.ndarray], strict: bool = True):
    """Fill an nnx Module (in place, returned) or State (a new one, returned) from `flat`.

    Raises CheckpointError naming missing, unexpected and mis-shaped keys."""
    import jax.numpy as jnp
    from flax import nnx
    is_module = isinstance(model_or_state, nnx.Module)
    state = nnx.state(model_or_state) if is_module else model_or_state
    flat_state = nnx.to_flat_state(state)
    wanted = {}
    for path, var in flat_state:
        if isinstance(var, nnx.RngState) or _is_key_array(_leaf_value(var)):
            continue
        wanted[_path_str(path)] = (path, var)
    _check_keys({k: v for k, (_, v) in wanted.items()}, flat, strict)
    updates = {}
    for k, (path, var) in wanted.items():
        old = _leaf_value(var)
        updates[path] = jnp.asarray(flat[k], dtype=old.dtype)
    new_state = nnx.from_flat_state(
        [(p, (v.replace(updates[p]) if p in updates else v)) for p, v in flat_state])
    if is_module:
        nnx.update(model_or_state, new_state)
        return model_or_state
    return new_state


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f", … (+{len(items) - n})" if len(items) > n else "")


def load_module(factory, flat: dict[str, np.ndarray], key: str | None = None):
    """Build the module `factory()` makes, holding the tensors of `flat`, without running
    its initialisers: its structure comes from an abstract trace (`runtime.abstract_module`,
    cached on disk under `key` when given) and its parameters are the checkpoint's arrays.
    Eager init of a 15M-parameter model takes seconds on this CPU. A module with state
    other than parameters (RNG streams, counters) is built eagerly and filled instead.
    Raises CheckpointError naming missing, unexpected and mis-shaped tensors."""
    import jax
    from flax import nnx

    from salsav_core import runtime
    graphdef, state = runtime.abstract_module(factory, key)
    flat_state = nnx.to_flat_state(state)
    if any(not isinstance(v, nnx.Param) for _, v in flat_state):
        return flat_to_state(factory(), flat)
    _check_keys({_path_str(p): v for p, v in flat_state}, flat)
    values = jax.device_put([np.asarray(flat[_path_str(p)], dtype=_leaf_value(v).dtype)
                             for p, v in flat_state])
    new_state = nnx.from_flat_state([(p, v.replace(x)) for (p, v), x in zip(flat_state, values)])
    return nnx.merge(graphdef, new_state)


def _check_keys(wanted: dict, flat: dict, strict: bool = True) -> None:
    missing = sorted(set(wanted) - set(flat))
    extra = sorted(set(flat) - set(wanted))
    shapes = [f"{k}: checkpoint {tuple(np.shape(flat[k]))} vs model {tuple(np.shape(_leaf_value(v)))}"
              for k, v in wanted.items()
              if k in flat and tuple(np.shape(flat[k])) != tuple(np.shape(_leaf_value(v)))]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensors ({_few(missing)})")
    if extra and strict:
        problems.append(f"{len(extra)} unexpected tensors ({_few(extra)})")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches ({_few(shapes)})")
    if problems:
        raise CheckpointError("checkpoint does not match the model: " + "; ".join(problems))
