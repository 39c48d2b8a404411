"""The `salsav` command line: end to end on the bundled checkpoint, and clean errors."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "HF_HUB_OFFLINE": "1"}


def _salsav(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "salsav_core.cli", *args], capture_output=True,
                          text=True, env=ENV, cwd=ROOT, timeout=timeout)


@pytest.mark.slow
def test_cli_generate_end_to_end_bundled(videos, tmp_path):
    from salsav_core import video_io
    out = tmp_path / "out.mp4"
    r = _salsav("generate", videos["good"], "-o", str(out), "--steps", "4", "--seed", "3",
                "--wav", str(tmp_path / "out.wav"), "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "seed 3" in r.stdout
    info = video_io.probe(str(out))
    assert info.has_audio and abs(info.duration - video_io.probe(videos["good"]).duration) < 0.1
    import soundfile as sf
    wave, sr = sf.read(str(tmp_path / "out.wav"))
    assert sr == 44100 and abs(len(wave) / sr - 2.0) < 0.05 and abs(wave).max() > 1e-3


def test_cli_errors_are_one_line(videos, tiny_ckpt, tmp_path):
    cases = [
        ("generate", videos["text"], "-o", str(tmp_path / "a.mp4"), "--checkpoint", str(tiny_ckpt)),
        ("generate", videos["good"], "-o", str(tmp_path / "b.mp4"), "--steps", "3",
         "--checkpoint", str(tiny_ckpt)),
        ("generate", videos["good"], "-o", str(tmp_path / "c.mp4"), "--guidance", "-2",
         "--checkpoint", str(tiny_ckpt)),
        ("generate", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "d.mp4")),
        ("generate", videos["good"], "-o", str(tmp_path / "e.mp4"), "--checkpoint",
         str(tmp_path / "no-such-checkpoint")),
    ]
    for args in cases:
        r = _salsav(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr[-1500:])
        assert "Traceback" not in r.stderr
        assert "salsav: error:" in r.stderr


def test_cli_info_presets():
    r = _salsav("info", "--preset", "paper-large")
    assert r.returncode == 0, r.stderr
    n = float(r.stdout.split("M parameters")[0].split()[-1])
    assert abs(n - 643) / 643 < 0.10
    r = _salsav("info", "--preset", "paper-small")
    n = float(r.stdout.split("M parameters")[0].split()[-1])
    assert abs(n - 347) / 347 < 0.10
    assert _salsav("--help").returncode == 0
