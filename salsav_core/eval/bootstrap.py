"""Clip-bootstrap statistics of the pooled scores: 95 % intervals and paired changes.

Records are the per-clip dicts of `scoring.score_segment`; one resample of the clips drives
every pooled number (and both sides of a paired comparison).
"""
from __future__ import annotations

import numpy as np

from .config import EvalError

CI_STATS = ("sync_recall_50ms", "sync_precision_50ms", "sync_recall_25ms", "silence_kept", "swsd")


def _pooled_stats(records: list[dict], idx: np.ndarray) -> dict:
    """The CI_STATS over clip resamples: idx (n_boot, n_clips) indices into records -> (n_boot,) each."""
    col = lambda k: np.asarray([r[k] for r in records], float)[idx].sum(axis=1)   # noqa: E731
    div = lambda a, b: np.divide(a, b, out=np.full_like(a, np.nan), where=b > 0)  # noqa: E731
    swsd = np.asarray([r["swsd"] for r in records], float)[idx]
    return {"sync_recall_50ms": div(col("matched_50"), col("n_true")),
            "sync_precision_50ms": div(col("matched_50"), col("n_det")),
            "sync_recall_25ms": div(col("matched_25"), col("n_true")),
            "silence_kept": div(col("kept"), col("spans")),
            "swsd": np.nanmean(swsd, axis=1) if np.isfinite(swsd).any() else np.full(len(idx), np.nan)}


def _resamples(n_clips: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_clips, (n_boot, n_clips))


def _interval(x: np.ndarray) -> list:
    x = x[np.isfinite(x)]
    return [float(v) for v in np.percentile(x, [2.5, 97.5])] if len(x) else [float("nan")] * 2


def bootstrap_ci(records: list[dict], n_boot: int = 1000, seed: int = 0) -> dict:
    """95 % percentile intervals of the pooled CI_STATS, resampling clips with replacement."""
    if len(records) < 2:
        return {}
    boot = _pooled_stats(records, _resamples(len(records), n_boot, seed))
    return {k: _interval(v) for k, v in boot.items()}


def _paired_resamples(n_a: int, n_b: int, n_boot: int, seed: int) -> np.ndarray:
    if n_a != n_b or n_a < 2:
        raise EvalError("a paired comparison needs the same clips (at least 2) on both sides")
    return _resamples(n_a, n_boot, seed)


def _change(a: float, b: float, a_boot: np.ndarray, b_boot: np.ndarray) -> dict:
    """A, B, A/B − 1 and A − B, each change with its 95 % interval over paired resamples."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"a": float(a), "b": float(b),
                "relative": float(a / b - 1), "relative_ci95": _interval(a_boot / b_boot - 1),
                "difference": float(a - b), "difference_ci95": _interval(a_boot - b_boot)}


def paired_change(records_a: list[dict], records_b: list[dict], n_boot: int = 1000,
                  seed: int = 0) -> dict:
    """A against B on the same clips (same order), for each of CI_STATS (`_change`); one
    resample of the clips drives both sides (a paired clip bootstrap)."""
    idx = _paired_resamples(len(records_a), len(records_b), n_boot, seed)
    full = np.arange(len(records_a))[None]
    a0, b0 = _pooled_stats(records_a, full), _pooled_stats(records_b, full)
    a, b = _pooled_stats(records_a, idx), _pooled_stats(records_b, idx)
    return {k: _change(a0[k][0], b0[k][0], a[k], b[k]) for k in CI_STATS}


def paired_mean_change(a, b, n_boot: int = 1000, seed: int = 0) -> dict:
    """The mean of per-clip values (e.g. SWSD on each clip's own unseen part), A against B on
    the same clips (`_change`, paired clip bootstrap)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    idx = _paired_resamples(len(a), len(b), n_boot, seed)
    return _change(a.mean(), b.mean(), a[idx].mean(axis=1), b[idx].mean(axis=1))
