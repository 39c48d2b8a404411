"""Real-world media: one tiny clip per awkward case, made here with ffmpeg, through the whole
`generate` (read → mux) of an untrained pipeline. Each gives a correct mp4 (the input's picture
and length, generated AAC audio, a codec browsers play) or a clear, true refusal."""
from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest

from salsav_core import video_io
from salsav_core.pipeline import Pipeline

from media_helpers import ffmpeg_exe

SRC = "testsrc=size={w}x{h}:rate={r}:duration={d}"


def _ff(*args: str, stdout=None) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", *args], check=True, timeout=120,
                   stdout=stdout, stderr=subprocess.PIPE)


def _src(w=64, h=48, r="25", d=1.2):
    return ["-f", "lavfi", "-i", SRC.format(w=w, h=h, r=r, d=d)]


def make(kind: str, d) -> tuple[object, float]:
    """(path, expected duration in s) of one awkward clip."""
    p = d / {"no_duration_webm": "stream.webm", "gif": "anim.gif", "ntsc": "ntsc.mp4",
             "rotated": "rot.mp4", "vfr": "vfr.mkv", "odd_size": "odd.mkv", "vp8": "vp8.webm",
             "vp9": "vp9.webm", "flv": "sorenson.flv", "alpha": "alpha.mov",
             "bad_audio": "badaudio.mkv", "h264_444": "yuv444.mp4"}[kind]
    if kind == "no_duration_webm":            # written to a pipe: no duration, no cues
        with open(p, "wb") as f:
            _ff(*_src(), "-c:v", "libvpx", "-b:v", "200k", "-f", "webm", "pipe:1", stdout=f)
        return p, 1.2
    if kind == "gif":                         # odd size, palette, 10 fps
        _ff(*_src(63, 47, "10", 1.5), str(p))
        return p, 1.5
    if kind == "ntsc":
        _ff(*_src(r="30000/1001", d=1.0), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(p))
        return p, 30 * 1001 / 30000
    if kind == "rotated":
        tmp = d / "upright.mp4"
        _ff(*_src(48, 64), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(tmp))
        _ff("-display_rotation:v:0", "90", "-i", str(tmp), "-c", "copy", str(p))
        return p, 1.2
    if kind == "vfr":                         # 2 of every 4 frames kept, timestamps as they were
        _ff(*_src(d=1.6), "-vf", "select='lt(mod(n\\,4)\\,2)'", "-fps_mode", "vfr",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", str(p))
        return p, None
    if kind == "odd_size":
        _ff(*_src(65, 49), "-c:v", "mpeg4", str(p))
        return p, 1.2
    if kind == "vp8":
        _ff(*_src(), "-c:v", "libvpx", "-b:v", "200k", str(p))
        return p, 1.2
    if kind == "vp9":
        _ff(*_src(), "-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-b:v", "200k", "-deadline",
            "realtime", str(p))
        return p, 1.2
    if kind == "flv":
        _ff(*_src(), "-c:v", "flv", str(p))
        return p, 1.2
    if kind == "alpha":                       # PNG frames with an alpha channel in a MOV
        _ff(*_src(), "-vf", "format=rgba,colorchannelmixer=aa=0.5", "-c:v", "png", str(p))
        return p, 1.2
    if kind == "h264_444":                    # mp4 holds it, browsers do not play it
        _ff(*_src(), "-c:v", "libx264", "-pix_fmt", "yuv444p", str(p))
        return p, 1.2
    if kind == "bad_audio":                   # every audio packet's payload is noise
        _ff(*_src(), "-f", "lavfi", "-i", "sine=duration=1.2", "-c:v", "libx264", "-pix_fmt",
            "yuv420p", "-c:a", "aac", "-bsf:a", "noise=amount=1", str(p))
        return p, 1.2
    raise ValueError(kind)


KINDS = ["no_duration_webm", "gif", "ntsc", "rotated", "vfr", "odd_size", "vp8", "vp9", "flv",
         "alpha", "h264_444", "bad_audio"]


@pytest.fixture(scope="module")
def pipe():
    return Pipeline.random_init("test", "tiny", seed=3)


@pytest.mark.parametrize("kind", KINDS)
def test_awkward_media_gives_a_correct_mp4(kind, tmp_path, pipe):
    src, want = make(kind, tmp_path)
    info = video_io.probe(src)
    if want is not None:
        assert info.duration == pytest.approx(want, abs=0.11)
    if kind == "no_duration_webm":
        with av.open(str(src)) as c:                          # the header really has none
            assert c.duration is None and c.streams.video[0].duration is None
        late = video_io.read_frames(src, 8, 32, start=1.05, duration=0.1)   # a seek without cues
        np.testing.assert_array_equal(late, video_io.read_frames(src, 25, 32)[26:27])   # 1.04 s
    if kind == "rotated":
        assert info.rotation in (90, 270) and (info.width, info.height) == (64, 48)
    out = tmp_path / "out.mp4"
    res = pipe.generate(str(src), steps=1, guidance=1.0, seed=0, out_path=str(out))
    assert res.video_path == str(out) and out.stat().st_size > 0
    got = video_io.probe(out)
    assert got.has_audio and got.codec in ("h264", "hevc", "av1", "vp9")
    assert got.pix_fmt in ("yuv420p", "yuvj420p")
    assert got.duration == pytest.approx(info.duration, abs=0.1)
    if kind in ("gif", "vp8", "flv", "alpha", "odd_size", "h264_444"):
        assert got.codec == "h264"                           # re-encoded: mp4/browsers need it
    if kind in ("ntsc", "vp9"):
        assert got.codec == info.codec                       # copied as it was
    assert (got.width, got.height) == (info.width + info.width % 2, info.height + info.height % 2) \
        or (got.width, got.height) == (info.width - info.width % 2, info.height - info.height % 2)
    a = video_io.read_audio(out, 44100)                      # the generated track, full length
    assert a is not None and abs(len(a) - info.duration * 44100) <= 2048
    frames = video_io.read_frames(out, 8, 32)                # the picture survived the mux
    first = video_io.read_frames(src, 8, 32, info=info)
    n = min(len(frames), len(first))
    gray = lambda x: x[:n].astype(float).mean(axis=-1).ravel()   # noqa: E731  (chroma subsampled)
    assert n >= 8 and np.corrcoef(gray(frames), gray(first))[0, 1] > 0.8   # odd sizes: rescaled


def test_audio_that_fails_to_decode_is_a_clear_refusal(tmp_path):
    """A reference taken from a file whose audio packets are garbage: a VideoError naming the
    file, or samples (ffmpeg conceals some errors) — never a traceback or a hang."""
    src, _ = make("bad_audio", tmp_path)
    try:
        a = video_io.read_audio(src, 44100)
    except video_io.VideoError as e:
        assert "badaudio.mkv" in str(e) and "\n" not in str(e)
    else:
        assert a is None or (a.dtype == np.float32 and np.all(np.isfinite(a)))


def test_reference_audio_is_bounded_before_decoding(tmp_path):
    long = tmp_path / "long.mka"
    _ff("-f", "lavfi", "-i", "sine=duration=30", "-c:a", "aac", str(long))
    with pytest.raises(video_io.VideoError, match="limit is 5 s"):
        video_io.read_audio(long, 44100, max_seconds=5)
    streamed = tmp_path / "streamed.mka"                      # no duration in the header
    with open(streamed, "wb") as f:
        _ff("-f", "lavfi", "-i", "sine=duration=30", "-c:a", "libvorbis", "-f", "matroska",
            "pipe:1", stdout=f)
    with pytest.raises(video_io.VideoError, match="limit is 5 s"):
        video_io.read_audio(streamed, 44100, max_seconds=5)
    ok = video_io.read_audio(long, 44100, max_seconds=40)
    assert abs(len(ok) - 30 * 44100) < 4096


def test_ffmpeg_calls_are_killed_on_timeout(tmp_path):
    from salsav_core.video_mux import run_ffmpeg
    with pytest.raises(video_io.VideoError, match="longer than 0.5 s"):
        run_ffmpeg(["-f", "lavfi", "-re", "-i", "sine=duration=30", "-f", "null", "-"],
                   timeout=0.5, what="a test")
