"""The notebooks run top to bottom and agree with the library; the report CLI writes its files."""
import json

import pandas as pd
import pytest

from analysis import mos, report


@pytest.mark.slow
def test_human_eval_notebook_on_study_database(sim_db, tmp_path, notebooks):
    run_notebook, notebook_text = notebooks
    url, _ = sim_db
    nb = run_notebook("human_eval.ipynb", {"SALSAV_RATINGS": url, "SALSAV_ANALYSIS_OUT": str(tmp_path)})
    text = notebook_text(nb)
    lib = mos.mos_table(mos.load_ratings(url))
    nb_csv = pd.read_csv(tmp_path / "mos_table.csv")
    assert list(nb_csv.columns) == report.CSV_COLUMNS and len(nb_csv) == 9
    pd.testing.assert_frame_equal(nb_csv, lib[report.CSV_COLUMNS].reset_index(drop=True),
                                  check_dtype=False, rtol=1e-12)
    for cell in mos.format_table(lib).to_numpy().ravel():    # the printed Table 1 cells
        assert cell in text
    alpha = mos.agreement_table(mos.load_ratings(url))["alpha"]
    assert all(f"{a:.6f}" in text for a in alpha)
    assert "flagged:" in text and (tmp_path / "mos_bars.png").stat().st_size > 5000
    for ext in ("md", "tex"):
        assert "SALSA-V" in (tmp_path / f"mos_table.{ext}").read_text()


def test_report_cli_writes_three_files(sim_db, tmp_path, capsys):
    url, _ = sim_db
    assert report.main(["--ratings", url, "--out", str(tmp_path), "--exclude-flagged", "--no-mixed"]) == 0
    printed = capsys.readouterr().out
    csv = pd.read_csv(tmp_path / "mos_table.csv")
    assert list(csv.columns) == ["system", "axis", "n", "mean", "std", "ci_low", "ci_high"]
    assert len(csv) == 9 and csv["n"].gt(100).all()
    md = (tmp_path / "mos_table.md").read_text()
    assert md.startswith("| Method | Overall | Quality | Sync |")
    assert "\\begin{tabular}" in (tmp_path / "mos_table.tex").read_text()
    assert "screening flags:" in printed and md.splitlines()[2].split(" | ")[1] in printed
    assert (tmp_path / "score_distribution.png").exists()
    tests = pd.read_csv(tmp_path / "pairwise_tests.csv")
    assert list(tests.columns[:8]) == ["axis", "system_a", "system_b", "method", "statistic", "p",
                                       "p_holm", "effect"]
    assert sorted(tests["method"].unique()) == ["crossed", "rater", "trial"] and len(tests) == 27
    assert not (tmp_path / "mos_vs_mixed.md").exists()


@pytest.mark.slow
def test_report_with_the_mixed_model(tmp_path, capsys):
    from analysis import simulate
    cfg = simulate.SimConfig(n_participants=8, n_trials=6, n_clips=6, **simulate.HETEROGENEOUS)
    simulate.simulate_ratings(cfg, seed=5).to_csv(tmp_path / "r.csv", index=False)
    assert report.main(["--ratings", str(tmp_path / "r.csv"), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    tests = pd.read_csv(tmp_path / "pairwise_tests.csv")
    assert sorted(tests["method"].unique()) == ["crossed", "mixed", "rater", "trial"] and len(tests) == 36
    side = pd.read_csv(tmp_path / "mos_vs_mixed.csv")
    assert len(side) == 9 and {"boot_mean", "mixed_mean", "disagree"} <= set(side.columns)
    assert "they disagree on" in printed and "| system / axis | bootstrap | mixed_model | disagree |" in printed
    comp = pd.read_csv(tmp_path / "mixed_components.csv")
    assert list(comp["axis"]) == ["overall", "quality", "sync"] and (comp["residual"] > 0).all()


def test_report_cli_clear_error(tmp_path, capsys):
    pd.DataFrame({"participant_id": [], "clip": []}).to_csv(tmp_path / "x.csv", index=False)
    assert report.main(["--ratings", str(tmp_path / "x.csv"), "--out", str(tmp_path)]) == 2
    assert "lacks required column(s)" in capsys.readouterr().err


EVAL = {
    "steps": {str(k): {"sync_recall_50ms": r, "sync_precision_50ms": r - 0.05, "sync_median_ms": 30 / k,
                       "silence_kept": 0.9, "swsd": 1 + 2 / k}
              for k, r in ((1, 0.4), (2, 0.6), (4, 0.7), (8, 0.78), (16, 0.8), (32, 0.81))},
    "controls": {"shifted": {"sync_recall_50ms": 0.12, "sync_precision_50ms": 0.1, "sync_median_ms": 210.0,
                             "silence_kept": 0.3, "swsd": 2.2},
                 "other_video": {"sync_recall_50ms": 0.09, "sync_precision_50ms": 0.1,
                                 "sync_median_ms": 260.0, "silence_kept": 0.2, "swsd": 2.4}},
    "conditioning": {"0": {"swsd": 1.5}, "1": {"swsd": 1.3}, "4": {"swsd": 1.1}},
}


@pytest.mark.slow
def test_objective_notebook_with_and_without_eval_json(tmp_path, notebooks):
    run_notebook, notebook_text = notebooks
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(EVAL))
    text = notebook_text(run_notebook("objective_eval.ipynb", {"SALSAV_EVAL_JSON": str(path),
                                                             "SALSAV_FIGURES_OUT": str(tmp_path / "figs")}))
    assert "sections ['conditioning', 'controls', 'steps']" in text
    assert "model (8 steps)" in text and "other_video" in text and "no 'long_form' section" in text
    assert "no 'conditioning_long' section" in text and "reference 4 s vs none" in text
    assert "sync_recall_50ms: 8 vs 32 steps" in text and "no 'paired' section" in text
    assert "fig5_steps" in text and "event_kind_recall: skipped" in text
    assert (tmp_path / "figs" / "fig5_steps.png").exists()
    text = notebook_text(run_notebook("objective_eval.ipynb", {"SALSAV_EVAL_JSON": str(tmp_path / "none.json")}))
    assert "no eval JSON" in text and "skipping" in text and "model (8 steps)" not in text


@pytest.mark.slow
def test_notebooks_command_runs_from_the_repo(tmp_path, capsys, monkeypatch):
    from analysis import notebooks
    monkeypatch.setenv("SALSAV_FIGURES_OUT", str(tmp_path / "figs"))
    assert notebooks.main(["run", "objective_eval", "--out", str(tmp_path)]) == 0
    assert "objective_eval: ran in" in capsys.readouterr().out
    import nbformat
    nb = nbformat.read(tmp_path / "objective_eval.ipynb", as_version=4)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 4                       # Fig. 5, Fig. 6, event kinds, training loss
    assert notebooks.main(["run", "nope"]) == 2
    assert notebooks.main(["list"]) == 0 and "human_eval" in capsys.readouterr().out


def test_objective_tables_read_defensively():
    from analysis import objective
    st = objective.steps_table(EVAL)
    assert st["steps"].tolist() == [1, 2, 4, 8, 16, 32]
    cl = objective.claims(EVAL).set_index("claim")
    assert cl.loc["sync_recall_50ms: 8 vs 32 steps", "relative_gap"] == pytest.approx(0.03 / 0.81)
    assert cl.loc["sync_recall_50ms: model vs shifted", "ratio"] == pytest.approx(0.78 / 0.12)
    assert cl.loc["swsd on the unseen tail: reference 4 s vs none", "relative_gap"] == pytest.approx(-0.4 / 1.5)
    assert cl.loc["swsd on the unseen tail: reference 1 s vs none", "value_ref"] == 1.3
    assert objective.conditioning_table(EVAL, "conditioning_long").empty
    assert objective.long_form_tables(EVAL) == {}
    lf = objective.long_form_tables({"long_form": [{"segment": 1, "swsd": 2.0}, {"segment": 0, "swsd": 1.0}]})
    assert lf["segments"]["segment"].tolist() == [0, 1]
    assert objective.claims({}).empty and objective.controls_table({}).empty
    assert objective.paired_table(EVAL).empty
    rec = {"a": 0.78, "b": 0.81, "relative": -0.037, "relative_ci95": [-0.1, 0.02],
           "difference": -0.03, "difference_ci95": [-0.08, 0.02]}
    ev = dict(EVAL, paired={"8 vs 32 steps": {"sync_recall_50ms": rec, "swsd": dict(rec, a=1.25)},
                            "8 steps vs shifted": {"sync_recall_50ms": dict(rec, relative=5.5)}})
    pt = objective.paired_table(ev).set_index(["comparison", "metric"])
    assert len(pt) == 3 and pt.loc[("8 vs 32 steps", "swsd"), "a"] == 1.25
    assert pt.loc[("8 steps vs shifted", "sync_recall_50ms"), "relative"] == 5.5
    assert pt.loc[("8 vs 32 steps", "sync_recall_50ms"), "difference_hi"] == 0.02
    cl = objective.claims(ev).set_index("claim")
    assert cl.loc["sync_recall_50ms: 8 vs 32 steps", "relative_ci95_lo"] == -0.1
    assert not cl.index.str.contains("own unseen part").any()     # no paired conditioning yet
    cond = {k: dict(v) for k, v in EVAL["conditioning"].items()}
    last = max(cond, key=float)
    cond[last]["swsd_unseen_vs_first"] = dict(rec, a=1.1, b=1.5, relative=-0.27, relative_ci95=[-0.4, -0.1])
    cl = objective.claims(dict(EVAL, conditioning=cond)).set_index("claim")
    row = cl.loc[f"swsd on its own unseen part (one window): reference {float(last):g} s vs none"]
    assert (row["value_ref"], row["value_none"], row["relative_ci95_hi"]) == (1.1, 1.5, -0.1)
