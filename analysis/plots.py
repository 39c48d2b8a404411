"""Matplotlib figures (Agg backend, no display needed): MOS bars with CIs, score distributions."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.mos import AXIS_TITLES  # noqa: E402


def mos_bars(tab: pd.DataFrame, title: str = "MOS with 95% CI", ylim=(1, 5)):
    """Grouped bars: one group per axis, one bar per system, error bars = the CI."""
    axes = list(dict.fromkeys(tab["axis"]))
    systems = list(dict.fromkeys(tab["system"]))
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(1.6 + 1.8 * len(axes), 3.2))
    x = np.arange(len(axes))
    for k, s in enumerate(systems):
        sub = tab[tab["system"] == s].set_index("axis").loc[axes]
        err = np.stack([sub["mean"] - sub["ci_low"], sub["ci_high"] - sub["mean"]])  # (2, A)
        ax.bar(x + (k - (len(systems) - 1) / 2) * width, sub["mean"], width, yerr=err,
               capsize=3, label=s)
    ax.set_xticks(x, [AXIS_TITLES.get(a, a) for a in axes])
    ax.set_ylim(*ylim)
    ax.set_ylabel("MOS" if tab.attrs.get("value", "score") == "score" else "z-score")
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False, ncol=len(systems), loc="upper center",
              bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    return fig


def score_distributions(dist: pd.DataFrame, title: str = "Score distribution"):
    """Small multiples (one panel per axis): share of each score 1..5 per system."""
    axes = list(dict.fromkeys(dist["axis"]))
    systems = list(dict.fromkeys(dist["system"]))
    scores = sorted(dist["score"].unique())
    fig, panels = plt.subplots(1, len(axes), figsize=(3.2 * len(axes), 2.8), sharey=True,
                               squeeze=False)
    width = 0.8 / len(systems)
    for ax, a in zip(panels[0], axes):
        for k, s in enumerate(systems):
            sub = dist[(dist["axis"] == a) & (dist["system"] == s)].set_index("score").reindex(scores)
            ax.bar(np.array(scores) + (k - (len(systems) - 1) / 2) * width, sub["share"], width,
                   label=s)
        ax.set_title(AXIS_TITLES.get(a, a))
        ax.set_xticks(scores)
        ax.set_xlabel("score")
    panels[0][0].set_ylabel("share of ratings")
    panels[0][-1].legend(fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
