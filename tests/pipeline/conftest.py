"""Fixtures: a tiny (test-preset, untrained) pipeline saved as a checkpoint folder, test videos."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def tiny_pipe():
    from salsav_core.pipeline import Pipeline
    return Pipeline.random_init("test", "tiny", seed=3)


@pytest.fixture(scope="session")
def tiny_ckpt(tiny_pipe, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    tiny_pipe.save_pretrained(folder, dtype="float32", max_shard_mb=0.05)   # force several shards
    return folder


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    """A 2 s SynthFoley clip as mp4 (with its own audio), a text file named .mp4, a truncated mp4."""
    from salsav_core.data.synthfoley import HELDOUT_SEED0, make_clip, write_mp4
    d = tmp_path_factory.mktemp("videos")
    clip = make_clip(HELDOUT_SEED0 + 11, 2.0, 64)
    good = write_mp4(clip, str(d / "clip.mp4"))
    text = d / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    data = open(good, "rb").read()
    trunc = d / "truncated.mp4"
    trunc.write_bytes(data[: len(data) // 3])
    ref = d / "ref.wav"
    import soundfile as sf
    sf.write(str(ref), clip.audio[: 44100 // 2], 44100)
    long_ref = d / "long_ref.wav"
    sf.write(str(long_ref), np.tile(clip.audio, 2), 44100)
    return {"good": good, "text": str(text), "truncated": str(trunc), "ref": str(ref),
            "long_ref": str(long_ref), "clip": clip}
