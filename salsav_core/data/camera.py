"""Camera and video pipeline of the varied SynthFoley world (pure numpy/scipy).

`draw_camera(rng, cfg, size)` picks one clip's source frame rate, resampling rule, framing,
resolution and degradations; `source_indices` maps the 24 FPS output frames to source frames;
`film(world_frames, cam)` turns square world renders (K, R, R, 3) into the model's square
frames (K, S, S, 3): framed window -> lighting -> blur -> noise -> JPEG -> fit (crop or
letterbox) with an antialiased resize, as a camera, an encoder and a video reader would.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .physics import TOP

OUT_FPS = 24
FLOOR_V = TOP          # floor line, image fraction of the world square


@dataclass(frozen=True)
class Camera:
    fps: Fraction               # source frame rate
    resample: str               # "screen" | "near"
    render: int                 # world render side R (px)
    window: tuple               # (x0, y0, w, h) framed window, world-square fractions
    fit: str                    # "crop" | "letterbox"
    size: int                   # output side S
    brightness: float
    contrast: float
    cast: tuple                 # per-channel gains
    vignette: float             # 0 = none
    flicker: tuple              # (amplitude, Hz, phase)
    blur: float                 # sigma, source px (0 = none)
    noise: float                # std, 8-bit levels (0 = none)
    jpeg: int                   # quality 1-100 (0 = none)
    seed: int                   # noise stream

    @property
    def source_shape(self) -> tuple[int, int]:
        x0, y0, w, h = self.window
        return max(8, int(round(h * self.render))), max(8, int(round(w * self.render)))

    def describe(self) -> dict:
        h, w = self.source_shape
        return {"source_fps": float(self.fps), "resample": self.resample, "source_hw": (h, w),
                "window": tuple(round(v, 4) for v in self.window), "fit": self.fit,
                "brightness": round(self.brightness, 3), "blur": round(self.blur, 3),
                "noise": round(self.noise, 3), "jpeg": self.jpeg}


def _loguniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def draw_camera(rng: np.random.Generator, cfg, size: int) -> Camera:
    fps = Fraction(cfg.source_fps[int(rng.integers(len(cfg.source_fps)))])
    aspect = float(cfg.aspects[int(rng.integers(len(cfg.aspects)))])
    zoom = rng.uniform(*cfg.zoom)
    w, h = (zoom, zoom / aspect) if aspect >= 1 else (zoom * aspect, zoom)
    x0 = rng.uniform(0, 1 - w)
    fit = str(cfg.fit[int(rng.integers(len(cfg.fit)))])
    # the floor line stays in view: at 55-92 % of the height of what the model finally sees
    # (a centre crop of a portrait window shows only its middle square)
    vh = min(w, h) if fit == "crop" else h
    y_floor = (h - vh) / 2 + rng.uniform(0.55, 0.92) * vh        # floor line, below the window top
    y0 = float(np.clip(FLOOR_V - y_floor, 0.0, 1 - h))
    render = int(round(_loguniform(rng, *cfg.source_scale) * size / zoom / 2)) * 2
    render = int(np.clip(render, 32, 4 * size))
    cast = tuple(float(c) for c in 1 + rng.uniform(-cfg.colour_cast, cfg.colour_cast, 3))
    flick = (float(rng.uniform(0.02, 0.08)), float(rng.uniform(1, 3)), float(rng.uniform(0, 6.3))) \
        if rng.random() < cfg.flicker else (0.0, 0.0, 0.0)
    return Camera(fps=fps, resample=str(cfg.resample[int(rng.integers(len(cfg.resample)))]),
                  render=render, window=(float(x0), float(y0), float(w), float(h)),
                  fit=fit, size=size,
                  brightness=float(rng.uniform(*cfg.brightness)),
                  contrast=float(rng.uniform(*cfg.contrast)), cast=cast,
                  vignette=float(rng.uniform(0.2, 0.6)) if rng.random() < cfg.vignette else 0.0,
                  flicker=flick,
                  blur=float(rng.uniform(*cfg.blur)) if rng.random() < cfg.blur_p else 0.0,
                  noise=float(rng.uniform(*cfg.noise)) if rng.random() < cfg.noise_p else 0.0,
                  jpeg=int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
                  if rng.random() < cfg.jpeg_p else 0,
                  seed=int(rng.integers(2 ** 31)))


# ----------------------------------------------------------------------------- timing

def source_indices(n_out: int, fps: Fraction, rule: str) -> np.ndarray:
    """Source frame shown at each 24 FPS output frame i (t = i/24), exactly (integer math).
    "screen": the last source frame with pts <= t (what is on screen; `video_io.read_frames`);
    "near": the source frame nearest to t, ties to the later one (ffmpeg's fps filter)."""
    fps = Fraction(fps)
    i = np.arange(n_out, dtype=np.int64)
    num, den = fps.numerator, fps.denominator * OUT_FPS          # k* = i * num / den
    if rule == "screen":
        return (i * num) // den
    return (2 * i * num + den) // (2 * den)


# ----------------------------------------------------------------------------- picture

def _resize_matrix(n_out: int, lo: float, hi: float, n_in: int) -> np.ndarray:
    """(n_out, n_in) antialiased linear resampling of source pixels [lo, hi) onto n_out."""
    scale = (hi - lo) / n_out
    x = lo + (np.arange(n_out) + 0.5) * scale                      # output centres, source px
    width = max(scale, 1.0)
    d = (np.arange(n_in) + 0.5)[None, :] - x[:, None]
    w = np.maximum(1 - np.abs(d) / width, 0)
    w[w.sum(1) == 0, np.clip(np.floor(x), 0, n_in - 1).astype(int)[w.sum(1) == 0]] = 1.0
    return (w / w.sum(1, keepdims=True)).astype(np.float32)


def _gauss_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) Gaussian blur with edge-normalised rows."""
    d = np.arange(n)[:, None] - np.arange(n)[None, :]
    w = np.exp(-0.5 * (d / sigma) ** 2)
    w[w < 1e-6] = 0.0                                              # no float32 denormals (slow)
    return (w / w.sum(1, keepdims=True)).astype(np.float32)


def _resize(frames: np.ndarray, my: np.ndarray, mx: np.ndarray) -> np.ndarray:
    """frames (K, H, W, C) float32 -> (K, h, w, C): rows by my (h, H), columns by mx (w, W)."""
    out = np.tensordot(my, frames, axes=(1, 1))                     # (h, K, W, C), 2-D BLAS
    out = np.tensordot(out, mx, axes=(2, 1))                        # (h, K, C, w)
    return np.ascontiguousarray(out.transpose(1, 0, 3, 2))


def _block_dct(n: int) -> np.ndarray:
    """(n8, n8) block-diagonal orthonormal 8-point DCT-II, n8 = n rounded up to 8."""
    k, i = np.arange(8)[:, None], np.arange(8)[None, :]
    d = np.sqrt(2 / 8) * np.cos(np.pi * (2 * i + 1) * k / 16)
    d[0] /= np.sqrt(2)
    return np.kron(np.eye(-(-n // 8)), d).astype(np.float32)


_QY = np.array([[16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
                [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
                [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
                [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], float)
_QC = np.full((8, 8), 99.0)
_QC[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def jpeg_like(frames: np.ndarray, quality: int) -> np.ndarray:
    """Baseline-JPEG-style damage: YCbCr, 8x8 DCT, quantisation by the standard tables scaled
    for `quality` (libjpeg's rule), 2x2 chroma subsampling. (K, H, W, 3) float in 0..255."""
    K, H, W, _ = frames.shape
    s = 5000 / quality if quality < 50 else 200 - 2 * quality
    ycc = frames @ _YCC.T.astype(np.float32)
    ycc[..., 0] -= 128
    out = np.empty_like(ycc)
    for c in range(3):
        plane = ycc[..., c]
        if c:                                                       # chroma at half resolution
            plane = plane[:, :H - H % 2, :W - W % 2].reshape(K, H // 2, 2, W // 2, 2).mean((2, 4))
        q = np.clip(np.floor(((_QC if c else _QY) * s + 50) / 100), 1, 255).astype(np.float32)
        h, w = plane.shape[1:]
        ph, pw = -h % 8, -w % 8
        p = np.pad(plane, ((0, 0), (0, ph), (0, pw)), mode="edge")
        dy, dx = _block_dct(h), _block_dct(w)
        qq = np.tile(q, ((h + ph) // 8, (w + pw) // 8))
        coef = np.matmul(np.matmul(dy, p), dx.T)
        coef = np.round(coef / qq) * qq
        p = np.matmul(np.matmul(dy.T, coef), dx)[:, :h, :w]
        if c:
            p = np.repeat(np.repeat(p, 2, 1), 2, 2)
            p = np.pad(p, ((0, 0), (0, H - p.shape[1]), (0, W - p.shape[2])), mode="edge")
        out[..., c] = p
    out[..., 0] += 128
    return out @ np.linalg.inv(_YCC).T.astype(np.float32)


def _fit(cam: Camera, h: int, w: int):
    """Row/column matrices source (h, w) -> the output's content box, and the box's offsets."""
    S = cam.size
    if cam.fit == "crop":                                           # shorter side -> S, centre crop
        side = min(h, w)
        y0, x0 = (h - side) / 2, (w - side) / 2
        return _resize_matrix(S, y0, y0 + side, h), _resize_matrix(S, x0, x0 + side, w), 0, 0
    L = max(h, w)                                                   # longer side -> S, bars
    ch, cw = max(2, int(round(S * h / L))), max(2, int(round(S * w / L)))
    return _resize_matrix(ch, 0, h, h), _resize_matrix(cw, 0, w, w), (S - ch) // 2, (S - cw) // 2


def film(world: np.ndarray, times: np.ndarray, cam: Camera) -> np.ndarray:
    """World renders (K, R, R, 3) uint8 at source times `times` (K,) -> (K, S, S, 3) uint8."""
    R = world.shape[1]
    h, w = cam.source_shape
    x0, y0 = int(round(cam.window[0] * R)), int(round(cam.window[1] * R))
    y0, x0 = min(max(y0, 0), R - h), min(max(x0, 0), R - w)
    src = world[:, y0:y0 + h, x0:x0 + w].astype(np.float32)
    # lighting: contrast about mid-grey, brightness x colour cast x vignette, flicker
    gain = cam.brightness * np.asarray(cam.cast, np.float32) * np.ones((h, w, 3), np.float32)
    if cam.vignette:
        yy = (np.arange(h) + 0.5) / h - 0.5
        xx = (np.arange(w) + 0.5) / w - 0.5
        gain *= (1 - cam.vignette * (yy[:, None] ** 2 + xx[None, :] ** 2) / 0.5)[..., None]
    a, f, ph = cam.flicker
    g_t = (1 + a * np.sin(2 * np.pi * f * times + ph)).astype(np.float32)[:, None, None, None]
    src = (src * cam.contrast + np.float32(128 * (1 - cam.contrast))) * (gain * g_t)
    if cam.blur:
        src = _resize(src, _gauss_matrix(h, cam.blur), _gauss_matrix(w, cam.blur))
    if cam.noise:
        rng = np.random.default_rng(cam.seed)
        src = src + rng.standard_normal(src.shape, np.float32) * cam.noise
    src = np.clip(src, 0, 255)
    if cam.jpeg:
        src = np.clip(jpeg_like(src, cam.jpeg), 0, 255)
    my, mx, oy, ox = _fit(cam, h, w)
    content = _resize(src, my, mx)
    out = np.zeros((len(world), cam.size, cam.size, 3), np.float32)
    out[:, oy:oy + content.shape[1], ox:ox + content.shape[2]] = content
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
