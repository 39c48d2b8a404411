"""The paper's model-side figures from `salsav eval`'s JSON and the training histories.

    python -m analysis.figures --checkpoint checkpoints/salsav-synthfoley --out docs/figures

- `fig_steps`: sampling steps vs R@50, P@50, SWSD (95 % clip-bootstrap intervals from the
  eval) and sampling wall time per clip (one timing run; the eval stores no interval for it)
  (the paper's Fig. 5);
- `fig_conditioning`: reference length vs SWSD on the unseen part, as the change against no
  reference on the same clips and noise with its paired 95 % interval, in one window and
  across windows (Fig. 6);
- `fig_event_kinds`: R@50 per event kind for the model and the controls, with Wilson
  intervals over events (events of one clip are not independent, so these are too narrow);
- `fig_training`: the generator's loss per training stage (`history*.json`).
Inputs are found in the checkpoint folder or under `experiments/*/` (training histories and
the longer eval runs move there), or given as paths.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import objective  # noqa: E402

STEP_METRICS = (("sync_recall_50ms", "R@50 (recall within ±50 ms)"),
                ("sync_precision_50ms", "P@50 (precision within ±50 ms)"),
                ("swsd", "SWSD (lower is better)"))
HISTORY_ORDER = ("history.json", "history_finetune.json", "history_gpu_finetune.json",
                 "history_gpu_finetune2.json", "history_gpu_motion_flux.json", "history_stage8.json",
                 "history_stage9.json")
# the bundled checkpoint's stages (experiments/bundle-training/README.md; the bundle's generator
# since stage 8 is a new one, and stages 1-7's files moved to experiments/bundle-training/stages-1-7/)
STAGE_TITLES = {"history.json": "stage 1, GPU (2nd run)", "history_finetune.json": "stage 2, CPU fine-tune",
                "history_gpu_finetune.json": "stage 4, GPU fine-tune",
                "history_gpu_finetune2.json": "stage 6, GPU fine-tune",
                "history_gpu_motion_flux.json": "stage 7, GPU, motion sync tower",
                "history_stage8.json": "stage 8, GPU, 2.2 M plain flow",
                "history_stage9.json": "stage 9, CPU fine-tune"}


def locate(name: str, checkpoint: str | Path | None = None, experiments: str | Path = "experiments",
           ) -> Path | None:
    """`name` in the checkpoint folder, else the first match under experiments/*/ (sorted)."""
    if checkpoint and (Path(checkpoint) / name).exists():
        return Path(checkpoint) / name
    hits = sorted(Path(experiments).glob(f"*/{name}")) if Path(experiments).is_dir() else []
    return hits[0] if hits else None


def find_histories(checkpoint=None, experiments="experiments") -> list[Path]:
    """The training histories of a checkpoint, in stage order where the names are known."""
    found = {}
    places = ([Path(checkpoint)] if checkpoint else []) + (
        sorted(p for p in Path(experiments).iterdir() if p.is_dir()) if Path(experiments).is_dir() else [])
    for d in places:
        for p in sorted(d.glob("history*.json")):
            found.setdefault(p.name, p)
    order = {n: i for i, n in enumerate(HISTORY_ORDER)}
    return [found[n] for n in sorted(found, key=lambda n: (order.get(n, len(order)), n))]


def _ci(row: dict, metric: str) -> tuple[float, float]:
    lo, hi = ((row.get("ci95") or {}).get(metric) or [np.nan, np.nan])
    return row[metric] - lo, hi - row[metric]


def fig_steps(ev: dict):
    """Fig. 5: steps vs R@50, P@50, SWSD (with intervals) and sampling time per clip."""
    steps = sorted((int(k), v) for k, v in (ev.get("steps") or {}).items())
    if not steps:
        raise objective.EvalFileError("the eval JSON has no 'steps' section")
    x = np.array([k for k, _ in steps])
    fig, panels = plt.subplots(1, 4, figsize=(13, 3.1))
    for ax, (m, title) in zip(panels, STEP_METRICS):
        y = np.array([v[m] for _, v in steps])
        err = np.array([_ci(v, m) for _, v in steps]).T                 # (2, K)
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3)
        if m == "sync_recall_50ms" and all("chance_recall_50ms" in v for _, v in steps):
            ax.plot(x, [v["chance_recall_50ms"] for _, v in steps], "k:", label="chance")
            ax.legend(frameon=False, fontsize=8)
        ax.set_title(title, fontsize=9)
    t = [v.get("sample_seconds_per_clip", np.nan) for _, v in steps]
    panels[3].plot(x, t, marker="o", color="C3")
    panels[3].set_title("sampling time per 5 s clip [s]\n(one run, no interval)", fontsize=9)
    for ax in panels:
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [str(k) for k in x])
        ax.set_xlabel("sampling steps")
        ax.grid(alpha=0.3)
    clips = steps[0][1].get("clips", "?")
    fig.suptitle(f"Steps vs onset timing, SWSD and time ({clips} held-out clips; "
                 "bars: 95 % clip-bootstrap intervals)", fontsize=10)
    fig.tight_layout()
    return fig


def conditioning_rows(ev: dict, section: str) -> pd.DataFrame:
    """reference_s, swsd_unseen, relative change vs no reference and its paired 95 % interval."""
    rows = []
    for k, v in (ev.get(section) or {}).items():
        if not isinstance(v, dict) or "swsd_unseen" not in v:
            continue
        ch = v.get("swsd_unseen_vs_first")
        if isinstance(ch, dict):
            rel = ch.get("relative", np.nan)
            lo, hi = ch.get("relative_ci95") or [np.nan, np.nan]
        else:                                   # the row everything is paired against
            rel, lo, hi = 0.0, 0.0, 0.0
        rows.append({"reference_s": float(k), "swsd_unseen": v["swsd_unseen"], "relative": rel,
                     "relative_lo": lo, "relative_hi": hi, "clips": v.get("clips")})
    return pd.DataFrame(rows).sort_values("reference_s").reset_index(drop=True) if rows else pd.DataFrame()


def fig_conditioning(ev: dict, source: str = ""):
    """Fig. 6: reference length vs SWSD on the unseen part (change vs none, paired interval)."""
    parts = [(s, t) for s, t in (("conditioning", "one window (5 s clips)"),
                                 ("conditioning_long", "across windows (9.5 s clips)"))
             if not conditioning_rows(ev, s).empty]
    if not parts:
        raise objective.EvalFileError("the eval JSON has no conditioning section with swsd_unseen")
    fig, panels = plt.subplots(1, len(parts), figsize=(4.6 * len(parts), 3.3), squeeze=False)
    for ax, (s, title) in zip(panels[0], parts):
        r = conditioning_rows(ev, s)
        y = 100 * r["relative"]
        err = 100 * np.stack([r["relative"] - r["relative_lo"], r["relative_hi"] - r["relative"]])
        ax.errorbar(r["reference_s"], y, yerr=err, marker="o", capsize=3)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("reference audio [s]")
        ax.set_ylabel("SWSD on the unseen part vs none [%]")
        ax.set_title(f"{title}, {int(r['clips'].iloc[0])} clips", fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle("Audio conditioning: SWSD on the unseen part (95 % paired clip-bootstrap)"
                 + (f"\n{source}" if source else ""), fontsize=9)
    fig.tight_layout()
    return fig


def wilson(k: np.ndarray, n: np.ndarray, z: float = 1.959964):
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return c - h, c + h


def event_kind_rows(ev: dict, steps: int = 8) -> pd.DataFrame:
    """condition, kind, recall, events, ci_low, ci_high for the model and the controls."""
    conds = [(f"model ({steps} steps)", (ev.get("steps") or {}).get(str(steps)))]
    conds += [(k.replace("_", " "), v) for sec in ("controls", "ablations")
              for k, v in (ev.get(sec) or {}).items()]
    rows = []
    for name, v in conds:
        if not isinstance(v, dict) or "recall_50ms_by_kind" not in v:
            continue
        for kind, rec in v["recall_50ms_by_kind"].items():
            n = (v.get("events_by_kind") or {}).get(kind)
            lo, hi = wilson(np.array(rec * n), np.array(n)) if n else (np.nan, np.nan)
            rows.append({"condition": name, "kind": kind, "recall": rec, "events": n,
                         "ci_low": float(lo), "ci_high": float(hi)})
    return pd.DataFrame(rows)


def fig_event_kinds(ev: dict, steps: int = 8):
    """R@50 per event kind: the model and its controls side by side."""
    r = event_kind_rows(ev, steps)
    if r.empty:
        raise objective.EvalFileError("the eval JSON has no recall_50ms_by_kind")
    kinds = list(dict.fromkeys(r["kind"]))
    conds = list(dict.fromkeys(r["condition"]))
    w = 0.8 / len(conds)
    fig, ax = plt.subplots(figsize=(1.6 + 1.6 * len(kinds), 3.3))
    for j, c in enumerate(conds):
        sub = r[r["condition"] == c].set_index("kind").reindex(kinds)
        err = np.stack([sub["recall"] - sub["ci_low"], sub["ci_high"] - sub["recall"]])
        ax.bar(np.arange(len(kinds)) + (j - (len(conds) - 1) / 2) * w, sub["recall"], w,
               yerr=err, capsize=2, label=c)
    n = r.drop_duplicates("kind").set_index("kind")["events"].reindex(kinds)
    ax.set_xticks(np.arange(len(kinds)), [f"{k}\n({int(e)} events)" for k, e in n.items()])
    ax.set_ylabel("R@50")
    ax.set_title("Onset recall within ±50 ms by event kind (Wilson 95 % over events)", fontsize=9)
    ax.legend(frameon=False, fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def load_history(path) -> pd.DataFrame:
    with open(path) as f:
        h = json.load(f)
    if isinstance(h, dict):
        h = h.get("history") or h.get("records") or []
    df = pd.DataFrame(h)
    if "step" not in df or "loss" not in df:
        raise ValueError(f"{path} is not a training history (records with step and loss)")
    return df


def fig_training(paths, smooth: int = 9):
    """One panel per history file: loss, flow loss and shortcut loss vs step (log scale),
    thin raw and a centred rolling mean of `smooth` records."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise FileNotFoundError("no history*.json given or found")
    fig, panels = plt.subplots(1, len(paths), figsize=(3.6 * len(paths), 3.1), squeeze=False)
    for ax, p in zip(panels[0], paths):
        h = load_history(p)
        for j, col in enumerate(c for c in ("loss", "flow_loss", "shortcut_loss") if c in h):
            ax.plot(h["step"], h[col], color=f"C{j}", alpha=0.25, lw=0.8)
            ax.plot(h["step"], h[col].rolling(smooth, center=True, min_periods=1).mean(),
                    color=f"C{j}", lw=1.6, label=col.replace("_", " "))
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(f"{STAGE_TITLES[p.name]} ({p.name})" if p.name in STAGE_TITLES else p.name,
                     fontsize=9)
        ax.grid(alpha=0.3, which="both")
    panels[0][0].set_ylabel("training loss")
    panels[0][0].legend(frameon=False, fontsize=7)
    fig.suptitle("Generator training loss per stage (raw, and rolling mean)", fontsize=10)
    fig.tight_layout()
    return fig


def write_figures(ev_path, out, cond_path=None, histories=(), dpi: int = 130,
                  on_skip=print) -> dict[str, Path]:
    """Every figure the inputs allow, as PNG under `out`; returns {name: path}. A figure whose
    section the eval lacks is skipped with a message to `on_skip`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ev = objective.load_eval(str(ev_path)) if ev_path else None
    cond = objective.load_eval(str(cond_path)) if cond_path else None
    todo = []
    if ev:
        todo += [("fig5_steps", lambda: fig_steps(ev)),
                 ("event_kind_recall", lambda: fig_event_kinds(ev))]
    src = cond if cond and not all(conditioning_rows(cond, s).empty for s in
                                   ("conditioning", "conditioning_long")) else ev
    if src:
        label = Path(cond_path).name if src is cond else Path(ev_path).name
        todo.append(("fig6_conditioning", lambda: fig_conditioning(src, label)))
    if histories:
        todo.append(("training_loss", lambda: fig_training(histories)))
    paths = {}
    for name, make in todo:
        try:
            fig = make()
        except objective.EvalFileError as e:
            on_skip(f"{name}: skipped ({e})")
            continue
        paths[name] = out / f"{name}.png"
        fig.savefig(paths[name], dpi=dpi)
        plt.close(fig)
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.figures", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="checkpoints/salsav-synthfoley",
                    help="folder with eval.json (and maybe history*.json)")
    ap.add_argument("--experiments", default="experiments", help="searched for moved inputs")
    ap.add_argument("--eval", default=None, help="eval JSON (default: the checkpoint's eval.json)")
    ap.add_argument("--conditioning", default=None,
                    help="a longer conditioning run (default: eval_conditioning96.json if found)")
    ap.add_argument("--history", nargs="*", default=None, help="history*.json files (default: found)")
    ap.add_argument("--out", default="docs/figures")
    args = ap.parse_args(argv)
    ev = args.eval or locate("eval.json", args.checkpoint, args.experiments)
    cond = args.conditioning or locate("eval_conditioning96.json", args.checkpoint, args.experiments)
    hist = args.history if args.history is not None else find_histories(args.checkpoint, args.experiments)
    try:
        paths = write_figures(ev, args.out, cond, hist)
    except (objective.EvalFileError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not paths:
        print("error: no eval JSON or history found", file=sys.stderr)
        return 2
    print(f"inputs: eval {ev}, conditioning {cond}, histories {[str(h) for h in hist]}")
    print("wrote", ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
