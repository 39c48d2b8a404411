"""A simulated listening study whose truth is known (the paper's Table 1 human scores).

Score model (latent Gaussian, per rating):
    x      = mu[system, axis] + rater_bias[p] + track[p, trial, system] + noise
             + clip[c] + rater_system[p, s] + clip_system[c, s] + rater_clip[p, c]
    latent = 3 + scale[p] * (x - 3)          (scale[p] = exp(N(0, rater_scale_sd^2)): scale use)
    score  = clip(round(latent), 1, 5)
rater_bias is shared by all of a rater's scores (what makes naive CIs too narrow), track is
shared by the three axes of one track. The heterogeneity terms (clip, rater x system
preferences, clip x system effects, rater x clip impressions, scale use) default to 0, i.e. the
original model; every one of them has mean 0 over the population of raters and clips. `mu` is
calibrated so that the *expected discrete score* over that population equals the target
exactly: E[score] = 1 + sum_{k=1..4} Phi((mu - k - 1/2) / s) with s^2 the sum of the additive
variances (averaged over scale[p] by Gauss-Hermite quadrature when scale use varies), so CI
coverage of the Table 1 value is meaningful.

`simulate_ratings` builds the balanced design itself (fast, pure, for coverage studies);
`store_simulated_study` runs the same raters through the study platform's own service layer
(manifest -> participants -> trials -> submit_ratings) into a database.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

# The paper's Table 1 (right): human evaluation, Overall / Quality / Sync.
PAPER_MOS = {
    "FoleyCrafter": {"overall": 2.78, "quality": 2.46, "sync": 2.37},
    "MMAudio": {"overall": 3.29, "quality": 3.16, "sync": 2.92},
    "SALSA-V": {"overall": 3.43, "quality": 2.96, "sync": 3.52},
}
AXES = ("overall", "quality", "sync")
LO, HI = 1, 5


@dataclasses.dataclass(frozen=True)
class SimConfig:
    n_participants: int = 18
    n_trials: int = 10
    n_clips: int = 20
    rater_sd: float = 0.4       # per-rater bias, shared by all their scores
    track_sd: float = 0.35      # per-track impression, shared by the track's axes
    noise_sd: float = 0.75      # per-score noise
    n_random_raters: int = 0    # extra inattentive raters: uniform random scores
    n_flat_raters: int = 0      # extra raters who always answer 3
    clip_sd: float = 0.0        # per-clip offset, shared by every rater and system on the clip
    rater_system_sd: float = 0.0  # a rater's preference for a system (mean 0 over raters)
    clip_system_sd: float = 0.0   # a clip that suits one system better (mean 0 over clips)
    rater_clip_sd: float = 0.0    # a rater's impression of one clip, shared by its tracks
    rater_scale_sd: float = 0.0   # log-sd of each rater's stretch of the scale around 3
    truth: tuple = tuple((s, tuple(v[a] for a in AXES)) for s, v in PAPER_MOS.items())

    @property
    def systems(self) -> list[str]:
        return [s for s, _ in self.truth]

    def target(self, system: str, axis: str) -> float:
        return dict(self.truth)[system][AXES.index(axis)]

    @property
    def total_sd(self) -> float:
        return float(np.sqrt(self.rater_sd**2 + self.track_sd**2 + self.noise_sd**2 + self.clip_sd**2
                             + self.rater_system_sd**2 + self.clip_system_sd**2
                             + self.rater_clip_sd**2))


def null_truth(value: float = 3.0, systems=("A", "B", "C")) -> tuple:
    """A `truth` with no difference between systems (every system and axis at `value`)."""
    return tuple((s, (value,) * len(AXES)) for s in systems)


# Heterogeneity as it is met in listening tests (on the latent scale): raters differ in bias
# and in how much of the scale they use, prefer systems differently (sd 0.3), clips suit
# systems differently (sd 0.3), and one clip can please a rater for all its tracks.
HETEROGENEOUS = dict(clip_sd=0.3, rater_system_sd=0.3, clip_system_sd=0.3, rater_clip_sd=0.2,
                     rater_scale_sd=0.25)


PRESETS = {
    "paper": SimConfig(),
    "paper-with-bad-raters": SimConfig(n_random_raters=2, n_flat_raters=1),
    "large": SimConfig(n_participants=60, n_clips=30),
    # the paper's design: 18 raters, every one rates the same 10 clips (x 3 systems x 3 axes)
    "paper-crossed": SimConfig(n_clips=10, **HETEROGENEOUS),
    "null-crossed": SimConfig(n_clips=10, truth=null_truth(), **HETEROGENEOUS),
}


MID = 3.0            # the point of the scale that a rater's scale use stretches around
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(40)     # nodes/weights for E over N(0, 1)


def expected_score(mu: float, sd: float, scale_sd: float = 0.0) -> float:
    """E[clip(round(X), 1, 5)] for X = MID + S (Y - MID), Y ~ N(mu, sd^2), log S ~ N(0, scale_sd^2)."""
    k = np.arange(LO, HI) + 0.5
    if scale_sd == 0:
        return float(LO + stats.norm.cdf((mu - k) / sd).sum())
    s = np.exp(scale_sd * _GH_X)[:, None]                                 # (Q, 1)
    p = stats.norm.cdf((MID + s * (mu - MID) - k[None]) / (s * sd))      # (Q, 4)
    return float(LO + (_GH_W @ p.sum(1)) / _GH_W.sum())


def calibrate(target: float, sd: float, scale_sd: float = 0.0) -> float:
    """The latent mean whose rounded, clipped score has expectation `target` (1 < target < 5)."""
    if not LO < target < HI:
        raise ValueError(f"target mean {target} must lie strictly inside ({LO}, {HI})")
    return float(optimize.brentq(lambda m: expected_score(m, sd, scale_sd) - target, -10, 15,
                                 xtol=1e-12))


def latent_means(cfg: SimConfig) -> dict[tuple[str, str], float]:
    return {(s, a): calibrate(cfg.target(s, a), cfg.total_sd, cfg.rater_scale_sd)
            for s in cfg.systems for a in AXES}


def true_means(cfg: SimConfig) -> pd.DataFrame:
    """Tidy truth: system, axis, true_mean (the expectation of the discrete score)."""
    return pd.DataFrame([{"system": s, "axis": a, "true_mean": cfg.target(s, a)}
                         for s in cfg.systems for a in AXES])


class Rater:
    """One simulated participant: kind in {"normal", "random", "flat"}, with a personal bias."""

    def __init__(self, cfg: SimConfig, mu: dict, kind: str, rng: np.random.Generator,
                 clip_fx: dict | None = None):
        self.cfg, self.mu, self.kind, self.rng = cfg, mu, kind, rng
        self.bias = rng.normal(0, cfg.rater_sd)
        # heterogeneity draws only when asked for, so the default model keeps its random stream
        self.scale = float(np.exp(rng.normal(0, cfg.rater_scale_sd))) if cfg.rater_scale_sd else 1.0
        self.prefs = ({s: rng.normal(0, cfg.rater_system_sd) for s in cfg.systems}
                      if cfg.rater_system_sd else {})
        self.clip_fx = clip_fx or {}
        self._clip_mood: dict = {}

    def offset(self, system: str | None, clip: int | None) -> float:
        """The rater's and the clip's shared part of one track's latent score."""
        if clip is None:
            return self.prefs.get(system, 0.0)
        if self.cfg.rater_clip_sd and clip not in self._clip_mood:
            self._clip_mood[clip] = self.rng.normal(0, self.cfg.rater_clip_sd)
        return (self.prefs.get(system, 0.0) + self._clip_mood.get(clip, 0.0)
                + self.clip_fx.get(clip, 0.0) + self.clip_fx.get((clip, system), 0.0))

    def rate_track(self, system: str | None, check_kind: str | None = None,
                   clip: int | None = None) -> dict[str, int]:
        """{axis: score} for one track; attention-check tracks are heard as bad (if attentive)."""
        if self.kind == "random":
            return {a: int(self.rng.integers(LO, HI + 1)) for a in AXES}
        if self.kind == "flat":
            return {a: 3 for a in AXES}
        track = self.rng.normal(0, self.cfg.track_sd) + self.offset(system, clip)
        out = {}
        for a in AXES:
            m = self.mu[(system, a)] if system is not None else 1.0
            if check_kind == "anchor" or (check_kind == "offset" and a in ("sync", "overall")):
                m = 0.8
            x = m + self.bias + track + self.rng.normal(0, self.cfg.noise_sd)
            if self.scale != 1.0:
                x = MID + self.scale * (x - MID)
            out[a] = int(np.clip(np.floor(x + 0.5), LO, HI))
        return out


def clip_effects(cfg: SimConfig, rng: np.random.Generator) -> dict:
    """{clip: offset, (clip, system): effect} for clips 0..n_clips-1 (empty when both sds are 0)."""
    fx: dict = {}
    if cfg.clip_sd:
        fx.update({c: rng.normal(0, cfg.clip_sd) for c in range(cfg.n_clips)})
    if cfg.clip_system_sd:
        fx.update({(c, s): rng.normal(0, cfg.clip_system_sd)
                   for c in range(cfg.n_clips) for s in cfg.systems})
    return fx


def make_raters(cfg: SimConfig, rng: np.random.Generator) -> list[Rater]:
    mu = latent_means(cfg)
    kinds = (["normal"] * cfg.n_participants + ["random"] * cfg.n_random_raters
             + ["flat"] * cfg.n_flat_raters)
    raters = [Rater(cfg, mu, k, rng) for k in kinds]
    fx = clip_effects(cfg, rng)
    for r in raters:
        r.clip_fx = fx
    return raters


def simulate_ratings(cfg: SimConfig = SimConfig(), seed: int = 0) -> pd.DataFrame:
    """The study in the export's long format, without a database (balanced clip assignment,
    per-trial label shuffles). Participant ids are 'p01', ...; clips 'clip00', ...
    """
    rng = np.random.default_rng(seed)
    raters = make_raters(cfg, rng)
    labels = "ABCDEFGH"[: len(cfg.systems)]
    t0 = dt.datetime(2026, 1, 1)
    rows, trial_id = [], 0
    for i, r in enumerate(raters):
        pid = f"p{i + 1:02d}"
        clips = [(i * cfg.n_trials + j) % cfg.n_clips for j in range(cfg.n_trials)]
        rng.shuffle(clips)
        for order, c in enumerate(clips):
            trial_id += 1
            perm = rng.permutation(len(cfg.systems))
            for lab, k in zip(labels, perm):
                s = cfg.systems[k]
                for a, score in r.rate_track(s, clip=c).items():
                    rows.append((pid, f"ext-{pid}", trial_id, order, f"clip{c:02d}", s, lab, a,
                                 score, t0 + dt.timedelta(seconds=trial_id), False, False, r.kind))
    cols = ["participant_id", "external_id", "trial_id", "trial_order", "clip", "system", "label",
            "axis", "score", "rated_at", "attention_check", "excluded", "rater_kind"]
    df = pd.DataFrame(rows, columns=cols)
    df.attrs["systems"] = list(cfg.systems)
    df.attrs["axes"] = list(AXES)
    return df


# ----------------------------------------------------------------------------- via the study platform

def write_manifest(workdir: Path, cfg: SimConfig, name: str, attention: bool = True) -> Path:
    """A study manifest with tiny placeholder media (one short video, one wav per system)."""
    import json

    import imageio_ffmpeg
    import soundfile

    media = workdir / "media"
    media.mkdir(parents=True, exist_ok=True)
    video = media / "clip.mp4"
    if not video.exists():
        frames = np.zeros((24, 16, 16, 3), np.uint8)  # (T, H, W, 3): 1 s at 24 FPS
        w = imageio_ffmpeg.write_frames(str(video), (16, 16), fps=24, macro_block_size=1,
                                        output_params=["-loglevel", "error"])
        w.send(None)
        for f in frames:
            w.send(f.tobytes())
        w.close()
    tracks = {}
    for k, s in enumerate(cfg.systems + ["anchor"]):
        p = media / f"track{k}.wav"
        soundfile.write(str(p), np.zeros(16000, np.float32), 16000)    # 1 s of silence
        tracks[s] = p.name
    manifest = {
        "name": name, "systems": cfg.systems, "trials_per_participant": cfg.n_trials,
        "require_play": False,  # simulated raters do not play media; the study would refuse them
        "clips": [{"name": f"clip{c:02d}", "video": "media/clip.mp4",
                   "tracks": {s: f"media/{tracks[s]}" for s in cfg.systems}}
                  for c in range(cfg.n_clips)],
    }
    if attention:
        manifest["attention_checks"] = {"per_participant": 1, "items": [
            {"kind": "offset", "clip": "clip00", "replaces": cfg.systems[-1], "offset": 0.5},
            {"kind": "anchor", "clip": "clip01", "replaces": cfg.systems[0],
             "audio": f"media/{tracks['anchor']}"}]}
    path = workdir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path


def store_simulated_study(db_url: str, workdir, cfg: SimConfig = SimConfig(), seed: int = 0,
                          name: str = "simulated-table1", attention: bool = True) -> int:
    """Run the simulated raters through the study service into `db_url`; returns the study id.

    Each rater joins (service.create_participant: balanced clips, stored seed, label shuffle),
    fetches trials one by one (service.next_trial) and submits nine scores per trial
    (service.submit_ratings). The rater hears each label's true system (server-side truth).
    """
    from study import db, manifest, service

    workdir = Path(workdir)
    engine = db.make_engine(db_url)
    study_id = manifest.load_manifest(engine, write_manifest(workdir, cfg, name, attention),
                                      derived_dir=workdir / "derived")
    rng = np.random.default_rng(seed)
    for i, rater in enumerate(make_raters(cfg, rng)):
        with db.write_session(engine) as s:
            token = service.create_participant(s, study_id, external_id=f"sim-{i + 1:02d}-{rater.kind}",
                                               seed=seed * 1000 + i).token
        while True:
            with db.write_session(engine) as s:
                trial = service.next_trial(s, token)
                if trial is None:
                    break
                ratings = {it.label: rater.rate_track(it.track.system.name if it.track.system else None,
                                                      it.track.check_kind)
                           for it in trial.items}
                service.submit_ratings(s, token, trial.id, ratings)
    engine.dispose()
    return study_id
