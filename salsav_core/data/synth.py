"""Audio synthesis for SynthFoley (numpy/scipy only).

Impacts are modal: a sum of exponentially damped partials starting exactly at the event
time (sub-sample phase), plus a short contact click so the onset is sharp. Ambience and
the engine are shaped noise / harmonic tones driven by envelopes that the renderer also
uses for the picture (rain density, grass sway, car speed).
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from .materials import MATERIALS

SR = 44100


def add_impact(out: np.ndarray, t: float, material: str, strength: float, f0: float,
               rng: np.random.Generator, gain: float = 1.0) -> None:
    """Add one struck-object sound (modal partials + click) starting at time t (s)."""
    m = MATERIALS[material]
    n0 = int(np.ceil(t * SR))
    length = min(int(SR * min(6 * m.decay + 0.03, 1.5)), len(out) - n0)
    if length <= 0:
        return
    tau = (n0 + np.arange(length)) / SR - t                       # (L,) time since impact
    amp = gain * (0.12 + 0.5 * strength)
    bright = m.brightness + 0.6 * strength                        # harder hits are brighter
    wave = np.zeros(length)
    for k, r in enumerate(m.ratios, start=1):
        f = f0 * r * (1 + 0.01 * rng.standard_normal())
        if f >= 0.45 * SR:
            continue
        a = k ** -(2.0 - bright) * (1 + 0.2 * rng.standard_normal())
        wave += a * np.exp(-tau / (m.decay / k ** 0.5)) * np.sin(2 * np.pi * f * tau)
    nc = min(int(0.004 * SR), length)
    click = rng.standard_normal(nc) * np.exp(-tau[:nc] / 0.0008) * m.click
    wave[:nc] += click
    out[n0:n0 + length] += amp * wave / max(np.abs(wave).max(), 1e-6)


def add_swish(out: np.ndarray, t: float, speed: float, rng: np.random.Generator) -> None:
    """A short airy swish (band-passed noise, 2 ms attack) for an object crossing the edge."""
    n0 = int(np.ceil(t * SR))
    length = min(int(0.12 * SR), len(out) - n0)
    if length <= 0:
        return
    tau = (n0 + np.arange(length)) / SR - t
    env = np.minimum(tau / 0.002, 1.0) * np.exp(-tau / 0.035)
    sos = signal.butter(2, (1500, 7000), btype="band", fs=SR, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(length + 256))[256:]
    out[n0:n0 + length] += (0.10 + 0.25 * min(speed, 1.5) / 1.5) * env * noise / noise.std()


def ambience(kind: str, level: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rain (bright hiss) or wind (low rumble) noise scaled by level (n,) in [0, 1]."""
    n = len(level)
    if kind == "indoor" or n == 0:
        return np.zeros(n)
    noise = rng.standard_normal(n + 1024)
    if kind == "rain":
        sos = signal.butter(2, (1200, 9000), btype="band", fs=SR, output="sos")
        gain = 0.05
    else:
        sos = signal.butter(2, 350, btype="low", fs=SR, output="sos")
        gain = 0.09
    x = signal.sosfilt(sos, noise)[1024:]
    return gain * level * x / x.std()


def engine(speed: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Engine tone whose pitch follows speed (n,) in units/s; returns (wave, f0)."""
    f0 = 40.0 + 160.0 * speed                                         # (n,) Hz
    phase = 2 * np.pi * np.cumsum(f0) / SR
    wave = np.zeros_like(f0)
    for k in range(1, 9):
        wave += np.sin(k * phase) / k ** 0.8 * (1.0 if k % 2 else 0.6)
    wave *= 1 + 0.3 * np.sin(phase / 2)                              # firing-cycle wobble
    return 0.05 * level * wave, f0
