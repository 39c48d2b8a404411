"""Load trained encoders from a checkpoint folder (config.json + model.safetensors)."""
from __future__ import annotations

from flax import nnx

from .presets import SemanticConfig, SyncConfig
from .semantic import SemanticEncoder
from .state_io import CheckpointError, load_params, read_meta, resolve
from .sync import SyncModel


def load_semantic(folder: str) -> SemanticEncoder:
    """Folder or Hub repo id -> trained SemanticEncoder."""
    folder = str(resolve(folder))
    meta = read_meta(folder)
    if meta.get("kind") != "semantic":
        raise CheckpointError(f"{folder!r} holds a {meta.get('kind')!r} encoder, not 'semantic'")
    model = SemanticEncoder(SemanticConfig.from_dict(meta["config"]), nnx.Rngs(0))
    load_params(folder, model)
    return model


def load_sync(folder: str) -> SyncModel:
    """Folder or Hub repo id -> trained SyncModel."""
    folder = str(resolve(folder))
    meta = read_meta(folder)
    if meta.get("kind") != "sync":
        raise CheckpointError(f"{folder!r} holds a {meta.get('kind')!r} encoder, not 'sync'")
    model = SyncModel(SyncConfig.from_dict(meta["config"]), nnx.Rngs(0))
    load_params(folder, model)
    return model
