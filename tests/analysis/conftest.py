import os

import nbformat
import pytest
from nbclient import NotebookClient

from analysis import simulate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def sim_db(tmp_path_factory):
    """The paper-sized simulated study (plus 2 random and 1 flat rater, with attention checks),
    stored through the study service into SQLite. Returns (url, SimConfig)."""
    d = tmp_path_factory.mktemp("simstudy")
    cfg = simulate.PRESETS["paper-with-bad-raters"]
    url = f"sqlite:///{d}/study.db"
    simulate.store_simulated_study(url, d, cfg, seed=7)
    return url, cfg


def run_notebook(name: str, env: dict, timeout: int = 180) -> nbformat.NotebookNode:
    """Execute analysis/<name> top to bottom from the repo root with `env` set."""
    nb = nbformat.read(os.path.join(ROOT, "analysis", name), as_version=4)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": ROOT}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def notebook_text(nb) -> str:
    out = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            if o.output_type == "stream":
                out.append(o.text)
            elif o.output_type in ("display_data", "execute_result"):
                out.append(o["data"].get("text/plain", ""))
    return "\n".join(out)


@pytest.fixture
def notebooks():
    """(run_notebook, notebook_text) for the notebook tests."""
    return run_notebook, notebook_text
