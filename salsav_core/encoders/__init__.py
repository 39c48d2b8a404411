"""Semantic image–text encoder and contrastive sync model (stand-ins for SigLIP 2 and the paper's §3.1 model)."""
from .presets import SEMANTIC_PRESETS, SYNC_PRESETS, SemanticConfig, SyncConfig, semantic_preset, sync_preset
from .pretrained import load_semantic, load_sync
from .semantic import EncoderInputError, SemanticEncoder
from .sync import SyncModel

__all__ = ["SEMANTIC_PRESETS", "SYNC_PRESETS", "SemanticConfig", "SyncConfig", "semantic_preset",
           "sync_preset", "load_semantic", "load_sync", "EncoderInputError", "SemanticEncoder", "SyncModel"]
