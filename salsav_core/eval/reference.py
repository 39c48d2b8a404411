"""Section `reference`: the ceilings, the detector on the true audio and on the codec round trip."""
from __future__ import annotations

from .config import EvalConfig
from .generation import score_clip, decode
from .scoring import SR, aggregate


def eval_reference(pipe, clips, cfg: EvalConfig, rng) -> dict:
    """The detector on the true audio (the ceiling) and on its codec round trip."""
    true = aggregate([score_clip(c, c.audio, rng, cfg)[0] for c in clips],
                     [c.audio for c in clips], [c.audio for c in clips])
    rt = [decode(pipe, pipe.codec.encode(c.audio, SR), c.duration) for c in clips]
    codec = aggregate([score_clip(c, w, rng, cfg)[0] for c, w in zip(clips, rt)],
                      [c.audio for c in clips], rt)
    return {"true_audio": true, "codec_roundtrip": codec}

