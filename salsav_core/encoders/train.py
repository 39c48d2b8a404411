"""Train the semantic encoder and the sync model on SynthFoley clips made on the fly.

    python -m salsav_core.encoders.train semantic|sync --preset cpu --steps N --out DIR

A pool of clips is kept in memory and part of it is replaced every step, so clip synthesis
does not dominate. AdamW with warmup + cosine decay, a tqdm bar with the loss, periodic
checkpoints (config.json + model.safetensors + train_state.safetensors) and resume.
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm import tqdm

from .. import metrics
from ..data.synthfoley import world_clip_maker
from .audio_frontend import HOP, SR as SR_16K, log_mel, snippet_mels, to_16k
from .evaluation import event_frames
from .losses import dense_siglip_loss, frame_siglip_loss, shift_siglip_loss, siglip_loss, siglip_logits
from .motion import MotionSyncModel, frame_pool, onset_frames, onset_strength
from .presets import SemanticConfig, SyncConfig, semantic_preset, sync_preset
from .semantic import SemanticEncoder, frames_to_float
from .state_io import load_params, load_train_state, read_meta, save_folder
from .sync import SyncModel
from .text import tokenize

TRAIN_SEED_MAX = 1_000_000
SYNC_FPS = 24
SEM_STRIDE = 3   # 24 FPS -> 8 FPS


class ClipPool:
    """In-memory pool of prepared clips; `refresh(k)` replaces k random entries with new seeds."""

    def __init__(self, make_clip, prepare, size: int, duration: float, image_size: int, rng):
        self.make_clip, self.prepare, self.duration, self.rng = make_clip, prepare, duration, rng
        self.image_size = image_size
        self.items = [self._new() for _ in range(size)]

    def _new(self):
        seed = int(self.rng.integers(0, TRAIN_SEED_MAX))
        return self.prepare(self.make_clip(seed, duration=self.duration, size=self.image_size))

    def refresh(self, k: int):
        for i in self.rng.choice(len(self.items), size=min(k, len(self.items)), replace=False):
            self.items[i] = self._new()


# ---------------------------------------------------------------- batches (numpy)

def semantic_item(clip):
    return clip.frames[::SEM_STRIDE], clip.caption


def semantic_batch(pool: ClipPool, cfg: SemanticConfig, rng) -> dict:
    """One random 8 FPS frame per clip + its caption; labels mark every pair with the same caption."""
    idx = rng.choice(len(pool.items), size=min(cfg.batch, len(pool.items)), replace=False)
    frames = np.stack([pool.items[i][0][rng.integers(len(pool.items[i][0]))] for i in idx])
    caps = [pool.items[i][1] for i in idx]
    labels = np.array([[a == b for b in caps] for a in caps], np.float32)
    return {"frames": frames, "ids": tokenize(caps, cfg.vocab_buckets, cfg.max_words), "labels": labels}


def sync_item(clip):
    return clip.frames, to_16k(clip.audio, 44100)


def sync_batch(pool: ClipPool, cfg: SyncConfig, rng) -> dict:
    """`clips_per_batch` clips × `snippets_per_clip` snippets at distinct starts (hard negatives)."""
    f = cfg.snippet_frames
    token_s = cfg.time_patch * HOP / SR_16K                 # seconds per audio token
    frames, mels, shifted, offsets = [], [], [], []
    for i in rng.choice(len(pool.items), size=min(cfg.clips_per_batch, len(pool.items)), replace=False):
        fr, wave = pool.items[i]
        starts = rng.choice(len(fr) - f + 1, size=cfg.snippets_per_clip, replace=False)
        frames += [fr[s:s + f] for s in starts]
        mels.append(snippet_mels(wave, starts / SYNC_FPS, f / SYNC_FPS, cfg.mel_frames, cfg.n_mels))
        if cfg.shift_weight:
            v0 = starts / SYNC_FPS
            a0 = np.clip(v0 + token_s * rng.integers(-cfg.shift_tokens, cfg.shift_tokens + 1, len(starts)),
                         0.0, max(len(wave) / SR_16K - f / SYNC_FPS, 0.0))
            shifted.append(snippet_mels(wave, a0, f / SYNC_FPS, cfg.mel_frames, cfg.n_mels))
            offsets.append(a0 - v0)
    out = {"frames": np.stack(frames), "mel": np.concatenate(mels)}
    if cfg.shift_weight:
        out["mel_shift"] = np.concatenate(shifted)
        out["shift_labels"], out["shift_weights"] = shift_labels(
            np.concatenate(offsets), f, cfg.mel_frames // cfg.time_patch, token_s)
    return out


def motion_item(n_mels: int, detector_onsets: bool = False):
    """Clip -> (frames24, whole-clip log-mel[, (T,) 0/1 frames within ±1 of an onset that
    `metrics.detect_onsets` finds in the clip's own audio]) for the motion tower."""
    def item(clip):
        out = clip.frames, log_mel(to_16k(clip.audio, 44100), n_mels)
        if detector_onsets:
            on = metrics.merge_events(list(metrics.detect_onsets(clip.audio, 44100)))
            out += (event_frames(on, len(clip.frames)),)
        return out
    return item


def motion_batch(pool: ClipPool, cfg: SyncConfig, rng) -> dict:
    """`clips_per_batch` clips (frames and the log-mel of their audio), whole or cropped to
    `crop_seconds` at a random start on the 0.25 s grid (6 frames = 25 mel frames)."""
    idx = rng.choice(len(pool.items), size=min(cfg.clips_per_batch, len(pool.items)), replace=False)
    t = min(len(pool.items[i][0]) for i in idx)
    unit = SYNC_FPS // 4                                                  # frames per 0.25 s
    crop = min(int(round(cfg.crop_seconds * 4)) * unit, t - t % unit) if cfg.crop_seconds else t
    m = int(round(crop * SR_16K / HOP / SYNC_FPS)) + 1                   # mel frames for `crop`
    frames, mels, onsets = [], [], []
    for i in idx:
        fr, mel, *onset = pool.items[i]
        f0 = unit * int(rng.integers(0, (len(fr) - crop) // unit + 1))
        m0 = f0 * SR_16K // HOP // SYNC_FPS
        seg = mel[m0:m0 + m]
        frames.append(fr[f0:f0 + crop])
        mels.append(np.pad(seg, ((0, m - len(seg)), (0, 0)), mode="edge"))
        onsets += [o[f0:f0 + crop] for o in onset]
    out = {"frames": np.stack(frames), "mel": np.stack(mels)}
    if onsets:
        out["onset"] = np.stack(onsets)
    return out


TOKEN_S = 0.04   # one audio token of the `cpu` preset: time_patch 4 × 10 ms hop


def shift_labels(offsets_s, frames: int, tokens: int, token_s: float = TOKEN_S):
    """(B,) audio-minus-video start offsets -> labels, weights (B, t, t) for `shift_siglip_loss`.

    Video frames are pooled onto `tokens` groups as in the dense term. A pair is positive when
    the token's centre lies within half a token of the frame group's centre, negative when it
    is more than 1.5 tokens away, and ignored in between (e.g. 40 ms tokens vs 41.7 ms frames)."""
    p = frames // tokens
    vt = (np.arange(tokens) * p + p / 2) / SYNC_FPS                             # (t,) group centres
    at = (np.arange(tokens) + 0.5) * token_s                                    # (t,) token centres
    gap = np.abs(np.asarray(offsets_s)[:, None, None] + at[None, None, :] - vt[None, :, None])
    labels = (gap < token_s / 2).astype(np.float32)
    weights = ((gap < token_s / 2) | (gap > 1.5 * token_s)).astype(np.float32)
    return labels, weights


# ---------------------------------------------------------------- losses (traced)

def semantic_loss(model: SemanticEncoder, batch):
    zi = model.embed_images(frames_to_float(batch["frames"], model.cfg.image_size))   # (B, D)
    zt = model.embed_ids(batch["ids"])                                                # (B, D)
    loss = siglip_loss(zi, zt, model.log_t[...], model.bias[...], batch["labels"])
    hit = batch["labels"][jnp.arange(zi.shape[0]), jnp.argmax(zi @ zt.T, axis=1)]
    return loss, hit.mean()


def sync_loss(model: SyncModel, batch):
    vf = model.snippet_features(batch["frames"])          # (B, 16, D) per frame
    af = model.audio(batch["mel"])                        # (B, t_a, D) per 40 ms token
    zv = model.video_unit(vf.mean(axis=1))                # (B, D), as model.embed_video
    za = model.audio_unit(af.mean(axis=1))                # (B, D), as model.embed_mel
    loss = siglip_loss(zv, za, model.log_t[...], model.bias[...])
    if model.cfg.dense_weight or model.cfg.shift_weight:
        b, f, d = vf.shape
        t = af.shape[1]
        if f != t:                                        # e.g. 16 frames, 8 tokens: pool frames
            if f % t:
                raise ValueError(f"dense loss: {f} frames do not pool onto {t} audio tokens")
            vf = vf.reshape(b, t, f // t, d).mean(axis=2)
        fv = model.video_unit(vf)                                             # (B, t, D)
    if model.cfg.dense_weight:
        fa = model.audio_unit(af)                                             # (B, t, D)
        loss = loss + model.cfg.dense_weight * dense_siglip_loss(fv, fa, model.log_t[...], model.bias[...])
    if model.cfg.shift_weight:
        fs = model.audio_unit(model.audio(batch["mel_shift"]))                # (B, t, D)
        loss = loss + model.cfg.shift_weight * shift_siglip_loss(
            fv, fs, batch["shift_labels"], batch["shift_weights"], model.log_t[...], model.bias[...])
    acc = jnp.mean(jnp.argmax(siglip_logits(zv, za, 0.0, 0.0), axis=1) == jnp.arange(zv.shape[0]))
    return loss, acc


def motion_sync_loss(model: MotionSyncModel, batch):
    fv = model.frame_features(batch["frames"])                       # (B, T, D) per frame
    fa = model.audio_frames(batch["mel"], fv.shape[1])               # (B, T, D) same grid
    zv, za = model.video_unit(fv), model.audio_unit(fa)
    loss = frame_siglip_loss(zv, za, model.log_t[...], model.bias[...])
    strength = onset_strength(batch["mel"], fv.shape[1])            # (B, T), from the audio
    if model.cfg.flux_weight > 0:        # when the sound rises, from the picture alone
        pred = model.flux_head(fv)[..., 0]                           # (B, T)
        loss = loss + model.cfg.flux_weight * jnp.mean((pred - strength) ** 2)
    if model.cfg.onset_weight > 0:       # which frames are near an onset, from the picture alone
        logit = model.onset_head(fv)[..., 0]
        target = batch["onset"] if model.cfg.onset_target == "detector" else onset_frames(strength)
        bce = optax.sigmoid_binary_cross_entropy(logit, target)
        loss = loss + model.cfg.onset_weight * jnp.mean(bce)
    # accuracy: the audio frame that best matches each video frame, within the clip, is at most
    # one frame away (weighted by how far the audio frame stands out: onsets, not silence)
    sim = jnp.einsum("btd,bsd->bts", zv, za)
    hit = jnp.abs(jnp.argmax(sim, axis=2) - jnp.arange(fv.shape[1])[None]) <= 1
    energy = jnp.std(batch["mel"], axis=2)
    w = jnp.einsum("tm,bm->bt", jnp.asarray(frame_pool(batch["mel"].shape[1], fv.shape[1])), energy)
    return loss, jnp.sum(hit * w) / jnp.sum(w)


# ---------------------------------------------------------------- loop

def _optimizer(model, cfg, steps: int):
    sched = optax.warmup_cosine_decay_schedule(0.0, cfg.lr, min(cfg.warmup, max(steps - 1, 1)),
                                               max(steps, cfg.warmup + 1), end_value=cfg.lr * 0.05)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, weight_decay=cfg.weight_decay))
    return nnx.Optimizer(model, tx, wrt=nnx.Param)


def _train(kind, model, cfg, loss_fn, item_fn, batch_fn, steps, out_dir, resume, seed, log_every,
           make_clip, progress, max_seconds):
    opt = _optimizer(model, cfg, steps)
    start, history = 0, []
    if resume and out_dir and os.path.isfile(os.path.join(out_dir, "config.json")):
        meta = read_meta(out_dir)
        if meta.get("kind") == kind and type(cfg).from_dict(meta.get("config") or {}) == cfg:  # JSON: lists for tuples
            load_params(out_dir, model)
            if load_train_state(out_dir, opt):
                start, history = int(meta.get("step", 0)), list(meta.get("history", []))
    rng = np.random.default_rng([seed, start])
    t0 = time.time()
    pool = ClipPool(make_clip or world_clip_maker(getattr(cfg, "world", "default")), item_fn, cfg.pool_clips, cfg.clip_seconds,
                    cfg.image_size, rng)
    pool_s = time.time() - t0

    graphdef, state = nnx.split((model, opt))

    @jax.jit
    def step_fn(state, batch):
        m, o = nnx.merge(graphdef, state)
        (loss, acc), grads = nnx.value_and_grad(loss_fn, has_aux=True)(m, batch)
        o.update(m, grads)
        return nnx.state((m, o)), loss, acc

    def save(step):
        if out_dir:
            nnx.update((model, opt), state)
            save_folder(out_dir, {"kind": kind, "config": cfg.to_dict(), "step": step,
                                  "history": history}, model, opt)

    bar = tqdm(range(start, steps), initial=start, total=steps, desc=kind, disable=not progress,
               mininterval=2.0)
    losses, accs, t1 = [], [], time.time()
    step = start
    try:
        for step in bar:
            batch = batch_fn(pool, cfg, rng)
            state, loss, acc = step_fn(state, batch)
            pool.refresh(cfg.refresh_per_step)
            losses.append(float(loss)); accs.append(float(acc))
            bar.set_postfix(loss=f"{losses[-1]:.3f}", acc=f"{accs[-1]:.2f}")
            if (step + 1) % log_every == 0 or step + 1 == steps:
                history.append({"step": step + 1, "loss": float(np.mean(losses[-log_every:])),
                                "acc": float(np.mean(accs[-log_every:])),
                                "seconds": round(time.time() - t1, 1)})
                if not progress:
                    print(f"{kind} step {step + 1}/{steps} {history[-1]}", flush=True)
            if (step + 1) % cfg.ckpt_every == 0 and step + 1 < steps:
                save(step + 1)
            if max_seconds is not None and time.time() - t1 > max_seconds:
                step += 1
                break
        else:
            step = steps
    except KeyboardInterrupt:
        save(step)
        raise
    nnx.update((model, opt), state)
    save(max(step, start))
    tail = losses[-max(1, min(len(losses), log_every)):] if losses else [float("nan")]
    metrics = {"steps": max(step, start), "start_step": start, "train_seconds": time.time() - t1,
               "pool_seconds": pool_s, "final_loss": float(np.mean(tail)),
               "first_loss": losses[0] if losses else float("nan"), "losses": losses,
               "batch_acc": float(np.mean(accs[-max(1, min(len(accs), log_every)):])) if accs else float("nan"),
               "history": history}
    return model, metrics


def train_semantic(preset="cpu", steps: int = 2000, out_dir: str | None = None, resume: bool = True,
                   seed: int = 0, log_every: int = 50, make_clip=None, progress: bool = True,
                   max_seconds: float | None = None):
    """Train (or resume) the semantic encoder; returns (model, metrics)."""
    cfg = semantic_preset(preset) if isinstance(preset, str) else preset
    model = SemanticEncoder(cfg, nnx.Rngs(seed))
    return _train("semantic", model, cfg, semantic_loss, semantic_item, semantic_batch, steps, out_dir,
                  resume, seed, log_every, make_clip, progress, max_seconds)


def transfer_sync_params(src: SyncModel, dst: SyncModel):
    """`src`'s params shaped for `dst` (a copy): equal shapes are copied; the spatial position
    grid is resized (bilinear) when only `image_size` differs, so that a model trained on
    32 px frames can start a 64 px one. Any other mismatch is an error."""
    g_src = src.cfg.image_size // src.cfg.patch
    g_dst = dst.cfg.image_size // dst.cfg.patch
    want = nnx.state(dst, nnx.Param)

    def fit(path, a, b):
        if a.shape == b.shape:
            return jnp.copy(a)
        keys = [str(getattr(k, "key", getattr(k, "name", k))) for k in path]
        name = "/".join(keys)
        if "pos_space" in keys:
            grid = a.reshape(a.shape[0], g_src, g_src, a.shape[-1])                    # (1, g, g, d)
            return jax.image.resize(grid, (a.shape[0], g_dst, g_dst, a.shape[-1]),
                                    "bilinear").reshape(b.shape)
        raise ValueError(f"init param {name} has shape {a.shape}, the model wants {b.shape}")
    return jax.tree_util.tree_map_with_path(fit, nnx.state(src, nnx.Param), want)


def train_sync(preset="cpu", steps: int = 2000, out_dir: str | None = None, resume: bool = True,
               seed: int = 0, log_every: int = 50, make_clip=None, progress: bool = True,
               max_seconds: float | None = None, init: SyncModel | None = None):
    """Train (or resume) the sync model; returns (model, metrics). `init`: a trained SyncModel
    to start from (fine-tuning, e.g. with another loss); it may differ in `image_size` only
    (`transfer_sync_params`)."""
    cfg = sync_preset(preset) if isinstance(preset, str) else preset
    if cfg.tower == "motion":
        model = MotionSyncModel(cfg, nnx.Rngs(seed))
        if init is not None:
            nnx.update(model, jax.tree_util.tree_map(jnp.copy, nnx.state(init, nnx.Param)))
        item = motion_item(cfg.n_mels, cfg.onset_weight > 0 and cfg.onset_target == "detector")
        return _train("sync", model, cfg, motion_sync_loss, item, motion_batch,
                      steps, out_dir, resume, seed, log_every, make_clip, progress, max_seconds)
    model = SyncModel(cfg, nnx.Rngs(seed))
    if init is not None:
        nnx.update(model, transfer_sync_params(init, model))
    return _train("sync", model, cfg, sync_loss, sync_item, sync_batch, steps, out_dir, resume, seed,
                  log_every, make_clip, progress, max_seconds)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m salsav_core.encoders.train", description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["semantic", "sync"])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--max-minutes", type=float, default=None, help="stop (and checkpoint) after this long")
    ap.add_argument("--no-resume", action="store_true")
    ap.add_argument("--no-progress", action="store_true", help="plain log lines instead of a tqdm bar")
    ap.add_argument("--init", default=None, help="sync only: start from this trained sync model folder")
    a = ap.parse_args(argv)
    kw = {}
    if a.init is not None:
        if a.kind != "sync":
            ap.error("--init is for the sync model")
        from .pretrained import load_sync
        kw["init"] = load_sync(a.init)
    fn = train_semantic if a.kind == "semantic" else train_sync
    _, metrics = fn(a.preset, a.steps, a.out, resume=not a.no_resume, seed=a.seed,
                    log_every=a.log_every, progress=not a.no_progress,
                    max_seconds=None if a.max_minutes is None else 60 * a.max_minutes, **kw)
    print({k: v for k, v in metrics.items() if k not in ("losses", "history")})


if __name__ == "__main__":
    main()
