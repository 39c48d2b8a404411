"""Shared fixtures for the media tests: synthetic audio and test videos made with ffmpeg."""
from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")

SR = 44100


def ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def clack_train(times, sr=SR, duration=3.0, freq=1500.0, decay_s=0.005, amp=0.8):
    """Damped-sine impacts starting exactly at `times` (s). (n,) float64."""
    n = int(round(duration * sr))
    x = np.zeros(n)
    k = np.arange(int(0.08 * sr))
    burst = amp * np.exp(-k / (decay_s * sr)) * np.sin(2 * np.pi * freq * k / sr)
    for t in times:
        i = int(round(t * sr))
        m = min(len(burst), n - i)
        x[i:i + m] += burst[:m]
    return x


@pytest.fixture(scope="session")
def audio_set():
    """name → 3 s mono 44.1 kHz test signal: impulses, noise, tones."""
    rng = np.random.default_rng(0)
    n = 3 * SR
    t = np.arange(n) / SR
    return {
        "impulses": clack_train([0.31, 0.87, 1.52, 2.23, 2.71]),
        "noise": 0.3 * rng.standard_normal(n),
        "tones": 0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t),
    }
