"""Video I/O on videos the tests make: frame sampling by timestamp, mux, bad input."""
from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import av
import numpy as np
import pytest

from salsav_core import video_io
from salsav_core.video_io import VideoError

from media_helpers import SR, ffmpeg_exe, run_ffmpeg

BITS = 8   # frame k shows k in binary as 8 vertical black/white stripes


def _frame(k: int, w: int = 64, h: int = 64) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    x0 = (w - 64) // 2
    for b in range(BITS):
        if (k >> b) & 1:
            img[:, x0 + 8 * b:x0 + 8 * b + 8] = 255
    return img


def _decode(img: np.ndarray) -> int:
    lum = img.mean(axis=(0, 2))                     # (size,) per column
    x0 = (len(lum) - 64) // 2
    return sum(1 << b for b in range(BITS) if lum[x0 + 8 * b + 2:x0 + 8 * b + 6].mean() > 128)


def make_video(path, rate: str, n_frames: int, w=64, h=64, audio_s: float | None = None,
               extra: tuple[str, ...] = ()):
    raw = np.stack([_frame(k, w, h) for k in range(n_frames)]).tobytes()
    args = [ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{w}x{h}", "-r", rate, "-i", "-"]
    if audio_s:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={audio_s}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12", *extra, str(path)]
    subprocess.run(args, input=raw, check=True, capture_output=True)
    return path


@pytest.mark.parametrize("rate", ["24000/1001", "25", "30000/1001", "30", "60"])
@pytest.mark.parametrize("fps", [8, 24])
def test_frame_at_time_t_is_frame_shown_at_t(tmp_path, rate, fps):
    r = Fraction(rate)
    n = int(2 * r) + 1                                # ~2 s
    p = make_video(tmp_path / "v.mp4", rate, n)
    info = video_io.probe(p)
    assert info.has_video and not info.has_audio and info.n_frames == n
    assert info.duration == pytest.approx(float(n / r), abs=1e-3)
    assert info.fps == pytest.approx(float(r), rel=1e-3)
    frames = video_io.read_frames(p, fps, 64, duration=1.5)
    assert frames.shape == (int(round(1.5 * fps)), 64, 64, 3) and frames.dtype == np.uint8
    got = [_decode(f) for f in frames]
    tol = Fraction(1, 10000)   # timestamps are printed to 1 µs; frames within 0.1 ms count as shown
    want = [int((Fraction(i, fps) + tol) * r) for i in range(len(frames))]   # floor(t · rate)
    assert got == want
    # a start offset that is not on the frame grid
    frames = video_io.read_frames(p, fps, 64, start=0.53, duration=0.5)
    want = [int((Fraction(53, 100) + Fraction(i, fps) + tol) * r) for i in range(len(frames))]
    assert [_decode(f) for f in frames] == want


def test_streams_of_one_pass_equal_streams_read_alone(tmp_path):
    """read_streams scales in worker threads; each stream of one pass equals what the rules give
    read alone, frame for frame: the largest size and a size that does not divide it scaled
    directly, a size that divides it block-averaged from the largest."""
    p = make_video(tmp_path / "v.mp4", "30000/1001", 70, w=96, h=72)
    big8, mid24, small24 = video_io.read_streams(p, [(8, 64), (24, 48), (24, 32)], start=0.2, duration=2.0)
    assert np.array_equal(big8, video_io.read_frames(p, 8, 64, start=0.2, duration=2.0))
    assert np.array_equal(mid24, video_io.read_frames(p, 24, 48, start=0.2, duration=2.0))
    big24 = video_io.read_frames(p, 24, 64, start=0.2, duration=2.0).astype(np.float64)
    block = big24.reshape(48, 32, 2, 32, 2, 3).mean(axis=(2, 4)).round().astype(np.uint8)
    assert small24.shape == (48, 32, 32, 3) and np.array_equal(small24, block)
    assert len({f.tobytes() for f in mid24}) > 40          # the frames move (stripes of the frame number)


def _reference_frames(path, size: int, n: int) -> np.ndarray:
    """The first n frames as each frame's own `reformat` gives them (a scaling context of its
    own), shorter side to `size` by area averaging, centre-cropped."""
    out = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            w, h = frame.width, frame.height
            nw, nh = (size, round(h * size / w)) if w <= h else (round(w * size / h), size)
            img = frame.reformat(width=nw, height=nh, format="rgb24", interpolation="AREA").to_ndarray()
            y0, x0 = (nh - size) // 2, (nw - size) // 2
            out.append(img[y0:y0 + size, x0:x0 + size])
            if len(out) == n:
                break
    return np.stack(out)


def test_scaling_contexts_carry_nothing_from_one_video_to_the_next(tmp_path):
    """The read keeps one scaling context per worker thread and size: videos of other pixel
    formats, colour ranges and sizes read one after another, twice over, each give exactly what
    a context of their own gives."""
    videos = [make_video(tmp_path / "full.mp4", "24", 12, extra=("-pix_fmt", "yuvj420p")),
              make_video(tmp_path / "tv709.mp4", "24", 12, extra=("-colorspace", "bt709")),
              make_video(tmp_path / "444.mp4", "24", 12, w=96, h=72, extra=("-pix_fmt", "yuv444p"))]
    refs = [_reference_frames(p, 32, 12) for p in videos]
    assert not np.array_equal(refs[0], refs[1])          # the colour ranges do differ
    for _ in range(2):
        for p, ref in zip(videos, refs):
            assert np.array_equal(video_io.read_frames(p, 24, 32, duration=0.5), ref)


def test_reads_from_two_threads_at_once_equal_reads_one_at_a_time(tmp_path):
    """Two requests reading at the same time share the scaling threads and their contexts; each
    gets exactly the frames it gets alone."""
    a = make_video(tmp_path / "a.mp4", "30", 60, w=96, h=72)
    b = make_video(tmp_path / "b.mp4", "24", 48, extra=("-pix_fmt", "yuvj420p"))
    specs = [(8, 64), (24, 32)]
    alone = {p: video_io.read_streams(p, specs, duration=1.9) for p in (a, b)}
    with ThreadPoolExecutor(2) as pool:
        for _ in range(3):
            got = list(pool.map(lambda p: video_io.read_streams(p, specs, duration=1.9), [a, b]))
            for p, streams in zip((a, b), got):
                assert all(np.array_equal(x, y) for x, y in zip(streams, alone[p]))


def test_variable_frame_rate(tmp_path):
    """25 frames at 25 fps, then 60 frames at 60 fps (two segments joined by stream copy):
    the frame read at t is the one shown at t."""
    def segment(path, rate, ks):
        raw = np.stack([_frame(k) for k in ks]).tobytes()
        subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                        "-s", "64x64", "-r", rate, "-i", "-", "-c:v", "libx264", "-pix_fmt",
                        "yuv420p", "-crf", "12", "-video_track_timescale", "600", str(path)],
                       input=raw, check=True, capture_output=True)
    segment(tmp_path / "a.mp4", "25", range(25))
    segment(tmp_path / "b.mp4", "60", range(25, 85))
    (tmp_path / "list.txt").write_text(f"file '{tmp_path / 'a.mp4'}'\nfile '{tmp_path / 'b.mp4'}'\n")
    p = tmp_path / "vfr.mp4"
    run_ffmpeg("-y", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(tmp_path / "list.txt"),
               "-c", "copy", str(p))
    assert video_io.probe(p).n_frames == 85
    frames = video_io.read_frames(p, 24, 64, duration=1.9)
    tol = Fraction(1, 10000)
    ts = [Fraction(i, 24) + tol for i in range(len(frames))]
    want = [int(t * 25) if t < 1 else 25 + int((t - 1) * 60) for t in ts]
    assert [_decode(f) for f in frames] == want


def test_resize_crop_portrait_and_rotation(tmp_path):
    p = make_video(tmp_path / "wide.mp4", "24", 12, w=96, h=64)
    f = video_io.read_frames(p, 24, 32, duration=0.5)
    assert f.shape == (12, 32, 32, 3)
    assert [_decode(np.repeat(np.repeat(x, 2, 0), 2, 1)) for x in f] == list(range(12))
    # portrait source with a bright top half; rotation metadata 90° turns it sideways
    img = np.zeros((80, 48, 3), np.uint8)
    img[:40] = 255
    raw = np.repeat(img[None], 6, 0).tobytes()
    port = tmp_path / "portrait.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", "48x80", "-r", "24", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(port)], input=raw, check=True, capture_output=True)
    info = video_io.probe(port)
    assert (info.width, info.height, info.rotation) == (48, 80, 0)
    f = video_io.read_frames(port, 8, 16)[0].mean(axis=2)
    assert f[:4].mean() > 200 and f[-4:].mean() < 50        # top bright, bottom dark
    rot = tmp_path / "rotated.mp4"
    run_ffmpeg("-display_rotation:v:0", "90", "-i", str(port), "-c", "copy", str(rot))
    info = video_io.probe(rot)
    assert info.rotation in (90, 270) and (info.width, info.height) == (80, 48)
    f = video_io.read_frames(rot, 8, 16)[0].mean(axis=2)
    cols = f.mean(axis=0)
    assert abs(cols[:4].mean() - cols[-4:].mean()) > 150     # the bright half is now a side


def test_read_audio(tmp_path):
    p = make_video(tmp_path / "a.mp4", "25", 25, audio_s=1.0)
    a = video_io.read_audio(p, SR)
    assert a.dtype == np.float32 and abs(len(a) - SR) < 2048
    spec = np.abs(np.fft.rfft(a[4096:4096 + 16384]))
    assert abs(np.argmax(spec) * SR / 16384 - 440) < 5
    assert video_io.read_audio(make_video(tmp_path / "s.mp4", "25", 5)) is None


def _stream_duration(path, stream):
    """(seconds from the first packet's pts to the last one's end, [(pts, duration, md5)])."""
    import hashlib

    with av.open(str(path)) as c:
        s = c.streams.audio[0] if stream.startswith("a") else c.streams.video[0]
        pk = [(p.pts, p.duration or 0, hashlib.md5(bytes(p)).hexdigest())
              for p in c.demux(s) if p.pts is not None]
        tb = s.time_base
    return float((max(p + d for p, d, _ in pk) - min(p for p, _, _ in pk)) * tb), pk


@pytest.mark.parametrize("wave_s,codec", [(1.3, "flac"), (3.0, "flac"), (1.3, "aac"), (3.0, "aac")])
def test_mux_keeps_video_and_duration(tmp_path, wave_s, codec):
    src = make_video(tmp_path / "in.mp4", "30000/1001", 60, audio_s=2.6)   # audio longer than video
    info = video_io.probe(src)
    assert info.duration == pytest.approx(60 * 1001 / 30000, abs=1e-3)
    t = np.arange(int(wave_s * SR)) / SR
    wave = 0.3 * np.sin(2 * np.pi * 330 * t)
    out = video_io.mux(src, wave, SR, tmp_path / "out.mp4", audio_codec=codec)
    r = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True)
    assert r.stderr.count(f"Audio: {codec}") == 1 and r.stderr.count("Video: h264") == 1
    a_dur, _ = _stream_duration(out, "a:0")
    assert abs(a_dur - info.duration) <= 1024 / SR + 1e-6
    if codec == "flac":        # lossless: the file holds the wave itself, to 16-bit rounding
        got = video_io.read_audio(out, SR)
        n = round(info.duration * SR)
        want = np.pad(wave[:n], (0, max(n - len(wave), 0)))
        assert len(got) == n
        assert np.max(np.abs(got - want)) <= 1.0 / 32768 + 1e-7
    _, pk_in = _stream_duration(src, "v:0")
    _, pk_out = _stream_duration(out, "v:0")
    assert [h for _, _, h in pk_out] == [h for _, _, h in pk_in]     # identical packets
    assert video_io.probe(out).duration == pytest.approx(info.duration, abs=1e-3)
    got = video_io.read_audio(out, SR)
    assert abs(len(got) - round(info.duration * SR)) <= 1024


@pytest.fixture
def bad_files(tmp_path):
    good = make_video(tmp_path / "good.mp4", "25", 50)
    text = tmp_path / "notes.mp4"
    text.write_text("this is a text file, not a video\n" * 20)
    data = good.read_bytes()
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(data[:len(data) // 2])
    fast = make_video(tmp_path / "fast.mp4", "25", 50, extra=("-movflags", "+faststart"))
    fdata = fast.read_bytes()
    trunc_fast = tmp_path / "trunc_fast.mp4"
    trunc_fast.write_bytes(fdata[:int(len(fdata) * 0.6)])
    audio_only = tmp_path / "audio.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(audio_only))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    zero = tmp_path / "zero.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-frames:v", "0",
               "-c:v", "libx264", "-pix_fmt", "yuv420p", str(zero))
    return dict(good=good, text=text, trunc=trunc, trunc_fast=trunc_fast, audio=audio_only,
                empty=empty, zero=zero, missing=tmp_path / "nope.mp4")


@pytest.mark.parametrize("name,pattern", [
    ("text", "not a video file"), ("trunc", "truncated"), ("trunc_fast", "truncated"),
    ("audio", "no video stream"), ("empty", "empty"), ("zero", "zero length"),
    ("missing", "not found")])
def test_bad_input_has_one_clear_message(bad_files, name, pattern):
    with pytest.raises(VideoError, match=pattern) as e:
        video_io.probe(bad_files[name])
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg and len(msg) < 200
    with pytest.raises(VideoError):
        video_io.read_frames(bad_files[name], 8, 32)


def test_max_duration(bad_files):
    assert video_io.probe(bad_files["good"], max_duration=2.5).duration == pytest.approx(2.0, abs=1e-3)
    with pytest.raises(VideoError, match=r"2.0 s long; the limit is 1.5 s"):
        video_io.probe(bad_files["good"], max_duration=1.5)
