"""The one generation entry point: video file → conditions → few-step sampler → audio → mp4.

`Pipeline` bundles the generator, the semantic encoder, the sync model and the codec of one
checkpoint folder (config.json + model.safetensors, resolved through huggingface_hub).
`Pipeline.run` executes one checked `request.GenerateRequest` (the CLI and the demo build it
with `request.prepare`); `Pipeline.generate` is both in one call, for the Python API, batch
evaluation and the study builder. Conditions are computed once per call; long videos go
through the long-form sampler. The output video is begun in a worker thread while the model
runs (the range cut out, the mux's ffmpeg started), and the sound is piped in at the end.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from flax import nnx
from safetensors.numpy import load_file, save_file

from . import checkpoints, request, video_io
from .codec import MelCodec
from .config import (LATENT_RATE, SAMPLE_RATE, SEM_FPS, SYNC_FPS, ModelConfig, latent_frames,
                     model_preset)
from .encoders.presets import SemanticConfig, SyncConfig, semantic_preset, sync_preset
from .encoders.pretrained import make_sync
from .encoders.semantic import SemanticEncoder
from .encoders.sync import SyncModel
from .model import SalsaV
from .request import GenerateRequest, GenerationError, Limits
from .sampler import DEFAULT_SCHEDULE, Conditions, sample_long, window_starts
from .video_mux import DEFAULT_AUDIO_CODEC

__all__ = ["DEFAULT_CHECKPOINT", "GenerateRequest", "GenerationError", "GenerationResult", "Limits",
           "Pipeline", "generate", "get_pipeline", "window_spans"]

DEFAULT_CHECKPOINT = str(Path(__file__).resolve().parent.parent / "checkpoints" / "salsav-synthfoley")
FORMAT = "salsav-pipeline/1"


@dataclass
class GenerationResult:
    wave: np.ndarray                  # (n,) float32 at sample_rate, n = duration · sample_rate
    sample_rate: int
    latent: np.ndarray                # (T_a, 64)
    timings: dict                     # seconds: [prepare], read, features, sampling, decode, mux, total
    video_path: str | None            # the input video with the generated audio muxed in
    seed: int
    steps: int
    guidance: float
    duration: float                   # seconds of generated audio
    windows: list = field(default_factory=list)      # [(start_s, end_s)] long-form windows
    reference_span: tuple | None = None              # (start_s, end_s) of the reference, if any


def window_spans(n_frames: int, cfg: ModelConfig) -> list[tuple[float, float]]:
    win, ov = cfg.window_frames, latent_frames(cfg.overlap_seconds)
    return [(s / LATENT_RATE, min(s + win, n_frames) / LATENT_RATE)
            for s in window_starts(n_frames, win, ov)]


class Pipeline:
    """Generator + encoders + codec of one checkpoint. `limits` bound what `generate` accepts."""

    def __init__(self, generator: SalsaV, semantic: SemanticEncoder, sync: SyncModel,
                 codec: MelCodec, meta: dict | None = None, limits: Limits = Limits(),
                 onset_guidance: float = 0.0):
        self.generator, self.semantic, self.sync, self.codec = generator, semantic, sync, codec
        if not (math.isfinite(onset_guidance) and 0.0 <= onset_guidance <= 10.0):
            raise checkpoints.CheckpointError(f"onset_guidance must be in [0, 10], got {onset_guidance}")
        # weight of the sampler's onset guidance (the sync model's flux head; 0: off), a
        # property of the checkpoint (config.json "sampling")
        self.onset_guidance = float(onset_guidance)
        self.cfg: ModelConfig = generator.cfg
        self.meta = dict(meta or {})
        self.limits = limits
        self._graph = nnx.split(generator)          # split once; the sampler jits over state
        self._text_cache: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def random_init(cls, preset: str = "test", encoder_preset: str = "tiny", seed: int = 0,
                    codec: MelCodec | None = None) -> "Pipeline":
        """Untrained, deterministic pipeline (tests, smoke runs, before training)."""
        sem_cfg, syn_cfg = semantic_preset(encoder_preset), sync_preset(encoder_preset)
        cfg = dataclasses.replace(model_preset(preset), sem_dim=sem_cfg.dim, text_dim=sem_cfg.dim,
                                  sync_dim=syn_cfg.dim)
        return cls(SalsaV(cfg, nnx.Rngs(seed)), SemanticEncoder(sem_cfg, nnx.Rngs(seed + 1)),
                   make_sync(syn_cfg, nnx.Rngs(seed + 2)), codec or MelCodec(),
                   meta={"untrained": True})

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike = DEFAULT_CHECKPOINT,
                        revision: str | None = None, limits: Limits = Limits()) -> "Pipeline":
        """Load a checkpoint folder or Hub repo (offline cache honoured)."""
        folder = checkpoints.resolve(path_or_repo_id, revision=revision)
        config, tensors = checkpoints.load_folder(folder)
        missing = [k for k in ("generator", "semantic", "sync", "codec") if k not in config]
        if config.get("format") != FORMAT or missing:
            raise checkpoints.CheckpointError(
                f"checkpoint {str(folder)!r} is not a salsav pipeline "
                f"(format {config.get('format')!r}, missing sections: {', '.join(missing) or 'none'})")
        factories = {   # built abstractly and filled with the tensors (no random init)
            "generator": lambda: SalsaV(ModelConfig.from_dict(config["generator"]), nnx.Rngs(0)),
            "semantic": lambda: SemanticEncoder(SemanticConfig.from_dict(config["semantic"]),
                                                nnx.Rngs(0)),
            "sync": lambda: make_sync(SyncConfig.from_dict(config["sync"]), nnx.Rngs(0)),
        }
        parts = {}
        for name, factory in factories.items():
            prefix = name + "/"
            sub = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            if not sub:
                raise checkpoints.CheckpointError(
                    f"checkpoint {str(folder)!r} has no tensors for the {name} (prefix {prefix!r})")
            try:
                parts[name] = checkpoints.load_module(
                    factory, sub, key=f"{name}:{json.dumps(config[name], sort_keys=True)}")
            except checkpoints.CheckpointError as e:
                raise checkpoints.CheckpointError(f"{name}: {e}") from None
        sampling = config.get("sampling") or {}
        return cls(parts["generator"], parts["semantic"], parts["sync"],
                   MelCodec.from_dict(config["codec"]), meta=config.get("meta", {}), limits=limits,
                   onset_guidance=float(sampling.get("onset_guidance", 0.0)))

    def save_pretrained(self, folder: str | os.PathLike, meta: dict | None = None,
                        dtype: str = "float16", max_shard_mb: float | None = 12.0) -> Path:
        """Write config.json + safetensors (split into shards of at most `max_shard_mb`)."""
        config = {"format": FORMAT, "generator": self.cfg.to_dict(),
                  "semantic": self.semantic.cfg.to_dict(), "sync": self.sync.cfg.to_dict(),
                  "codec": self.codec.to_dict(), "sampling": {"onset_guidance": self.onset_guidance},
                  "meta": {**self.meta, **(meta or {})}}
        tensors = {}
        for name, module in (("generator", self.generator), ("semantic", self.semantic),
                             ("sync", self.sync)):
            tensors.update({f"{name}/{k}": v for k, v in checkpoints.state_to_flat(module).items()})
        folder = checkpoints.save_folder(folder, config, tensors, dtype=dtype)
        if max_shard_mb:
            _shard(folder / "model.safetensors", int(max_shard_mb * 2**20))
        return folder

    # ------------------------------------------------------------------ conditions
    @property
    def null_text(self) -> np.ndarray:
        """The learned null text embedding: feeding it equals dropping the text condition."""
        return np.asarray(self.generator.null_text[...], np.float32)

    def text_embedding(self, prompt: str) -> np.ndarray:
        prompt = (prompt or "").strip()
        if not prompt:
            return self.null_text
        if prompt not in self._text_cache:
            self._text_cache[prompt] = np.asarray(self.semantic.encode_text([prompt])[0], np.float32)
        return self._text_cache[prompt]

    def conditions_from_frames(self, frames8: np.ndarray, frames24: np.ndarray, prompt: str = "",
                               negative_prompt: str = "") -> Conditions:
        """frames8 (T_vs, H, W, 3) uint8 at 8 FPS, frames24 (T_syn, H, W, 3) at 24 FPS. The two
        encoders run side by side (a worker thread; XLA releases the GIL): neither fills both
        cores at these sizes."""
        sem = _ENCODER_POOL.submit(self.semantic.encode_frames, frames8)
        syn = np.asarray(self.sync.video_features(frames24), np.float32)       # (T_syn, D_syn)
        sem = np.asarray(sem.result(), np.float32)                             # (T_vs, D_sem)
        neg = self.text_embedding(negative_prompt) if (negative_prompt or "").strip() else None
        return Conditions(sem=sem, sync=syn, text=self.text_embedding(prompt), neg_text=neg,
                          onset=self.sync.onset_curve(syn))

    def sample(self, cond: Conditions, duration: float, steps: int = 8, guidance: float = 4.0,
               seed: int = 0, ref_latent: np.ndarray | None = None, ref_start: float = 0.0,
               progress: Callable[[int, int], None] | None = None,
               schedule: str = DEFAULT_SCHEDULE, onset_guidance: float | None = None) -> np.ndarray:
        """Conditions → latent (T_a, 64) for `duration` seconds (long-form when needed);
        onset_guidance None: the checkpoint's."""
        n = latent_frames(duration)
        onset_guidance = self.onset_guidance if onset_guidance is None else onset_guidance
        return sample_long(self._graph, cond, n, steps=steps, guidance=guidance, seed=seed,
                           ref=ref_latent, ref_start=int(round(ref_start * LATENT_RATE)),
                           progress=progress, schedule=schedule, onset_guidance=onset_guidance)

    def warmup(self) -> float:
        """Compile the sampler and encoders once (one window); returns seconds taken."""
        t0 = time.perf_counter()
        s = self.semantic.cfg.image_size
        y = self.sync.cfg.image_size
        d = min(self.cfg.window_seconds, 1.0)
        cond = self.conditions_from_frames(np.zeros((max(int(d * SEM_FPS), 1), s, s, 3), np.uint8),
                                           np.zeros((max(int(d * SYNC_FPS), 1), y, y, 3), np.uint8))
        self.sample(cond, d, steps=1, guidance=1.0)
        return time.perf_counter() - t0

    # ------------------------------------------------------------------ the entry point
    def generate(self, video, prompt: str = "", negative_prompt: str = "", steps: int = 8,
                 guidance: float = 4.0, seed: int | None = None, reference_audio=None,
                 reference_start: float = 0.0, duration: float | None = None, start: float = 0.0,
                 progress: Callable[[int, int], None] | None = None,
                 out_path: str | os.PathLike | None = None, mux: bool = True,
                 schedule: str = DEFAULT_SCHEDULE,
                 audio_codec: str = DEFAULT_AUDIO_CODEC) -> GenerationResult:
        """Generate synchronized audio for a video file and mux it in: `request.prepare` with
        this pipeline's limits, then `run`.

        video: path of a video file. reference_audio: None, a path, or (wave, sr); it is placed at
        `reference_start` seconds of the output and kept exactly (audio conditioning, A.1).
        start/duration select a range of the video (default: all of it). schedule: the
        sampler's step sizes (`sampler.step_sizes`; "uniform" is the paper's). audio_codec: the
        output mp4's sound, "flac" (lossless) or "aac".
        """
        t0 = time.perf_counter()
        req = request.prepare(video, prompt=prompt, negative_prompt=negative_prompt, steps=steps,
                              guidance=guidance, seed=seed, reference_audio=reference_audio,
                              reference_start=reference_start, start=start, duration=duration,
                              schedule=schedule, audio_codec=audio_codec, limits=self.limits)
        prepared = time.perf_counter() - t0
        res = self.run(req, progress=progress, out_path=out_path, mux=mux)
        res.timings = {"prepare": prepared, **res.timings, "total": res.timings["total"] + prepared}
        return res

    def run(self, req: GenerateRequest, progress: Callable[[int, int], None] | None = None,
            out_path: str | os.PathLike | None = None, mux: bool = True) -> GenerationResult:
        """Execute a checked request: read the frames, encode, sample, decode, mux. Neither the
        video is probed nor the reference decoded again (`request.prepare` did both)."""
        output = _OutputVideo(req, out_path) if mux else None   # begins while the model runs
        try:
            return self._run(req, progress, output)
        except BaseException:
            if output is not None:
                output.cancel()
            raise

    def _run(self, req: GenerateRequest, progress, output: "_OutputVideo | None") -> GenerationResult:
        timings: dict[str, float] = {}
        t_all = time.perf_counter()

        # --- read
        t0 = time.perf_counter()
        try:
            frames8, frames24 = video_io.read_streams(            # one decode pass
                req.video, [(SEM_FPS, self.semantic.cfg.image_size),
                            (SYNC_FPS, self.sync.cfg.image_size)],
                start=req.start, duration=req.duration, info=req.info)
        except video_io.VideoError as e:
            raise GenerationError(str(e)) from None
        if len(frames8) == 0 or len(frames24) == 0:
            raise GenerationError("The video has no frames in the selected range.")
        ref = req.reference
        ref_latent = None if ref is None else self.codec.encode(ref.wave, ref.sample_rate)
        timings["read"] = time.perf_counter() - t0

        # --- features (once per call)
        t0 = time.perf_counter()
        cond = self.conditions_from_frames(frames8, frames24, req.prompt, req.negative_prompt)
        timings["features"] = time.perf_counter() - t0

        # --- sampling
        t0 = time.perf_counter()
        latent = self.sample(cond, req.duration, req.steps, req.guidance, req.seed, ref_latent,
                             0.0 if ref is None else ref.start, progress, req.schedule)
        timings["sampling"] = time.perf_counter() - t0

        # --- decode
        t0 = time.perf_counter()
        wave = self.codec.decode(latent)
        n = int(round(req.duration * SAMPLE_RATE))
        wave = np.pad(wave, (0, max(n - len(wave), 0)))[:n]
        peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
        if peak > 0.99:
            wave = wave * (0.99 / peak)
        wave = wave.astype(np.float32)
        timings["decode"] = time.perf_counter() - t0

        # --- mux
        t0 = time.perf_counter()
        video_path = output.finish(wave) if output is not None else None
        timings["mux"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_all
        return GenerationResult(wave=wave, sample_rate=SAMPLE_RATE, latent=latent, timings=timings,
                                video_path=video_path, seed=req.seed, steps=req.steps,
                                guidance=req.guidance, duration=req.duration,
                                windows=window_spans(len(latent), self.cfg),
                                reference_span=None if ref is None else ref.span)


_ENCODER_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="salsav-semantic")


class _OutputVideo:
    """A request's output video, begun in a worker thread while the model runs: the range cut
    out (trimmed requests: a re-encode) and the mux's ffmpeg process started on it
    (`video_io.PendingMux`); `finish(wave)` adds the sound, `cancel()` drops it all."""
    _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="salsav-output")

    def __init__(self, req: GenerateRequest, out_path: str | os.PathLike | None):
        self.temp = out_path is None
        if self.temp:
            out_path = tempfile.NamedTemporaryFile(prefix="salsav-", suffix=".mp4", delete=False).name
        self.req, self.out_path, self.cut_path = req, str(out_path), None
        self._future = self._pool.submit(self._begin)

    def _begin(self) -> video_io.PendingMux:
        req, src = self.req, self.req.video
        if req.trimmed:
            self.cut_path = src = str(video_io.cut(req.video, req.start, req.duration,
                                                   Path(self.out_path).with_suffix(".cut.mp4")))
        return video_io.PendingMux(src, SAMPLE_RATE, self.out_path,   # the cut: probed anew
                                   info=None if req.trimmed else req.info,
                                   audio_codec=req.audio_codec)

    def finish(self, wave: np.ndarray) -> str:
        try:
            return str(self._future.result().finish(wave))
        except video_io.VideoError as e:
            raise GenerationError(str(e)) from None
        finally:
            self._drop_cut()

    def cancel(self) -> None:
        try:
            self._future.result().cancel()
        except Exception:     # noqa: BLE001  the failed request's own error is the one to report
            pass
        finally:
            self._drop_cut()
            if self.temp and os.path.exists(self.out_path):
                os.unlink(self.out_path)

    def _drop_cut(self) -> None:
        if self.cut_path and os.path.exists(self.cut_path):
            os.unlink(self.cut_path)


def _shard(path: Path, max_bytes: int) -> None:
    """Split one safetensors file into model-0000i-of-0000n.safetensors shards if it is big."""
    if path.stat().st_size <= max_bytes:
        return
    tensors = load_file(str(path))
    shards, cur, size = [], {}, 0
    for k in sorted(tensors):
        nb = tensors[k].nbytes
        if cur and size + nb > max_bytes:
            shards.append(cur)
            cur, size = {}, 0
        cur[k], size = tensors[k], size + nb
    shards.append(cur)
    for i, sh in enumerate(shards):
        save_file(sh, str(path.with_name(f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors")),
                  metadata={"format": "np"})
    path.unlink()


_DEFAULT: dict[str, Pipeline] = {}


def get_pipeline(path: str | None = None) -> Pipeline:
    """Process-wide cached pipeline (default: the bundled checkpoint)."""
    key = str(path or DEFAULT_CHECKPOINT)
    if key not in _DEFAULT:
        _DEFAULT[key] = Pipeline.from_pretrained(key)
    return _DEFAULT[key]


def generate(video, prompt: str = "", steps: int = 8, guidance: float = 4.0, seed: int | None = None,
             reference_audio=None, reference_start: float = 0.0, duration: float | None = None,
             progress=None, checkpoint: str | None = None, **kw) -> GenerationResult:
    """Module-level entry point on the default (bundled) checkpoint."""
    return get_pipeline(checkpoint).generate(video, prompt=prompt, steps=steps, guidance=guidance,
                                             seed=seed, reference_audio=reference_audio,
                                             reference_start=reference_start, duration=duration,
                                             progress=progress, **kw)
