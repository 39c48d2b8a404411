"""Media normalisation: any container in, one format / loudness / length out; videos without audio."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from study import media
from tests.study.conftest import make_video
from tests.study.helpers import make_audio

TARGET = -23.0

# (file, sample rate, channels, gain dB, seconds, with a video stream): as different as systems get
INPUTS = [("a.m4a", 44100, 2, 6.0, 3.0, False), ("b.flac", 16000, 1, -24.0, 3.0, False),
          ("c.wav", 48000, 1, 0.0, 5.0, False),              # over-long by 2 s: trimmed, with a warning
          ("d.mp3", 22050, 2, -6.0, 2.95, False),            # 50 ms short: padded, within the tolerance
          ("e.ogg", 44100, 1, -12.0, 3.0, False), ("f.webm", 48000, 1, 0.0, 3.0, True),
          ("g.mkv", 48000, 2, -3.0, 3.0, True), ("h.mp4", 44100, 1, -9.0, 3.0, True)]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    make_video(root / "v.mp4", 3.0)
    duration = media.normalise_video(root / "v.mp4", root / "served.mp4")
    spec = media.MediaSpec(sample_rate=48000, channels=1, loudness_lufs=TARGET)
    out = {}
    for i, (name, sr, ch, gain, secs, video) in enumerate(INPUTS):
        make_audio(root / name, secs, 300 + 97 * i, sr=sr, channels=ch, gain_db=gain, video=video)
        dst = root / f"out_{i}.wav"
        out[name] = (dst, media.normalise_track(root / name, dst, duration, spec))
    return root, duration, out


def test_every_container_becomes_one_format_one_size_one_loudness(converted):
    root, duration, out = converted
    assert duration == pytest.approx(3.0, abs=0.05)
    sizes = {p.stat().st_size for p, _ in out.values()}
    headers = {p.read_bytes()[:44] for p, _ in out.values()}
    assert len(sizes) == 1 and len(headers) == 1          # byte-identical WAV header, identical size
    lufs = {}
    for name, (p, info) in out.items():
        sf = soundfile.info(str(p))
        assert (sf.samplerate, sf.channels, sf.subtype, sf.frames) == (48000, 1, "PCM_16", round(duration * 48000))
        wave, _ = soundfile.read(str(p), always_2d=True)
        lufs[name] = media.integrated_loudness(wave, 48000)
        assert info["lufs_out"] == pytest.approx(lufs[name], abs=0.05)
    # within +-1 LU of the target (measured after 16-bit quantisation): the sources span 30 dB
    assert all(abs(v - TARGET) < 1.0 for v in lufs.values()), lufs
    assert max(abs(v - TARGET) for v in lufs.values()) < 0.1
    src_lufs = [info["lufs_in"] for _, info in out.values()]
    assert max(src_lufs) - min(src_lufs) > 25
    assert {info["source_codec"] for _, info in out.values()} >= {"aac", "flac", "pcm_s16le", "vorbis", "opus"}


def test_length_fitted_to_the_video_with_warnings_beyond_the_tolerance(converted):
    _, duration, out = converted
    p, info = out["c.wav"]
    assert info["trimmed_s"] == pytest.approx(2.0, abs=0.01)
    assert len(info["warnings"]) == 1 and "trimmed" in info["warnings"][0]
    wave, sr = soundfile.read(str(p))
    assert abs(wave[-1]) < 1e-4 and abs(wave[-10:]).max() < 0.01   # faded out at the cut, no click
    p, info = out["d.mp3"]
    assert info["padded_s"] > 0.04 and info["warnings"] == []
    wave, sr = soundfile.read(str(p))
    assert np.all(wave[-int(0.04 * sr):] == 0)
    assert all(info["warnings"] == [] for name, (_, info) in out.items() if name not in ("c.wav",))


def test_video_reencoded_once_without_audio(tmp_path):
    make_audio(tmp_path / "with_sound.mp4", 2.0, 500, video=True)
    assert media.probe(tmp_path / "with_sound.mp4")["audio"] == ["aac"]
    d = media.normalise_video(tmp_path / "with_sound.mp4", tmp_path / "served.mp4")
    info = media.probe(tmp_path / "served.mp4")
    assert info["audio"] == [] and info["video"] == ["h264"] and d == pytest.approx(2.0, abs=0.1)
    import av
    with av.open(str(tmp_path / "served.mp4")) as c:
        assert not {k: v for k, v in c.metadata.items() if k not in ("major_brand", "minor_version",
                                                                       "compatible_brands", "encoder")}


def test_unusable_inputs_are_named(tmp_path):
    make_video(tmp_path / "silent_video.mp4", 1.0)
    spec = media.MediaSpec()
    with pytest.raises(media.MediaError, match="no audio stream"):
        media.normalise_track(tmp_path / "silent_video.mp4", tmp_path / "o.wav", 1.0, spec)
    (tmp_path / "junk.m4a").write_bytes(b"not audio at all" * 10)
    with pytest.raises(media.MediaError, match="junk.m4a"):
        media.normalise_track(tmp_path / "junk.m4a", tmp_path / "o.wav", 1.0, spec)
    with pytest.raises(media.MediaError, match="missing file"):
        media.normalise_track(tmp_path / "gone.wav", tmp_path / "o.wav", 1.0, spec)
    with pytest.raises(media.MediaError):
        media.MediaSpec(sample_rate=12345)


def test_loudness_off_silence_and_peaks(tmp_path):
    make_audio(tmp_path / "quiet.flac", 2.0, 440, gain_db=-30)
    spec_off = media.MediaSpec(loudness_lufs=None)
    info = media.normalise_track(tmp_path / "quiet.flac", tmp_path / "off.wav", 2.0, spec_off)
    assert info["gain_db"] == 0.0 and info["lufs_in"] < -35
    soundfile.write(str(tmp_path / "silent.wav"), np.zeros(48000, np.float32), 48000)
    info = media.normalise_track(tmp_path / "silent.wav", tmp_path / "s.wav", 1.0, media.MediaSpec())
    assert info["warnings"] == ["silent or shorter than 0.4 s: loudness not normalised"]
    # noise with sharp clicks: reaching -14 LUFS puts the clicks far above 0 dBFS; the limiter keeps -1 dBFS
    sr = 48000
    x = np.zeros(2 * sr, np.float32)
    x[:: sr // 8] = 0.9
    x = np.convolve(x, np.exp(-np.arange(200) / 20.0).astype(np.float32))[: len(x)]
    x += 0.05 * np.random.default_rng(0).uniform(-1, 1, len(x)).astype(np.float32)
    soundfile.write(str(tmp_path / "clicks.wav"), x, sr)
    spec = media.MediaSpec(loudness_lufs=-14.0)
    info = media.normalise_track(tmp_path / "clicks.wav", tmp_path / "c.wav", 2.0, spec)
    y, _ = soundfile.read(str(tmp_path / "c.wav"))
    assert info["limited"] and np.abs(y).max() <= 10 ** (-1 / 20) + 1e-3 and info["warnings"] == []
    assert abs(media.integrated_loudness(y[:, None], sr) - (-14.0)) < 0.1
    # clicks alone cannot reach it without distortion: said so, not hidden
    z = np.convolve(np.where(np.arange(2 * sr) % (sr // 2) == 0, 0.9, 0.0),
                    np.exp(-np.arange(200) / 20.0))[: 2 * sr].astype(np.float32)
    soundfile.write(str(tmp_path / "bare_clicks.wav"), z, sr)
    info = media.normalise_track(tmp_path / "bare_clicks.wav", tmp_path / "b.wav", 2.0, spec)
    assert any("peak limit" in w for w in info["warnings"])


def test_a_hung_ffmpeg_call_is_killed_and_named():
    import sys
    import time
    t0 = time.monotonic()
    with pytest.raises(media.MediaError, match="took longer than 0.5 s"):
        media._run([sys.executable, "-c", "import time; time.sleep(30)"], "cannot decode x", timeout=0.5)
    assert time.monotonic() - t0 < 10

