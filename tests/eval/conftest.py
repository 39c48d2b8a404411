"""Shared fixtures: a saved random-init tiny pipeline and one small eval run on it."""
import json

import pytest

SMALL_ARGS = ["--clips", "2", "--steps", "1,2", "--duration", "1.5", "--control-steps", "1",
              "--cond-clips", "2", "--cond-seconds", "2.0", "--cond-refs", "0,0.5",
              "--long-clips", "2", "--long-seconds", "2", "--segment-seconds", "1",
              "--chance-shifts", "3"]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    from salsav_core.pipeline import Pipeline
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    Pipeline.random_init("test", "tiny").save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def eval_run(tiny_checkpoint, tmp_path_factory):
    """(json dict, printed stdout) of `salsav eval` on the tiny random pipeline."""
    import contextlib
    import io
    from salsav_core.eval import main
    out = tmp_path_factory.mktemp("eval") / "eval.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["--checkpoint", str(tiny_checkpoint), "--out", str(out), *SMALL_ARGS])
    assert rc == 0
    return json.loads(out.read_text()), buf.getvalue()
