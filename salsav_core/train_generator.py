"""`salsav train generator`: train SALSA-V on SynthFoley with cached encoder features.

1. Make `n_clips` training clips (seeds < 1e6), one window long, in worker processes.
2. Fit the codec's normalisation stats; encode latents; run the (frozen) semantic encoder at
   8 FPS, the sync model at 24 FPS and the text tower on the captions, once: the feature cache.
3. Masked flow matching + shortcut loss with EMA (`training.make_train_step`), data-parallel
   over all local devices; checkpoints and resume; a tqdm bar with the loss.
4. Export the EMA generator with both encoders and the codec as one pipeline folder.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from . import checkpoints
from .codec import MelCodec
from .config import SAMPLE_RATE, model_preset
from .training import TRAIN_PRESETS, TrainConfig, init_train_state, make_mesh, make_train_step, \
    model_from_state, shard_batch


@dataclass(frozen=True)
class GeneratorRunConfig:
    """One generator training run."""
    model: str = "cpu-small"          # ModelConfig preset (window = clip length)
    objective: str = "paper"          # TrainConfig preset: "paper" (shortcut) or "flow"
    n_clips: int = 2000               # distinct training clips in the feature cache
    image_size: int = 64
    batch: int = 32
    steps: int = 4000
    lr: float = 3e-4
    warmup: int = 200
    ckpt_every: int = 500
    log_every: int = 50
    seed: int = 0
    workers: int = 0                  # clip-making processes (0: os.cpu_count())
    schedule: str = "constant"        # after warmup: "constant" or "cosine" (decay to 0 at `steps`)
    mask_max: int | None = None       # longest reference span in latent frames (None: TrainConfig's)
    onset_weight: float = 0.0         # TrainConfig.onset_weight (0: the paper's unweighted loss)
    world: str = "default"            # SynthFoley world of the clips: "default", "varied" or "mixed"


RUN_PRESETS = {
    "test": GeneratorRunConfig(model="test", n_clips=6, batch=4, steps=6, warmup=1, ckpt_every=3,
                               log_every=1, image_size=32, workers=1),
    "cpu": GeneratorRunConfig(),
    "gpu": GeneratorRunConfig(n_clips=4000, batch=64, steps=8000, ckpt_every=1000),
    # cool-down fine-tune of a trained pipeline (--init) on fresh clips, on this 2-core CPU:
    # cosine decay to 0, references up to 4.5 s (the audio-conditioning range of Fig. 6)
    "cpu-finetune": GeneratorRunConfig(n_clips=3000, batch=16, steps=3000, lr=1e-4, warmup=100,
                                       seed=1, schedule="cosine", mask_max=194, ckpt_every=250),
    # the same on a GPU lease: batch 64, a few thousand steps (re-learns new sync features)
    "gpu-finetune": GeneratorRunConfig(n_clips=3000, batch=64, steps=6000, lr=2e-4, warmup=200,
                                       seed=2, schedule="cosine", mask_max=194, ckpt_every=1000),
    # the 2-core CPU bundle recipe: the 2.2M generator from scratch on the mixed world's clips
    # (seed 1 picks the same 2,000 clips as cpu-finetune), cosine to 0 over what fits in the time
    "cpu-tiny": GeneratorRunConfig(model="cpu-tiny", n_clips=2000, batch=16, steps=3000, lr=6e-4,
                                   warmup=200, seed=1, schedule="cosine", world="mixed",
                                   ckpt_every=250),
}


# ----------------------------------------------------------------------------- feature cache

def _clip_arrays(args):
    seed, duration, size, world = args
    from .data.synthfoley import world_clip_maker
    c = world_clip_maker(world)(seed, duration, size)
    return c.frames, c.audio, c.caption


def make_clips(seeds, duration: float, size: int, workers: int = 0, world: str = "default"):
    """[(frames24 (T,H,W,3) uint8, audio (n,) f32, caption)] for the seeds, in parallel.
    world: "default" (classic SynthFoley), "varied" or "mixed" (varied for odd seeds)."""
    workers = workers or os.cpu_count() or 1
    jobs = [(int(s), duration, size, world) for s in seeds]
    if workers <= 1:
        return [_clip_arrays(j) for j in jobs]
    import multiprocessing as mp
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
        return list(ex.map(_clip_arrays, jobs, chunksize=8))


def prebuilt_clip_source(clips):
    """A `make_clip(seed, duration, size)` stand-in for the encoders' ClipPool that serves the
    prebuilt `make_clips` tuples (seed modulo their number), so encoders train on shared clips."""
    from types import SimpleNamespace

    def make_clip(seed, duration=None, size=None):
        frames, audio, caption = clips[seed % len(clips)]
        return SimpleNamespace(frames=frames, audio=audio, caption=caption)
    return make_clip


def encode_clips(clips, semantic, sync, codec: MelCodec) -> dict[str, np.ndarray]:
    """Clips → the generator's training arrays (features computed once)."""
    x1, sem, syn, texts = [], [], [], []
    s_sem, s_syn = semantic.cfg.image_size, sync.cfg.image_size
    for frames, audio, caption in clips:
        x1.append(codec.encode(audio, SAMPLE_RATE))                        # (T_a, 64)
        sem.append(semantic.encode_frames(_resize(frames[::3], s_sem)))    # (T_vs, D_sem): 8 FPS
        texts.append(caption)
    if hasattr(sync, "video_features_many"):                               # whole clips, batched
        syn = sync.video_features_many([_resize(f, s_syn) for f, _, _ in clips])
    else:
        syn = [sync.video_features(_resize(f, s_syn)) for f, _, _ in clips]  # (T_syn, D_syn)
    text = np.concatenate([semantic.encode_text(texts[i:i + 256]) for i in range(0, len(texts), 256)])
    return dict(x1=np.stack(x1).astype(np.float32), sem=np.stack(sem).astype(np.float32),
                sync=np.stack(syn).astype(np.float32), text=np.asarray(text, np.float32))


def _resize(frames: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour square resize of (T, H, W, 3) frames (no-op when sizes match)."""
    if frames.shape[1] == size and frames.shape[2] == size:
        return frames
    iy = (np.arange(size) * frames.shape[1] / size).astype(int)
    ix = (np.arange(size) * frames.shape[2] / size).astype(int)
    return frames[:, iy][:, :, ix]


def build_cache(run: GeneratorRunConfig, semantic, sync, out_dir: Path, log=print, clips=None,
                codec: MelCodec | None = None):
    """Make (or reload) the feature cache and the codec (fitted here unless given). `clips`:
    prebuilt [(frames24, audio, caption)] to use instead of making `run.n_clips` new ones."""
    path = out_dir / "cache.npz"
    cfg = model_preset(run.model)
    encoders = json.loads(json.dumps({"semantic": semantic.cfg.to_dict(), "sync": sync.cfg.to_dict()}))
    if path.exists():
        data, codec = load_cache(out_dir, encoders)
        log(f"feature cache: reloaded {len(data['x1'])} clips from {path}")
        return data, codec
    t0 = time.perf_counter()
    if clips is None:
        rng = np.random.default_rng(run.seed)
        seeds = rng.choice(1_000_000, size=run.n_clips, replace=False)
        clips = make_clips(seeds, cfg.window_seconds, run.image_size, run.workers, run.world)
    t1 = time.perf_counter()
    if codec is None:
        codec = MelCodec().fit_stats([(a, SAMPLE_RATE) for _, a, _ in clips[: min(256, len(clips))]])
    data = encode_clips(clips, semantic, sync, codec)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    (out_dir / "codec.json").write_text(json.dumps(codec.to_dict()))
    (out_dir / "cache_encoders.json").write_text(json.dumps(encoders))
    log(f"feature cache: {len(clips)} clips, make {t1 - t0:.1f} s, encode "
        f"{time.perf_counter() - t1:.1f} s; shapes " +
        ", ".join(f"{k} {v.shape}" for k, v in data.items()))
    return data, codec


CACHE_KEYS = ("x1", "sem", "sync", "text")


def load_cache(out_dir: Path, encoders: dict) -> tuple[dict, MelCodec]:
    """The feature cache of `out_dir`, checked: readable, complete, consistent, and made by the
    encoders that train now (`encoders`: their config dicts). Anything else is a
    TrainingInputError that says what to do, never a traceback from numpy."""
    path = out_dir / "cache.npz"
    fix = f"delete {out_dir} (or pass another --out) to rebuild it"
    try:
        with np.load(path) as z:
            data = {k: np.asarray(z[k]) for k in z.files}
        codec = MelCodec.from_dict(json.loads((out_dir / "codec.json").read_text()))
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as e:
        raise TrainingInputError(f"the feature cache in {out_dir} is unreadable "
                                 f"({type(e).__name__}); {fix}") from None
    missing = [k for k in CACHE_KEYS if k not in data]
    n = {len(v) for v in data.values()}
    if missing or len(n) != 1 or 0 in n:
        raise TrainingInputError(f"the feature cache in {out_dir} is incomplete "
                                 f"(missing: {', '.join(missing) or 'none'}, clip counts {sorted(n)}); {fix}")
    meta = out_dir / "cache_encoders.json"
    made_by = json.loads(meta.read_text()) if meta.exists() else None
    if made_by is not None and not _same_encoders(made_by, encoders):
        what = [k for k in encoders if not _same_encoders(made_by, encoders, k)]
        raise TrainingInputError(f"the feature cache in {out_dir} was made by another {' and '.join(what)} "
                                 f"encoder than the one given now; {fix}")
    dims = {"sem": encoders["semantic"]["dim"], "sync": encoders["sync"]["dim"]}
    for k, d in dims.items():
        if data[k].shape[-1] != d:
            raise TrainingInputError(f"the feature cache in {out_dir} has {k} features of width "
                                     f"{data[k].shape[-1]}, the encoder gives {d}; {fix}")
    return data, codec


def _same_encoders(a: dict, b: dict, which=("semantic", "sync")) -> bool:
    """Encoder config dicts compared as configs: a field added since the cache was written
    takes its default on both sides (JSON lists and tuples compare equal too)."""
    from .encoders.presets import SemanticConfig, SyncConfig
    kinds = {"semantic": SemanticConfig, "sync": SyncConfig}
    return all(isinstance(a.get(k), dict) and isinstance(b.get(k), dict)
               and kinds[k].from_dict(a[k]) == kinds[k].from_dict(b[k])
               for k in ((which,) if isinstance(which, str) else which))


class TrainingInputError(ValueError):
    """A feature cache, train state or config that this run cannot use (said plainly)."""


# ----------------------------------------------------------------------------- resume

def _flat_tree(tree) -> dict[str, np.ndarray]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves}


def save_train_state(folder: Path, state, run: GeneratorRunConfig) -> None:
    from safetensors.numpy import save_file
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "train_state.safetensors.tmp"
    save_file(_flat_tree(state), str(tmp))
    os.replace(tmp, folder / "train_state.safetensors")
    (folder / "train_run.json").write_text(json.dumps(dataclasses.asdict(run), indent=2))


def load_train_state(folder: Path, state):
    """Fill `state` (a TrainState) from folder/train_state.safetensors, or return None."""
    from safetensors.numpy import load_file
    f = folder / "train_state.safetensors"
    if not f.exists():
        return None
    try:
        flat = load_file(str(f))
    except Exception as e:          # safetensors raises its own error types for a damaged file
        raise TrainingInputError(f"the train state {f} is unreadable ({type(e).__name__}); delete it "
                                 f"or pass --no-resume to start over") from None
    paths, treedef = jax.tree_util.tree_flatten_with_path(state)
    leaves = []
    for p, v in paths:
        k = jax.tree_util.keystr(p)
        if k not in flat or flat[k].shape != np.shape(v):
            raise TrainingInputError(f"the train state in {folder} belongs to another model or "
                                     f"objective (first mismatch at {k}); resume with the run's own "
                                     f"settings, or pass --no-resume or another --out")
        leaves.append(jnp.asarray(flat[k], dtype=jnp.asarray(v).dtype))
    return jax.tree_util.tree_unflatten(treedef, leaves)


# ----------------------------------------------------------------------------- training

def train_generator(run: GeneratorRunConfig, semantic, sync, out_dir: str | os.PathLike,
                    export_dir: str | os.PathLike | None = None, resume: bool = True,
                    max_seconds: float | None = None, log=print, progress: bool = True, clips=None,
                    init=None, deadline: float | None = None, fit_rate: float | None = None,
                    codec: MelCodec | None = None):
    """Train the generator; returns (pipeline, history). Resumes from out_dir if possible.
    `init`: a trained Pipeline to fine-tune (its generator starts params and EMA, its codec
    is kept so that the latents keep their meaning; `codec` does the same without `init`). `deadline` (a `time.perf_counter()`
    value) caps the training time left once the feature cache is built; with `fit_rate`
    (steps/s) the run's length, and so its lr schedule, is cut to what fits in that time."""
    from .pipeline import Pipeline
    out_dir = Path(out_dir)
    data, codec = build_cache(run, semantic, sync, out_dir, log, clips,
                              codec=codec if init is None else init.codec)
    if deadline is not None:
        left = max(deadline - time.perf_counter(), 1.0)
        max_seconds = left if max_seconds is None else min(max_seconds, left)
    if fit_rate and max_seconds is not None and run.steps > fit_rate * max_seconds:
        run = dataclasses.replace(run, steps=max(int(fit_rate * max_seconds), 1))
        log(f"{max_seconds:.0f} s left: {run.steps} steps at {fit_rate:g} steps/s")
    base = model_preset(run.model)
    cfg = dataclasses.replace(base, sem_dim=data["sem"].shape[-1], text_dim=data["text"].shape[-1],
                              sync_dim=data["sync"].shape[-1], shortcut=run.objective != "flow")
    tcfg: TrainConfig = dataclasses.replace(TRAIN_PRESETS[run.objective], lr=run.lr)
    if run.mask_max is not None:
        tcfg = dataclasses.replace(tcfg, mask_max=run.mask_max)
    if run.onset_weight < 0:
        raise ValueError(f"onset_weight must be >= 0, got {run.onset_weight}")
    tcfg = dataclasses.replace(tcfg, onset_weight=run.onset_weight)
    mesh = make_mesh()
    n_dev = mesh.shape["data"]
    batch = max(run.batch // n_dev, 1) * n_dev
    tcfg = _with_warmup(tcfg, run)
    start = None
    if init is not None:
        if dataclasses.replace(init.cfg, shortcut=cfg.shortcut) != cfg or (init.cfg.shortcut and not cfg.shortcut):
            raise TrainingInputError(f"the --init generator ({init.cfg.name}, shortcut={init.cfg.shortcut}) does "
                                     f"not match this run's ({cfg.name}, shortcut={cfg.shortcut})")
        from flax import nnx
        g, w = nnx.split(init.generator)
        if init.cfg != cfg:   # a plain-flow generator goes on as a shortcut one: its d input is switched on
            from .model.network import SalsaV
            g = nnx.split(nnx.eval_shape(lambda: SalsaV(cfg, nnx.Rngs(0))))[0]
        start = nnx.merge(g, jax.tree.map(jnp.copy, w))   # a copy: the train step donates its buffers
    graphdef, state = init_train_state(cfg, tcfg, seed=run.seed, mesh=None, model=start)
    step_fn = make_train_step(graphdef, tcfg, mesh)
    if resume:
        loaded = load_train_state(out_dir, state)
        if loaded is not None:
            state = loaded
            log(f"resumed at step {int(state.step)} from {out_dir}")
    from .training import replicate
    state = replicate(state, mesh)
    rng = np.random.default_rng(run.seed + int(state.step))
    key = jax.random.key(run.seed)
    n = len(data["x1"])
    history = []
    t_start = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=run.steps, initial=int(state.step), desc="generator", dynamic_ncols=True)
    step = int(state.step)
    while step < run.steps:
        idx = rng.choice(n, size=batch, replace=n < batch)
        b = shard_batch({k: v[idx] for k, v in data.items()}, mesh)
        state, m = step_fn(state, b, jax.random.fold_in(key, step))
        step += 1
        if step % run.log_every == 0 or step == run.steps:
            m = {k: float(v) for k, v in m.items()}
            history.append({"step": step, "time": time.perf_counter() - t_start, **m})
            if bar is not None:
                bar.set_postfix(loss=f"{m['loss']:.4f}", flow=f"{m['flow_loss']:.4f}",
                                sc=f"{m['shortcut_loss']:.4f}")
            else:
                log(f"step {step} loss {m['loss']:.4f} flow {m['flow_loss']:.4f} "
                    f"shortcut {m['shortcut_loss']:.4f}")
        if bar is not None:
            bar.update(1)
        if step % run.ckpt_every == 0:
            save_train_state(out_dir, state, run)
        if max_seconds is not None and time.perf_counter() - t_start > max_seconds:
            log(f"time budget reached at step {step}")
            break
    if bar is not None:
        bar.close()
    save_train_state(out_dir, state, run)
    (out_dir / "history.json").write_text(json.dumps(history))
    pipe = Pipeline(model_from_state(graphdef, state, ema=True), semantic, sync, codec,
                    meta={"trained_steps": int(state.step) + (0 if init is None else
                                                               int(init.meta.get("trained_steps", 0))),
                          "run": dataclasses.asdict(run),
                          **({} if init is None else {"init": dict(init.meta)}),
                          "train_seconds": time.perf_counter() - t_start,
                          "devices": [str(d) for d in jax.local_devices()]})
    if export_dir is not None:
        pipe.save_pretrained(export_dir)
        (Path(export_dir) / "history.json").write_text(json.dumps(history))
    return pipe, history


def _with_warmup(tcfg: TrainConfig, run: GeneratorRunConfig) -> TrainConfig:
    """The same config with the run's learning-rate schedule (an optax schedule as the lr):
    linear warmup, then constant or a cosine decay to 0 at `run.steps`."""
    import optax
    if run.schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {run.schedule!r}")
    warm = run.warmup if run.warmup > 1 else 0
    sched = (optax.constant_schedule(tcfg.lr) if run.schedule == "constant" else
             optax.cosine_decay_schedule(tcfg.lr, max(run.steps - warm, 1)))
    if warm:
        sched = optax.join_schedules([optax.linear_schedule(0.0, tcfg.lr, warm), sched], [warm])
    return dataclasses.replace(tcfg, lr=sched)


def main(argv=None):
    p = argparse.ArgumentParser(prog="salsav train generator", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu", choices=sorted(RUN_PRESETS))
    p.add_argument("--semantic", help="trained semantic encoder folder")
    p.add_argument("--sync", help="trained sync model folder")
    p.add_argument("--init", default=None,
                   help="fine-tune this pipeline checkpoint (folder or Hub id); its encoders "
                        "and codec are used unless --semantic/--sync are given")
    p.add_argument("--encoders", default=None,
                   help="train a new generator on this pipeline checkpoint's encoders and codec "
                        "(--semantic/--sync override its encoders)")
    p.add_argument("--model", default=None, help="ModelConfig preset (default: the preset's)")
    p.add_argument("--out", default="runs/generator", help="run folder (cache, train state)")
    p.add_argument("--export", default=None, help="write the pipeline checkpoint here at the end")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--clips", type=int, default=None)
    p.add_argument("--objective", choices=sorted(TRAIN_PRESETS), default=None)
    p.add_argument("--seed", type=int, default=None, help="run seed (also picks the training clips)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--onset-weight", type=float, default=None,
                   help="weight transient frames more in the loss (0: the paper's loss)")
    p.add_argument("--world", choices=["default", "varied", "mixed"], default=None,
                   help="SynthFoley world of the training clips (default: the preset's)")
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--no-resume", action="store_true")
    a = p.parse_args(argv)
    try:
        _run_cli(p, a)
    except (TrainingInputError, checkpoints.CheckpointError, FileNotFoundError) as e:
        print(f"salsav train generator: error: {e}", file=sys.stderr)
        return 2
    return 0


def _run_cli(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    run = RUN_PRESETS[a.preset]
    over = {k: v for k, v in dict(model=a.model, steps=a.steps, batch=a.batch, n_clips=a.clips, seed=a.seed,
                                  objective=a.objective, lr=a.lr,
                                  onset_weight=a.onset_weight, world=a.world).items() if v is not None}
    run = dataclasses.replace(run, **over)
    from .encoders.pretrained import load_semantic, load_sync
    from .pipeline import Pipeline
    if a.init is not None and a.encoders is not None:
        p.error("--init and --encoders exclude each other (--init keeps its encoders already)")
    init = Pipeline.from_pretrained(a.init) if a.init is not None else None
    donor = init or (Pipeline.from_pretrained(a.encoders) if a.encoders is not None else None)
    if init is not None:
        run = dataclasses.replace(run, model=preset_name(init.cfg))
    elif donor is None and (a.semantic is None or a.sync is None):
        p.error("--semantic and --sync are required without --init or --encoders")
    sem = load_semantic(a.semantic) if a.semantic else donor.semantic
    syn = load_sync(a.sync) if a.sync else donor.sync
    train_generator(run, sem, syn, a.out, a.export, resume=not a.no_resume,
                    max_seconds=None if a.max_minutes is None else 60 * a.max_minutes, init=init,
                    codec=None if donor is None else donor.codec)


def preset_name(cfg) -> str:
    """The ModelConfig preset whose shape `cfg` has (encoder widths aside)."""
    from .config import MODEL_PRESETS
    for name, pre in MODEL_PRESETS.items():
        if dataclasses.replace(cfg, sem_dim=pre.sem_dim, text_dim=pre.text_dim,
                               sync_dim=pre.sync_dim, shortcut=pre.shortcut) == pre:
            return name
    raise ValueError(f"--init generator ({cfg.name!r}) matches no ModelConfig preset")


if __name__ == "__main__":
    main()
