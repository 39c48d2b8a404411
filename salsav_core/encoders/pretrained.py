"""Load trained encoders from a checkpoint folder (config.json + model.safetensors)."""
from __future__ import annotations

from flax import nnx

from .presets import SemanticConfig, SyncConfig
from .semantic import SemanticEncoder
from .state_io import CheckpointError, load_params, read_meta, resolve
from .motion import MotionSyncModel
from .sync import SyncModel


def make_sync(cfg: SyncConfig, rngs: nnx.Rngs) -> SyncModel:
    """The sync model class that `cfg.tower` names."""
    return MotionSyncModel(cfg, rngs) if cfg.tower == "motion" else SyncModel(cfg, rngs)


def _load(folder: str, kind: str, cfg_cls, model_cls):
    folder = str(resolve(folder))
    meta = read_meta(folder)
    if meta.get("kind") != kind:
        raise CheckpointError(f"{folder!r} holds a {meta.get('kind')!r} encoder, not {kind!r}")
    model = model_cls(cfg_cls.from_dict(meta["config"]), nnx.Rngs(0))
    load_params(folder, model)
    return model


def load_semantic(folder: str) -> SemanticEncoder:
    """Folder or Hub repo id -> trained SemanticEncoder."""
    return _load(folder, "semantic", SemanticConfig, SemanticEncoder)


def load_sync(folder: str) -> SyncModel:
    """Folder or Hub repo id -> trained sync model (either tower)."""
    return _load(folder, "sync", SyncConfig, make_sync)
