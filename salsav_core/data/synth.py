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


class Resonator:
    """One struck object's modes (material + fundamental), cached as damped sin/cos bases so
    that each strike at a sub-sample time costs two multiply-adds per partial and sample."""

    def __init__(self, material: str, f0: float, rng: np.random.Generator):
        m = MATERIALS[material]
        self.m = m
        length = int(SR * min(6 * m.decay + 0.03, 1.5))
        n = np.arange(length) / SR
        self.modes = []                                   # (f, tau, k, sin basis, cos basis)
        for k, r in enumerate(m.ratios, start=1):
            f = f0 * r * (1 + 0.01 * rng.standard_normal())
            if f >= 0.45 * SR:
                continue
            tau = m.decay / k ** 0.5
            lk = min(length, int(7 * tau * SR) + 1)
            z = np.exp((-1 / tau + 2j * np.pi * f) * n[:lk]).astype(np.complex64)
            self.modes.append((f, tau, k, z.imag.copy(), z.real.copy()))
        self.click = int(0.004 * SR)

    def strike(self, out: np.ndarray, t: float, strength: float, rng: np.random.Generator,
               gain: float = 1.0) -> None:
        """Add the struck sound starting exactly at time t (s) with strength in [0, 1]."""
        n0 = int(np.ceil(t * SR))
        if n0 >= len(out):
            return
        delta = n0 / SR - t                               # sub-sample offset, [0, 1/SR)
        bright = self.m.brightness + 0.6 * strength       # harder hits are brighter
        w = np.array([k ** -(2.0 - bright) for _, _, k, _, _ in self.modes])
        w = w * (1 + 0.15 * rng.standard_normal(len(w))).clip(0.5, 1.5)
        amp = gain * (0.2 + 0.5 * strength) / max(w.sum(), 1e-6)
        for wk, (f, tau, _, sb, cb) in zip(w, self.modes):
            lk = min(len(sb), len(out) - n0)
            ph, g = 2 * np.pi * f * delta, amp * wk * np.exp(-delta / tau)
            out[n0:n0 + lk] += g * (np.cos(ph) * sb[:lk] + np.sin(ph) * cb[:lk])
        nc = min(self.click, len(out) - n0)
        tau = delta + np.arange(nc) / SR
        out[n0:n0 + nc] += amp * self.m.click * rng.standard_normal(nc) * np.exp(-tau / 0.0008)


_SWISH = signal.butter(2, (500, 4000), btype="band", fs=SR, output="sos")
_RAIN = signal.butter(2, (1200, 9000), btype="band", fs=SR, output="sos")
_WIND = signal.butter(2, 350, btype="low", fs=SR, output="sos")


def add_swish(out: np.ndarray, t: float, speed: float, rng: np.random.Generator) -> None:
    """A short airy swish (band-passed noise, 2 ms attack) for an object crossing the edge."""
    n0 = int(np.ceil(t * SR))
    length = min(int(0.12 * SR), len(out) - n0)
    if length <= 0:
        return
    tau = (n0 + np.arange(length)) / SR - t
    env = np.minimum(tau / 0.002, 1.0) * np.exp(-tau / 0.035)
    noise = signal.sosfilt(_SWISH, rng.standard_normal(length + 256))[256:]
    out[n0:n0 + length] += (0.18 + 0.25 * min(speed, 1.5) / 1.5) * env * noise / noise.std()


def ambience(kind: str, level: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rain (bright hiss) or wind (low rumble) noise scaled by level (n,) in [0, 1]."""
    n = len(level)
    if kind == "indoor" or n == 0:
        return np.zeros(n)
    noise = rng.standard_normal(n + 1024)
    sos, gain = (_RAIN, 0.04) if kind == "rain" else (_WIND, 0.09)
    x = signal.sosfilt(sos, noise)[1024:]
    return gain * level * x / x.std()


def engine_f0(speed):
    """Engine pitch (Hz) for a car speed in units/s: the pitch follows the visible speed."""
    return 40.0 + 160.0 * speed


def engine(speed: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Engine tone (n,) whose pitch follows speed (n,); silent where level is 0."""
    wave = np.zeros(len(speed))
    on = np.flatnonzero(level > 0)
    if len(on) == 0:
        return wave
    sl = slice(on[0], on[-1] + 1)
    phase = 2 * np.pi * np.cumsum(engine_f0(speed[sl])) / SR
    part = np.zeros(len(phase))
    for k in range(1, 9):
        part += np.sin(k * phase) / k ** 0.8 * (1.0 if k % 2 else 0.6)
    part *= 1 + 0.3 * np.sin(phase / 2)                              # firing-cycle wobble
    wave[sl] = 0.05 * level[sl] * part
    return wave
