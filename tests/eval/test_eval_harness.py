"""`salsav eval` end to end on a random tiny pipeline (structure and sanity, not quality),
plus the pure scoring functions on hand-made cases."""
import math

import numpy as np
import pytest

from salsav_core import eval as E
from salsav_core.config import SAMPLE_RATE

KEYS = ("sync_recall_50ms", "sync_precision_50ms", "sync_median_ms", "silence_kept", "swsd",
        "sync_recall_25ms", "chance_recall_50ms", "mel_stat_distance",
        "sync_recall_detectable_50ms", "sync_recall_50ms_clipmean", "sync_precision_50ms_clipmean")


def _unit(v):
    return v is None or (math.isfinite(v) and 0.0 <= v <= 1.0)   # None = no spans (NaN)


def _check_block(d):
    for k in KEYS:
        assert k in d, k
    for k in ("sync_recall_50ms", "sync_precision_50ms", "sync_recall_25ms", "chance_recall_50ms",
              "silence_kept", "sync_recall_detectable_50ms", "sync_recall_50ms_clipmean"):
        assert _unit(d[k]), (k, d[k])
    assert d["sync_recall_25ms"] <= d["sync_recall_50ms"] + 1e-12
    assert math.isfinite(d["swsd"]) and d["swsd"] >= 0
    assert math.isfinite(d["mel_stat_distance"]) and d["mel_stat_distance"] >= 0
    assert d["events"] > 0


@pytest.mark.slow
def test_eval_json_structure(eval_run):
    ev, printed = eval_run
    assert set(ev["steps"]) == {"1", "2"}
    for s, d in ev["steps"].items():
        _check_block(d)
        assert d["sample_seconds_per_clip"] > 0 and d["rtf"] > 0
        assert d["ms_per_step"] == pytest.approx(1000 * d["sample_seconds_per_clip"] / int(s))
    for d in ev["steps"].values():
        for k, (lo, hi) in d["ci95"].items():
            assert lo is None or lo <= hi, k           # None: no silent spans (NaN)
    assert set(ev["paired"]) == {"1 vs 2 steps", "1 steps vs shifted", "1 steps vs other_video",
                                 "1 steps vs no_sync", "1 steps vs no_semantic"}
    p = ev["paired"]["1 vs 2 steps"]["sync_recall_50ms"]
    assert p["a"] == pytest.approx(ev["steps"]["1"]["sync_recall_50ms"])
    assert p["b"] == pytest.approx(ev["steps"]["2"]["sync_recall_50ms"])
    assert set(ev["controls"]) == {"shifted", "other_video"}
    for d in ev["controls"].values():
        _check_block(d)
        assert _unit(d["recall_vs_shown_video_50ms"])
    assert set(ev["ablations"]) == {"no_sync", "no_semantic"}
    for d in ev["ablations"].values():
        _check_block(d)
    # the true audio is its own ceiling: zero distance, every detected onset is a true event
    true = ev["reference"]["true_audio"]
    assert true["swsd"] == 0.0 and true["mel_stat_distance"] == pytest.approx(0.0, abs=1e-6)
    assert true["sync_precision_50ms"] >= 0.75
    assert true["sync_recall_detectable_50ms"] >= true["sync_recall_50ms"]
    assert 0 < ev["reference"]["codec_roundtrip"]["swsd"]
    assert set(ev["conditioning"]) == set(ev["conditioning_long"]) == {"0", "0.5"}
    for d in ev["conditioning"].values():      # one window of the test preset (1 s)
        _check_block(d)
        assert d["scored_from_s"] == 0.5 and d["scored_to_s"] == d["clip_seconds"] == 1.0
        assert math.isfinite(d["swsd_unseen"])
    first = ev["conditioning"]["0"]
    half = ev["conditioning"]["0.5"]
    assert "paired_vs_first" not in first
    assert half["paired_vs_first"]["reference_seconds"] == 0.0
    assert half["paired_vs_first"]["swsd"]["b"] == pytest.approx(first["swsd"])
    assert half["swsd_unseen_vs_first"]["relative"] == pytest.approx(
        half["swsd_unseen"] / first["swsd_unseen"] - 1)
    for d in ev["conditioning_long"].values():
        _check_block(d)
        assert d["scored_from_s"] == 0.5 and d["scored_to_s"] == 2.0
    lf = ev["long_form"]
    for mode in ("iterative", "single_pass"):
        assert [r["segment"] for r in lf[mode]] == [0, 1]
        assert [(r["start_s"], r["end_s"]) for r in lf[mode]] == [(0, 1), (1, 2)]
        for r in lf[mode]:
            assert r["clips"] == 2 and math.isfinite(r["swsd"])
    assert lf["windows_per_clip"] >= 2        # the test preset's 1 s window forces extension
    meta = ev["meta"]
    assert min(meta["seeds"] + meta["conditioning_seeds"] + meta["long_form_seeds"]) >= 10 ** 9
    assert len(set(meta["seeds"]) | set(meta["conditioning_seeds"]) | set(meta["long_form_seeds"])) == 8
    assert meta["wall_seconds"] > 0 and meta["machine"]["cpu_count"] >= 1
    for label in ("model, 1 steps", "control: other_video", "ablation: no_sync", "reference: true_audio",
                  "reference 0.5 s", "single_pass 1-2 s", "1 vs 2 steps", "by event kind",
                  "SWSDown vs the shortest reference"):
        assert label in printed


@pytest.mark.slow
def test_eval_json_read_by_analysis(eval_run):
    from analysis import objective
    ev, _ = eval_run
    assert list(objective.steps_table(ev)["steps"]) == [1, 2]
    assert list(objective.conditioning_table(ev)["reference_s"]) == [0, 0.5]
    lf = objective.long_form_tables(ev)
    assert len(lf["iterative"]) == 2 and len(lf["single_pass"]) == 2 and "summary" in lf
    assert len(objective.controls_table(ev)) == 2


def test_skip_and_bad_args(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "e.json"
    rc = E.main(["--checkpoint", str(tiny_checkpoint), "--clips", "2", "--steps", "1",
                 "--duration", "1.0", "--skip", "long,conditioning,controls,reference",
                 "--chance-shifts", "2", "--out", str(out)])
    import json
    ev = json.loads(out.read_text())
    assert rc == 0 and set(ev) == {"steps", "meta"}
    assert ev["meta"]["config"]["schedule"] == "uniform"     # the sampler default, recorded
    with pytest.raises(SystemExit):                           # argparse refuses unknown schedules
        E.main(["--schedule", "cosine"])
    with pytest.raises(E.EvalError):
        E.EvalConfig(schedule="cosine").check()
    assert E.main(["--seed0", "5"]) == 2                      # training seeds refused
    assert "held-out" in capsys.readouterr().err
    assert E.main(["--steps", "3"]) == 2
    assert E.main(["--skip", "everything"]) == 2
    with pytest.raises(E.EvalError):
        E.EvalConfig(cond_seconds=4.0).check()                 # no unseen tail after a 4 s reference
    # the test preset's 1 s window leaves no in-window tail after a 1 s reference
    assert E.main(["--checkpoint", str(tiny_checkpoint), "--cond-refs", "0,1", "--cond-seconds", "3",
                   "--skip", "long,controls,reference,steps", "--clips", "2"]) == 2
    assert "window" in capsys.readouterr().err


def test_baseline_is_paired_on_the_same_clips_and_noise(tiny_checkpoint, tmp_path, capsys):
    import json
    from salsav_core.pipeline import Pipeline
    other = tmp_path / "other"
    pipe = Pipeline.random_init("test", "tiny", seed=5)
    out_kernel = pipe.generator.final.out.kernel      # zero at init (adaLN-zero): make it speak
    out_kernel[...] = 0.5 * np.random.default_rng(0).normal(size=out_kernel.shape).astype(np.float32)
    pipe.save_pretrained(other)
    common = ["--checkpoint", str(tiny_checkpoint), "--clips", "2", "--steps", "1", "--duration", "1.0"]
    args = common + ["--skip", "long,conditioning,controls,reference", "--chance-shifts", "2"]
    keys = ("sync_recall_50ms", "sync_precision_50ms", "swsd")
    runs = {}
    for name, base in (("self", tiny_checkpoint), ("other", other)):
        out = tmp_path / f"{name}.json"
        assert E.main(args + ["--baseline", str(base), "--out", str(out)]) == 0
        runs[name] = json.loads(out.read_text())
        assert "baseline, 1 steps" in capsys.readouterr().out
    ev = runs["self"]          # against itself: same audio, so every paired difference is 0
    assert ev["baseline"]["checkpoint"] == str(tiny_checkpoint)
    for k in keys:
        assert ev["baseline"]["steps"]["1"][k] == ev["steps"]["1"][k]
        d = ev["paired"]["1 steps vs baseline"][k]
        assert d["difference"] == 0 and d["difference_ci95"] == [0, 0]
    ev = runs["other"]         # another init: the model rows are unchanged, the baseline's differ
    assert [ev["steps"]["1"][k] for k in keys] == [runs["self"]["steps"]["1"][k] for k in keys]
    assert ev["baseline"]["steps"]["1"]["swsd"] != ev["steps"]["1"]["swsd"]
    d = ev["paired"]["1 steps vs baseline"]["swsd"]
    assert d["difference"] == pytest.approx(ev["steps"]["1"]["swsd"] - ev["baseline"]["steps"]["1"]["swsd"])
    # the baseline is compared on the step rows, which cannot be skipped then
    assert E.main(common + ["--skip", "steps,long,conditioning,controls,reference",
                            "--baseline", str(other)]) == 2
    assert "baseline" in capsys.readouterr().err


# ----------------------------------------------------------------------------- pure functions

def _clicks(times, dur=3.0, sr=SAMPLE_RATE):
    x = np.random.default_rng(0).normal(0, 1e-4, int(dur * sr))
    for t in times:
        i = int(t * sr)
        x[i:i + 2000] += np.exp(-np.arange(len(x[i:i + 2000])) / 300) * np.sin(np.arange(len(x[i:i + 2000])) * 0.3)
    return x.astype(np.float32)


def test_score_segment_perfect_and_shifted():
    true = [0.3, 0.9, 1.7, 2.4]
    rng = np.random.default_rng(0)
    rec = E.score_segment(_clicks(true), _clicks(true), true, true, [], 0.0, 3.0, rng, 10)
    agg = E.aggregate([rec])
    assert agg["sync_recall_50ms"] == 1.0 and agg["sync_precision_50ms"] == 1.0
    assert agg["sync_median_ms"] == 0.0 and agg["swsd"] == 0.0
    assert agg["chance_recall_50ms"] < 0.5                     # 4 sparse events rarely coincide
    late = [t + 0.3 for t in true]
    rec2 = E.score_segment(_clicks(true), _clicks(late), true, late, [], 0.0, 3.0, rng, 10)
    agg2 = E.aggregate([rec2])
    assert agg2["sync_recall_50ms"] == 0.0 and agg2["sync_median_ms"] == pytest.approx(300.0)
    assert agg2["swsd"] >= 0
    # a segment only sees its own events, in segment time
    seg = E.score_segment(_clicks(true), _clicks(true), true, true, [], 1.0, 3.0, rng, 10)
    assert seg["n_true"] == 2 and seg["matched_50"] == 2


def test_aggregate_pools_counts():
    recs = [dict(n_true=4, n_det=2, matched_50=2, matched_25=1, chance_50=1.0, chance_25=0.5,
                 nearest=[0.0, 0.01, 0.2, 0.3], spans=2, kept=1.0, swsd=0.1, seconds=1.0,
                 n_detectable=2, matched_detectable_50=2, n_events=5, matched_events_50=2),
            dict(n_true=0, n_det=3, matched_50=0, matched_25=0, chance_50=0.0, chance_25=0.0,
                 nearest=[], spans=0, kept=0.0, swsd=0.3, seconds=1.0,
                 n_detectable=0, matched_detectable_50=0, n_events=0, matched_events_50=0)]
    a = E.aggregate(recs)
    assert a["sync_recall_50ms"] == 0.5 and a["sync_precision_50ms"] == pytest.approx(0.4)
    assert a["sync_recall_25ms"] == 0.25 and a["chance_recall_50ms"] == 0.25
    assert a["sync_median_ms"] == pytest.approx(105.0) and a["silence_kept"] == 0.5
    assert a["swsd"] == pytest.approx(0.2) and a["sync_recall_detectable_50ms"] == 1.0
    assert a["sync_recall_50ms_per_event"] == pytest.approx(0.4)
    assert a["sync_precision_50ms_per_event"] == pytest.approx(0.4)
    assert a["sync_recall_50ms_clipmean"] == 0.5                # the clip with no events is left out
    assert a["sync_precision_50ms_clipmean"] == pytest.approx(0.5)   # mean of 1.0 and 0.0


def test_shift_frames_and_chance():
    f = np.arange(10)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    g = E.shift_frames(f, 3 / 24)
    assert g.shape == f.shape and list(g[:, 0, 0, 0]) == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6]
    rng = np.random.default_rng(0)
    dense = np.arange(0.05, 10, 0.1)                          # 10 events per second
    # the onsets are the events themselves; any shift leaves ±50 ms coincidences common
    assert E.chance_matches(dense, dense, 10.0, rng, 20) / len(dense) > 0.5
    assert E.chance_matches([1.0], [], 10.0, rng) == 0.0


def test_format_table_conditioning_sections():
    row = {"sync_recall_50ms": 0.25, "swsd": 0.003, "silence_kept": None, "swsd_unseen": 0.004,
           "clip_seconds": 5.0, "scored_from_s": 4.0, "scored_to_s": 5.0}
    text = E.format_table({"conditioning": {"0": row, "4": row}, "conditioning_long": {"0": row}})
    assert "clips of one window (5 s clips, common tail 4-5 s" in text and "reference 4 s" in text
    assert "across windows" in text
    assert "0.250" in text and "0.0030" in text and "0.0040" in text and " - " in text   # None: '-'


def test_merge_events_groups_within_min_gap():
    from salsav_core.metrics import merge_events
    t = [1.0, 0.3, 0.302, 0.349, 0.36, 2.0, 2.049, 2.06]
    # anchor grouping: 0.3 takes 0.302 and 0.349 (< 50 ms after it); 0.36 starts a new onset
    np.testing.assert_allclose(merge_events(t, 0.05), [0.3, 0.36, 1.0, 2.0, 2.06])
    assert len(merge_events([], 0.05)) == 0
    np.testing.assert_allclose(merge_events(t, 0.0), sorted(t))


def test_simultaneous_strikes_score_as_one_onset():
    rng = np.random.default_rng(0)
    true = [0.5, 0.502, 1.5, 2.5]                  # two balls land together at 0.5 s
    heard = [0.5, 1.5, 2.5]                        # the detector hears three onsets
    rec = E.score_segment(_clicks(heard), _clicks(heard), true, heard, [], 0.0, 3.0, rng, 10)
    agg = E.aggregate([rec])
    assert agg["sync_recall_50ms"] == 1.0 and agg["events"] == 3 and agg["raw_events"] == 4
    assert agg["sync_recall_50ms_per_event"] == 0.75   # one-to-one per event caps at 3/4


def test_recall_by_event_kind():
    true, kinds = [0.3, 0.9, 1.7, 2.4], ["bounce", "enter", "bounce", "exit"]
    onsets = [0.31, 1.0, 1.69]                  # the enter event is 100 ms off, the exit missed
    rng = np.random.default_rng(0)
    recs = [E.score_segment(_clicks(true), _clicks(onsets), true, onsets, [], 0.0, 3.0, rng, 2,
                            kinds=kinds),
            E.score_segment(_clicks(true), _clicks(true), true, true, [], 1.0, 3.0, rng, 2,
                            kinds=kinds)]    # a segment counts only its own events (1.7, 2.4)
    agg = E.aggregate(recs)
    assert agg["events_by_kind"] == {"bounce": 3, "enter": 1, "exit": 2}
    assert agg["recall_50ms_by_kind"] == {"bounce": 1.0, "enter": 0.0, "exit": 0.5}
    text = E.format_table({"steps": {"8": agg}})
    assert "by event kind" in text and "bounce 3" in text
    assert "recall_50ms_by_kind" not in E.aggregate([E.score_segment(
        _clicks(true), _clicks(true), true, true, [], 0.0, 3.0, rng, 2)])   # no kinds given


def _rec(m, n_true, n_det, swsd=0.01, kept=1.0, spans=1):
    return dict(matched_50=m, matched_25=m, n_true=n_true, n_det=n_det, swsd=swsd, kept=kept, spans=spans)


def test_bootstrap_interval_contains_the_pooled_value_and_narrows_with_clips():
    rng = np.random.default_rng(1)
    def recs(n):
        return [_rec(int(m), 10, 12, swsd=float(s)) for m, s in zip(rng.integers(2, 9, n), rng.uniform(0, .01, n))]
    small, big = recs(16), recs(256)
    for r in (small, big):
        ci = E.bootstrap_ci(r)
        pooled = sum(x["matched_50"] for x in r) / sum(x["n_true"] for x in r)
        assert ci["sync_recall_50ms"][0] < pooled < ci["sync_recall_50ms"][1]
        assert ci["silence_kept"] == [1.0, 1.0]                  # every span kept in every resample
    w = lambda r: np.diff(E.bootstrap_ci(r)["sync_recall_50ms"])[0]    # noqa: E731
    assert w(big) < 0.5 * w(small)                               # ~ 1/sqrt(clips)
    assert E.bootstrap_ci(small) == E.bootstrap_ci(small)        # seeded: reproducible
    assert E.bootstrap_ci(small[:1]) == {}


def test_paired_change_sees_a_small_consistent_gain_an_unpaired_view_would_miss():
    rng = np.random.default_rng(2)
    base = rng.integers(1, 10, 64)                               # clip difficulty varies a lot
    b = [_rec(int(m), 10, 10) for m in base]
    a = [_rec(int(m) + (i % 2), 10, 10) for i, m in enumerate(base)]   # +1 match on every other clip
    d = E.paired_change(a, b)["sync_recall_50ms"]
    assert d["difference"] == pytest.approx(0.05) and d["relative"] == pytest.approx(0.05 / base.mean() * 10)
    assert 0 < d["difference_ci95"][0] < 0.05 < d["difference_ci95"][1]    # paired: excludes 0
    lo_a, _ = E.bootstrap_ci(a)["sync_recall_50ms"]
    _, hi_b = E.bootstrap_ci(b)["sync_recall_50ms"]
    assert lo_a < hi_b                                           # separate intervals overlap
    with pytest.raises(E.EvalError):
        E.paired_change(a, b[:-1])
    same = E.paired_change(b, b)["swsd"]
    assert same["relative"] == 0.0 and same["relative_ci95"] == [0.0, 0.0]


def test_paired_mean_change():
    b = np.linspace(1.0, 2.0, 40)
    d = E.paired_mean_change(0.9 * b, b)                        # every clip 10 % lower
    assert d["relative"] == pytest.approx(-0.1) and d["relative_ci95"] == pytest.approx([-0.1, -0.1])
    noisy = E.paired_mean_change(b + np.random.default_rng(0).normal(0, 0.3, 40), b)
    assert noisy["relative_ci95"][0] < noisy["relative"] < noisy["relative_ci95"][1]
    with pytest.raises(E.EvalError):
        E.paired_mean_change(b, b[:-1])
