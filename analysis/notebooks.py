"""`python -m analysis.notebooks run [NAME ...]`: execute the analysis notebooks from a fresh install.

Runs each notebook top to bottom through nbclient (installed with the test requirements; no
Jupyter server or nbconvert needed) with the repository root as the working directory, and
writes the executed copy, outputs and figures included, to `--out` (default out/notebooks).
Settings reach the notebooks through the environment, e.g.
`SALSAV_RATINGS=sqlite:///study.db python -m analysis.notebooks run human_eval`. The exit
status is 1 when a cell fails (its error is printed), 2 for an unknown notebook.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOTEBOOKS = {p.stem: p for p in sorted(HERE.glob("*.ipynb"))}


def run(name: str, out: Path, timeout: int = 600) -> Path:
    """Execute analysis/<name>.ipynb; returns the path of the executed copy."""
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})
    out.mkdir(parents=True, exist_ok=True)
    dest = out / f"{name}.ipynb"
    try:
        client.execute()
    finally:
        nbformat.write(nb, dest)             # a failed run keeps its outputs up to the error
    return dest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.notebooks", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute notebooks (default: all)")
    r.add_argument("names", nargs="*", help=f"any of {sorted(NOTEBOOKS)}")
    r.add_argument("--out", default="out/notebooks")
    r.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    sub.add_parser("list", help="list the notebooks")
    args = ap.parse_args(argv)
    if args.cmd == "list":
        print("\n".join(sorted(NOTEBOOKS)))
        return 0
    names = [n.removesuffix(".ipynb") for n in args.names] or sorted(NOTEBOOKS)
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        print(f"error: unknown notebook(s) {unknown}; have {sorted(NOTEBOOKS)}", file=sys.stderr)
        return 2
    for n in names:
        t = time.time()
        try:
            dest = run(n, Path(args.out), args.timeout)
        except CellExecutionError as e:
            print(f"{n}: a cell failed:\n{e}", file=sys.stderr)
            return 1
        print(f"{n}: ran in {time.time() - t:.1f} s -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
