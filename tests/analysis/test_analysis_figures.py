"""The paper's figures from the bundled checkpoint's eval and histories, found where they live."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from analysis import figures, objective

CKPT = "checkpoints/salsav-synthfoley"


@pytest.fixture(scope="module")
def ev():
    return objective.load_eval(f"{CKPT}/eval.json")


def test_figure_rows_follow_the_eval_json(ev):
    rows = figures.conditioning_rows(ev, "conditioning").set_index("reference_s")
    two = ev["conditioning"]["2"]["swsd_unseen_vs_first"]
    assert rows.loc[2.0, "relative"] == two["relative"]
    assert [rows.loc[2.0, "relative_lo"], rows.loc[2.0, "relative_hi"]] == two["relative_ci95"]
    assert rows.loc[0.0, ["relative", "relative_lo", "relative_hi"]].tolist() == [0, 0, 0]
    kinds = figures.event_kind_rows(ev, 8)
    model = kinds[kinds.condition == "model (8 steps)"].set_index("kind")
    assert model.loc["bounce", "recall"] == ev["steps"]["8"]["recall_50ms_by_kind"]["bounce"]
    assert model.loc["bounce", "events"] == 480
    assert ((kinds.ci_low < kinds.recall) & (kinds.recall < kinds.ci_high)).all()
    assert set(kinds.condition) >= {"shifted", "other video", "no sync"}


def test_cli_writes_every_figure_from_moved_inputs(tmp_path, capsys):
    # histories and the longer conditioning run live under experiments/<topic>/ or next to the eval
    ck, ex = tmp_path / "ckpt", tmp_path / "experiments" / "runs"
    ck.mkdir()
    ex.mkdir(parents=True)
    shutil.copy(f"{CKPT}/eval.json", ck / "eval.json")
    hist = [{"step": s, "loss": 0.05 - s * 1e-5, "flow_loss": 0.06, "shortcut_loss": 0.01} for s in range(10, 400, 10)]
    (ex / "history_gpu_finetune.json").write_text(json.dumps(hist))
    (ck / "history.json").write_text(json.dumps(hist))
    assert [p.name for p in figures.find_histories(ck, tmp_path / "experiments")] == [
        "history.json", "history_gpu_finetune.json"]
    out = tmp_path / "figs"
    assert figures.main(["--checkpoint", str(ck), "--experiments", str(tmp_path / "experiments"),
                         "--out", str(out)]) == 0
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["event_kind_recall.png", "fig5_steps.png", "fig6_conditioning.png", "training_loss.png"]
    for p in out.glob("*.png"):
        im = np.asarray(Image.open(p).convert("L"))
        assert im.shape[0] > 300 and im.shape[1] > 500 and im.std() > 10    # drawn, not blank
    (ck / "eval.json").write_text("[1, 2]")
    assert figures.main(["--checkpoint", str(ck), "--history", "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err


def test_figures_skip_missing_sections(tmp_path):
    p = tmp_path / "e.json"
    p.write_text(json.dumps({"steps": {"1": {"sync_recall_50ms": 0.4, "sync_precision_50ms": 0.3, "swsd": 1.0},
                                       "8": {"sync_recall_50ms": 0.5, "sync_precision_50ms": 0.4, "swsd": 0.9}}}))
    skipped = []
    paths = figures.write_figures(p, tmp_path / "o", on_skip=skipped.append)
    assert list(paths) == ["fig5_steps"]
    assert any("event_kind_recall" in s for s in skipped) and any("fig6" in s for s in skipped)
