"""Model-side tables from `salsav eval`'s JSON (read defensively: every section is optional).

Expected shape (missing keys are skipped, unknown keys are shown as they are):
    {"steps":    {"1": {metric: value, ...}, "8": {...}, "32": {...}},
     "controls": {"shifted": {...}, "other_video": {...}},
     "conditioning": {"0": {"swsd": ...}, "0.5": {...}} or [{"ref_s": 0, "swsd": ...}, ...],
     "long_form":    {"segments": [{...}, ...], "single_pass": {...}} or [{...}, ...]}
Metrics: sync_recall_50ms, sync_precision_50ms, sync_median_ms, silence_kept, swsd, ...
"""
from __future__ import annotations

import json
import os

import pandas as pd

METRICS = ("sync_recall_50ms", "sync_precision_50ms", "sync_median_ms", "silence_kept", "swsd")
DEFAULT_EVAL_JSON = "checkpoints/salsav-synthfoley/eval.json"


class EvalFileError(ValueError):
    """The eval JSON exists but is not a mapping of sections."""


def eval_path() -> str:
    return os.environ.get("SALSAV_EVAL_JSON", DEFAULT_EVAL_JSON)


def load_eval(path: str | None = None) -> dict | None:
    """The parsed eval JSON, or None when the file does not exist."""
    path = path or eval_path()
    if not os.path.exists(path):
        return None
    with open(path) as f:
        try:
            ev = json.load(f)
        except json.JSONDecodeError as e:
            raise EvalFileError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(ev, dict):
        raise EvalFileError(f"{path} must hold a JSON object with sections such as 'steps'")
    return ev


def _num(k):
    try:
        f = float(k)
    except (TypeError, ValueError):
        return k
    return int(f) if f.is_integer() else f


def keyed_table(section, key: str) -> pd.DataFrame:
    """{k: {metric: v}} or [{key: k, metric: v}] -> one row per k (numeric keys sorted)."""
    if isinstance(section, dict):
        rows = [{key: _num(k), **(v if isinstance(v, dict) else {"value": v})}
                for k, v in section.items()]
    elif isinstance(section, list):
        rows = [r if isinstance(r, dict) else {"value": r} for r in section]
    else:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    if key in df and pd.api.types.is_numeric_dtype(df[key]):
        df = df.sort_values(key).reset_index(drop=True)
    first = [c for c in [key, *METRICS] if c in df]
    return df[first + [c for c in df.columns if c not in first and _flat(df[c])]]


def _flat(col: pd.Series) -> bool:
    return not col.map(lambda v: isinstance(v, (dict, list))).any()


def steps_table(ev: dict) -> pd.DataFrame:
    return keyed_table(ev.get("steps") or {}, "steps")


def controls_table(ev: dict, model_steps: int = 8) -> pd.DataFrame:
    """The controls next to the model at `model_steps` (shows sync collapsing without the video)."""
    rows = keyed_table(ev.get("controls") or {}, "condition")
    st = steps_table(ev)
    if len(st) and model_steps in set(st["steps"]):
        model = st[st["steps"] == model_steps].drop(columns="steps").assign(
            condition=f"model ({model_steps} steps)")
        rows = pd.concat([model, rows], ignore_index=True)
    return rows[["condition"] + [c for c in rows.columns if c != "condition"]] if len(rows) else rows


def conditioning_table(ev: dict, section: str = "conditioning") -> pd.DataFrame:
    """Fig. 6 rows by reference length: `conditioning` (clips of one model window) or
    `conditioning_long` (clips extended over several windows)."""
    return keyed_table(ev.get(section) or {}, "reference_s")


def long_form_tables(ev: dict) -> dict[str, pd.DataFrame]:
    """{'segments': per-segment rows, 'single_pass': ...} from whatever the section holds."""
    lf = ev.get("long_form")
    if lf is None:
        return {}
    if isinstance(lf, list):
        return {"segments": keyed_table(lf, "segment")}
    out = {}
    for k, v in lf.items():
        if isinstance(v, list):
            out[k] = keyed_table(v, "segment")
        elif isinstance(v, dict):
            nested = all(isinstance(x, dict) for x in v.values())
            out[k] = keyed_table(v, "segment") if nested else pd.DataFrame([v])
    scalars = {k: v for k, v in lf.items() if not isinstance(v, (list, dict))}
    if scalars:
        out["summary"] = pd.DataFrame([scalars])
    return out


def paired_table(ev: dict) -> pd.DataFrame:
    """One row per paired comparison and metric (`salsav eval`'s "paired" section): A, B, the
    relative change A/B - 1 and the difference A - B with their 95 % clip-bootstrap intervals."""
    rows = []
    for name, metrics in (ev.get("paired") or {}).items():
        for metric, d in (metrics or {}).items():
            if not isinstance(d, dict):
                continue
            rci = d.get("relative_ci95") or [None, None]
            dci = d.get("difference_ci95") or [None, None]
            rows.append({"comparison": name, "metric": metric, "a": d.get("a"), "b": d.get("b"),
                         "relative": d.get("relative"), "relative_lo": rci[0], "relative_hi": rci[1],
                         "difference": d.get("difference"), "difference_lo": dci[0],
                         "difference_hi": dci[1]})
    return pd.DataFrame(rows)


def claims(ev: dict) -> pd.DataFrame:
    """The paper's claims checked on the numbers: 8 vs 32 steps (relative gap) and the controls."""
    st = steps_table(ev)
    rows = []
    if len(st) and {8, 32} <= set(st["steps"]):
        a, b = st.set_index("steps").loc[8], st.set_index("steps").loc[32]
        for m in ("sync_recall_50ms", "swsd"):
            if m in st and b[m]:
                row = {"claim": f"{m}: 8 vs 32 steps", "value_8": a[m], "value_32": b[m],
                       "relative_gap": abs(a[m] - b[m]) / abs(b[m])}
                ci = (((ev.get("paired") or {}).get("8 vs 32 steps") or {}).get(m) or {}).get("relative_ci95")
                if ci:      # the signed change 8/32 - 1, paired bootstrap over clips
                    row.update(relative_ci95_lo=ci[0], relative_ci95_hi=ci[1])
                rows.append(row)
    ct = controls_table(ev)
    if len(ct) and "sync_recall_50ms" in ct and ct["condition"].str.startswith("model").any():
        model = ct.loc[ct["condition"].str.startswith("model"), "sync_recall_50ms"].iloc[0]
        for r in ct[~ct["condition"].str.startswith("model")].itertuples():
            rows.append({"claim": f"sync_recall_50ms: model vs {r.condition}", "value_8": model,
                         "value_control": r.sync_recall_50ms,
                         "ratio": model / r.sync_recall_50ms if r.sync_recall_50ms else float("inf")})
    cond = conditioning_table(ev)
    if len(cond) > 1 and "swsd" in cond:
        cond = cond.sort_values("reference_s")
        base = cond["swsd"].iloc[0]
        for r in cond.iloc[1:].itertuples():
            rows.append({"claim": f"swsd on the unseen tail: reference {r.reference_s:g} s vs none",
                         "value_ref": r.swsd, "value_none": base,
                         "relative_gap": (r.swsd - base) / base if base else float("nan")})
    for section, where in (("conditioning", "one window"), ("conditioning_long", "across windows")):
        refs = sorted(((_num(k), v) for k, v in (ev.get(section) or {}).items()
                       if isinstance(v, dict) and not isinstance(_num(k), str)), key=lambda kv: kv[0])
        for ref, d in refs:        # paired against the shortest reference on the same clips and noise
            ch = d.get("swsd_unseen_vs_first")
            if isinstance(ch, dict):
                lo, hi = ch.get("relative_ci95") or [None, None]
                rows.append({"claim": f"swsd on its own unseen part ({where}): reference {ref:g} s vs none",
                             "value_ref": ch.get("a"), "value_none": ch.get("b"),
                             "relative_gap": ch.get("relative"), "relative_ci95_lo": lo,
                             "relative_ci95_hi": hi})
    return pd.DataFrame(rows)
