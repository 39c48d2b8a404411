"""The printed table of an eval result (byte-stable: the same JSON prints the same text)."""
from __future__ import annotations


_COLS = [("R@50", "sync_recall_50ms", "{:.3f}"), ("P@50", "sync_precision_50ms", "{:.3f}"),
         ("R@25", "sync_recall_25ms", "{:.3f}"), ("P@25", "sync_precision_25ms", "{:.3f}"),
         ("chR@50", "chance_recall_50ms", "{:.3f}"), ("Rdet@50", "sync_recall_detectable_50ms", "{:.3f}"),
         ("Rev@50", "sync_recall_50ms_per_event", "{:.3f}"),
         ("Rclip@50", "sync_recall_50ms_clipmean", "{:.3f}"), ("med ms", "sync_median_ms", "{:.1f}"),
         ("onset/ev", "onsets_per_event", "{:.2f}"), ("silence", "silence_kept", "{:.2f}"),
         ("SWSD", "swsd", "{:.4f}"), ("melFD", "mel_stat_distance", "{:.1f}")]


def _row(name: str, d: dict, extra=()) -> str:
    cells = [f"{name:<26}"]
    for _, k, f in list(_COLS) + list(extra):
        v = d.get(k)
        cells.append(f"{(f.format(v) if isinstance(v, (int, float)) and v == v else '-'):>8}")
    return " ".join(cells)


def _result_blocks(ev: dict) -> list[tuple[str, dict]]:
    """(label, block) of the 5 s-clip rows: model by step count, controls, ablations, references."""
    by_steps = lambda block: sorted(block.items(), key=lambda kv: int(kv[0]))   # noqa: E731
    rows = [(f"model, {s} steps", d) for s, d in by_steps(ev.get("steps", {}))]
    rows += [(f"baseline, {s} steps", d) for s, d in by_steps(ev.get("baseline", {}).get("steps", {}))]
    for sec, label in (("controls", "control"), ("ablations", "ablation"), ("reference", "reference")):
        rows += [(f"{label}: {name}", d) for name, d in ev.get(sec, {}).items()]
    return rows


def _pct(change: dict, digits: int = 1) -> str:
    """A `_change` as 'relative % [95 % interval]'."""
    lo, hi = change["relative_ci95"]
    return f"{100 * change['relative']:+.{digits}f}% [{100 * lo:+.0f}, {100 * hi:+.0f}]"


def _paired_rows_text(ev: dict) -> list[str]:
    """The paired comparisons: relative change of R@50, P@50 and SWSD with 95 % intervals."""
    paired = ev.get("paired")
    if not paired:
        return []
    keys = (("R@50", "sync_recall_50ms"), ("P@50", "sync_precision_50ms"), ("SWSD", "swsd"))
    lines = ["", "Paired on the same clips and noise: A/B - 1 [95 % clip-bootstrap interval]",
             " ".join([f"{'':<26}"] + [f"{h:>22}" for h, _ in keys])]
    for name, d in paired.items():
        lines.append(" ".join([f"{name:<26}"] + [f"{_pct(d[k]):>22}" for _, k in keys]))
    return lines


def _kind_rows(ev: dict) -> list[str]:
    """Recall within ±50 ms per raw event, by event kind, for every block that has it."""
    blocks = [(name, d) for name, d in _result_blocks(ev) if d.get("recall_50ms_by_kind")]
    if not blocks:
        return []
    kinds = sorted({k for _, d in blocks for k in d["recall_50ms_by_kind"]})
    n = blocks[0][1].get("events_by_kind", {})
    lines = ["", "Recall within ±50 ms by event kind (per raw event, not one-to-one; events: "
             + ", ".join(f"{k} {n.get(k, '?')}" for k in kinds) + ")",
             " ".join([f"{'':<26}"] + [f"{k:>10}" for k in kinds])]
    for name, d in blocks:
        r = d["recall_50ms_by_kind"]
        lines.append(" ".join([f"{name:<26}"] + [f"{r[k]:>10.3f}" if k in r else f"{'-':>10}" for k in kinds]))
    return lines


def format_table(ev: dict) -> str:
    """Markdown-ish plain-text table of every section."""
    head = lambda extra=(): " ".join([f"{'':<26}"] + [f"{h:>8}" for h, _, _ in list(_COLS) + list(extra)])
    t_extra = [("s/clip", "sample_seconds_per_clip", "{:.2f}"), ("RTF", "rtf", "{:.3f}")]
    lines = []
    if "steps" in ev or "controls" in ev or "reference" in ev:
        dur = ev.get("meta", {}).get("config", {}).get("duration", "?")
        lines += [f"Sync / quality ({dur} s held-out clips)", head(t_extra)]
        lines += [_row(name, d, t_extra) for name, d in _result_blocks(ev)]
        lines += _kind_rows(ev) + _paired_rows_text(ev)
    c_extra = [("SWSDown", "swsd_unseen", "{:.4f}")]
    for key, title in (("conditioning", "Audio conditioning, clips of one window"),
                       ("conditioning_long", "Audio conditioning across windows")):
        block = ev.get(key)
        if not block:
            continue
        first = next(iter(block.values()))
        span = (f" ({first['clip_seconds']:g} s clips, common tail {first['scored_from_s']:g}-"
                f"{first['scored_to_s']:g} s; SWSDown = own unseen part)" if "clip_seconds" in first else "")
        lines += ["", title + span, head(c_extra)]
        refs = sorted(block.items(), key=lambda kv: float(kv[0]))
        lines += [_row(f"reference {k} s", d, c_extra) for k, d in refs]
        changes = [f"{k} s {_pct(d['swsd_unseen_vs_first'], 0)}" for k, d in refs if "swsd_unseen_vs_first" in d]
        if changes:
            lines.append("SWSDown vs the shortest reference, paired [95 %]: " + "; ".join(changes))
    lf = ev.get("long_form")
    if lf:
        lines += ["", f"Long form ({lf['clips']} x {lf['seconds']:g} s, {lf['steps']} steps; "
                      f"wall {lf['iterative_wall_s']:.1f} s iterative, {lf['single_pass_wall_s']:.1f} s single pass)",
                  head()]
        for mode in ("iterative", "single_pass"):
            for r in lf[mode]:
                lines.append(_row(f"{mode} {r['start_s']:g}-{r['end_s']:g} s", r))
    return "\n".join(lines)
