"""Shared fixtures: one tiny real pipeline, one demo server on a free port, made-up videos."""
from __future__ import annotations

import os
import socket
import subprocess

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from webapp.media import make_test_video  # noqa: E402
from webapp.settings import settings_preset  # noqa: E402

SETTINGS = settings_preset("test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def settings():
    return SETTINGS


@pytest.fixture(scope="session")
def pipeline():
    """The real pipeline at the `test` preset (tiny, untrained).

    Random init leaves the adaLN-zero gates and the output layer at zero, so the velocity is
    0 and every step count returns the (near-silent) decoded noise. Opening those zeros with
    small random values gives an untrained but non-degenerate network: the step count then
    changes the audio, as it does for a trained one."""
    import jax
    from flax import nnx
    from salsav_core.pipeline import Pipeline
    base = Pipeline.random_init("test", "tiny")
    gen = base.generator
    leaves, tree = jax.tree_util.tree_flatten(nnx.state(gen, nnx.Param))
    rng = np.random.default_rng(0)
    leaves = [jax.numpy.asarray((0.05 * rng.standard_normal(np.shape(x))).astype(np.asarray(x).dtype))
              if np.size(x) and not np.asarray(x).any() else x for x in leaves]
    nnx.update(gen, jax.tree_util.tree_unflatten(tree, leaves))
    return Pipeline(gen, base.semantic, base.sync, base.codec, meta=base.meta)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("webapp-media")


@pytest.fixture(scope="session")
def clip(media_dir):
    """A 2.0 s made-up silent video (longer than one test-preset window, so long-form runs)."""
    return make_test_video(str(media_dir / "bounce.mp4"), 2.0, seed=1)


@pytest.fixture(scope="session")
def bad_files(media_dir, clip):
    """Non-video, corrupt mp4, mp4 with no video frames, over-long video, short reference, long reference."""
    import imageio_ffmpeg
    import soundfile as sf
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    out = {}
    out["text"] = media_dir / "notes.mp4"
    out["text"].write_text("this is not a video\n")
    data = open(clip, "rb").read()
    out["corrupt"] = media_dir / "corrupt.mp4"
    out["corrupt"].write_bytes(data[: len(data) // 3])
    out["no_frames"] = media_dir / "no_frames.mp4"
    subprocess.run([ff, "-y", "-loglevel", "error", "-i", clip, "-frames:v", "0", "-c", "copy",
                    str(out["no_frames"])], check=True)
    out["long"] = make_test_video(str(media_dir / "long.mp4"), SETTINGS.max_video_seconds + 1.5)
    sr = 44100
    t = np.arange(int(0.5 * sr)) / sr
    out["ref_short"] = media_dir / "ref_short.wav"
    sf.write(out["ref_short"], (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), sr)
    t = np.arange(int(2.3 * sr)) / sr   # longer than the 2.0 s clip (and within max_reference_seconds)
    out["ref_long"] = media_dir / "ref_long.wav"
    sf.write(out["ref_long"], (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), sr)
    return {k: str(v) for k, v in out.items()}


@pytest.fixture(scope="session")
def server(pipeline, settings):
    """The demo served on a free port; yields its URL."""
    import webapp
    demo = webapp.build_demo(pipeline, settings)
    webapp.warmup(pipeline, settings)
    port = _free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **webapp.launch_kwargs(settings))
    yield f"http://127.0.0.1:{port}/"
    demo.close()
