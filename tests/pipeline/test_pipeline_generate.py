"""The one generate() entry point: shapes, muxing, reference spans, trimming, bad input."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from salsav_core.config import LATENT_RATE, SAMPLE_RATE, latent_frames
from salsav_core.pipeline import GenerationError, Pipeline


def _streams(path):
    import imageio_ffmpeg
    r = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path],
                       capture_output=True, text=True)
    return r.stderr


def test_generate_muxes_audio_of_video_length(tiny_pipe, videos, tmp_path):
    from salsav_core import video_io
    res = tiny_pipe.generate(videos["good"], steps=2, guidance=4.0, seed=5,
                             out_path=str(tmp_path / "out.mp4"))
    info = video_io.probe(videos["good"])
    assert res.wave.dtype == np.float32 and res.wave.ndim == 1
    assert abs(len(res.wave) - info.duration * SAMPLE_RATE) <= 1
    assert res.latent.shape == (latent_frames(info.duration), 64)
    assert set(res.timings) >= {"read", "features", "sampling", "decode", "mux", "total"}
    assert all(v >= 0 for v in res.timings.values())
    out = video_io.probe(res.video_path)
    assert out.has_audio and out.has_video
    assert abs(out.duration - info.duration) < 1.5 / 24
    assert _streams(res.video_path).count("Audio:") == 1
    assert _streams(res.video_path).count("Audio: flac") == 1
    audio = video_io.read_audio(res.video_path)      # lossless: the generated wave itself
    assert len(audio) == len(res.wave)
    assert np.max(np.abs(audio - res.wave)) <= 1.0 / 32768 + 1e-7
    # 2 s > one 1 s test window: the long-form sampler ran several windows
    assert len(res.windows) >= 2 and res.windows[0][0] == 0.0


def test_same_seed_same_audio_other_seed_differs(tiny_pipe, videos):
    a = tiny_pipe.generate(videos["good"], steps=1, seed=1, mux=False)
    b = tiny_pipe.generate(videos["good"], steps=1, seed=1, mux=False)
    c = tiny_pipe.generate(videos["good"], steps=1, seed=2, mux=False)
    np.testing.assert_array_equal(a.latent, b.latent)
    assert np.abs(a.latent - c.latent).max() > 1e-3


def test_reference_span_is_kept_exactly(tiny_pipe, videos):
    ref_start = 0.5
    res = tiny_pipe.generate(videos["good"], steps=2, seed=0, reference_audio=videos["ref"],
                             reference_start=ref_start, mux=False)
    import soundfile as sf
    wave, sr = sf.read(videos["ref"], dtype="float32")
    ref_lat = tiny_pipe.codec.encode(wave, sr)
    s = int(round(ref_start * LATENT_RATE))
    np.testing.assert_allclose(res.latent[s:s + len(ref_lat)], ref_lat, atol=1e-6)
    assert res.reference_span == pytest.approx((0.5, 1.0), abs=1e-3)


def test_trimmed_range(tiny_pipe, videos, tmp_path):
    from salsav_core import video_io
    res = tiny_pipe.generate(videos["good"], steps=1, seed=0, start=0.5, duration=1.0,
                             out_path=str(tmp_path / "trim.mp4"), audio_codec="aac")
    assert abs(len(res.wave) / SAMPLE_RATE - 1.0) < 1e-3
    assert abs(video_io.probe(res.video_path).duration - 1.0) < 0.1
    assert _streams(res.video_path).count("Audio: aac") == 1


@pytest.mark.parametrize("kwargs, words", [
    (dict(steps=3), "Steps"), (dict(steps=0), "Steps"), (dict(steps=10**6), "Steps"),
    (dict(guidance=-1.0), "Guidance"), (dict(guidance=float("nan")), "Guidance"),
    (dict(start=5.0), "beyond the end of the video"), (dict(duration=-1.0), "positive"),
    (dict(schedule="cosine"), "Schedule"), (dict(audio_codec="mp3"), "audio codec must be one of"),
])
def test_bad_parameters_give_clear_errors(tiny_pipe, videos, kwargs, words):
    with pytest.raises(GenerationError, match=words):
        tiny_pipe.generate(videos["good"], mux=False, **kwargs)


def test_bad_files_and_references(tiny_pipe, videos):
    for key in ("text", "truncated"):
        with pytest.raises(GenerationError) as e:
            tiny_pipe.generate(videos[key], mux=False)
        assert "Traceback" not in str(e.value) and len(str(e.value)) < 300
    with pytest.raises(GenerationError, match="longer than the clip"):
        tiny_pipe.generate(videos["good"], reference_audio=videos["long_ref"], mux=False)
    with pytest.raises(GenerationError, match="runs past the end of the clip"):
        tiny_pipe.generate(videos["good"], reference_audio=videos["ref"], reference_start=1.8,
                           mux=False)
    with pytest.raises(GenerationError, match="beyond the end of the clip"):
        tiny_pipe.generate(videos["good"], reference_audio=videos["ref"], reference_start=9.0,
                           mux=False)


def test_over_long_video_is_refused(videos):
    from salsav_core.pipeline import Limits
    pipe = Pipeline.random_init("test", "tiny", seed=3)
    pipe.limits = Limits(max_duration=1.0)
    with pytest.raises(GenerationError, match="over the limit: at most 1 s"):
        pipe.generate(videos["good"], mux=False)


def test_one_probe_and_one_reference_decode_per_request(tiny_pipe, videos, monkeypatch):
    """prepare() probes the video and decodes the reference once; run() reads neither again."""
    import soundfile as sf

    from salsav_core import request, video_io
    calls = {"probe": 0, "decode": 0}
    probe, read = video_io.probe, sf.read

    def counting_probe(*a, **k):
        calls["probe"] += 1
        return probe(*a, **k)

    def counting_read(*a, **k):
        calls["decode"] += 1
        return read(*a, **k)
    monkeypatch.setattr(video_io, "probe", counting_probe)
    monkeypatch.setattr(sf, "read", counting_read)
    req = request.prepare(videos["good"], steps=1, seed=0, reference_audio=videos["ref"],
                          reference_start=0.5, limits=tiny_pipe.limits)
    assert calls == {"probe": 1, "decode": 1}
    res = tiny_pipe.run(req, out_path=None)
    assert calls == {"probe": 1, "decode": 1}
    assert res.video_path and res.reference_span == pytest.approx((0.5, 1.0), abs=1e-3)


@pytest.mark.parametrize("trim", [False, True])
def test_failed_generation_leaves_no_output_and_no_ffmpeg(tiny_pipe, videos, tmp_path, monkeypatch, trim):
    """The output video is begun while the model runs (the range cut, the mux's ffmpeg started);
    a request that fails after that kills the process and leaves no file behind."""
    import psutil

    def boom(self, latent):
        raise RuntimeError("decode failed")
    monkeypatch.setattr(type(tiny_pipe.codec), "decode", boom)      # the codec is frozen
    out = tmp_path / "out.mp4"
    kw = dict(start=0.5, duration=1.0) if trim else {}
    with pytest.raises(RuntimeError, match="decode failed"):
        tiny_pipe.generate(videos["good"], steps=1, seed=0, out_path=str(out), **kw)
    assert list(tmp_path.iterdir()) == []                      # no mp4, no .cut.mp4
    alive = [c for c in psutil.Process().children(recursive=True) if "ffmpeg" in c.name()]
    assert alive == []
    old = tmp_path / "old.mp4"                                 # a file it did not make stays
    old.write_bytes(b"an earlier result")
    with pytest.raises(RuntimeError, match="decode failed"):
        tiny_pipe.generate(videos["good"], steps=1, seed=0, out_path=str(old), **kw)
    assert old.read_bytes() == b"an earlier result"
    old.unlink()
    monkeypatch.undo()
    res = tiny_pipe.generate(videos["good"], steps=1, seed=0, out_path=str(out), **kw)
    assert res.video_path == str(out) and out.exists() and list(tmp_path.iterdir()) == [out]
