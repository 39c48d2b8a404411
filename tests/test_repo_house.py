"""House rules of the product tree, read from the source with `ast` (nothing is imported):

- no import cycles among the project's modules, function-local (lazy) imports included;
- the web -> pipeline -> sampler path is typed end to end (the seam functions annotate every
  parameter and their return with the types that cross the seam);
- every product module stays under 450 lines;
- no `sys.path.insert` anywhere, research kept out of the product tree.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("salsav_core", "webapp", "study", "analysis")
MAX_LINES = 450


def _product_files() -> dict[str, Path]:
    """module name -> file, for the product packages and the root app.py."""
    mods = {"app": ROOT / "app.py"}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = f
    return mods


MODULES = _product_files()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules `name` imports anywhere in its source (top level or inside functions)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:       # a name inside a module -> that module
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in sorted(graph):
        visit(v) if v not in index else None
    return out


def test_import_graph_is_parsed():
    graph = {m: _imports(m, f) for m, f in MODULES.items()}
    assert "salsav_core.request" in graph["webapp.service"]
    assert "salsav_core.sampler" in graph["salsav_core.pipeline"]
    assert "salsav_core.eval.cli" in graph["salsav_core.cli"]          # a function-local import
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_lazy_imports_included():
    graph = {m: _imports(m, f) for m, f in MODULES.items()}
    assert _cycles(graph) == []


def _function(path: Path, qualname: str) -> ast.FunctionDef:
    tree = ast.parse(path.read_text())
    scope: list[ast.AST] = [tree]
    for part in qualname.split("."):
        node = next((n for s in scope for n in ast.iter_child_nodes(s)
                     if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
        assert node is not None, f"{path.name}: no {qualname}"
        scope = [node]
    return node


def _annotations(fn: ast.FunctionDef) -> dict[str, str]:
    args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
    ann = {a.arg: ast.unparse(a.annotation) if a.annotation else None
           for a in args if a.arg not in ("self", "cls")}
    ann["return"] = ast.unparse(fn.returns) if fn.returns else None
    return ann


# (file, function, {parameter: the annotation it must carry}); every other parameter must be
# annotated too (any type).
SEAM = [
    ("webapp/service.py", "build_request", {"settings": "DemoSettings", "return": "GenerateRequest"}),
    ("webapp/service.py", "run_request", {"pipeline": "Pipeline", "req": "GenerateRequest",
                                          "return": "DemoOutput"}),
    ("salsav_core/request.py", "prepare", {"limits": "Limits", "return": "GenerateRequest"}),
    ("salsav_core/pipeline.py", "Pipeline.run", {"req": "GenerateRequest", "return": "GenerationResult"}),
    ("salsav_core/pipeline.py", "Pipeline.sample", {"cond": "Conditions", "return": "np.ndarray"}),
    ("salsav_core/sampler.py", "sample_long", {"cond": "Conditions", "return": "np.ndarray"}),
]
# The page's callbacks take whatever the browser sends (gradio fills them from components);
# their seam is build_request, whose raw parameters are checked there.
UNTYPED_OK = {"build_request": {"video", "prompt", "negative_prompt", "steps", "guidance", "seed",
                                "random_seed", "reference_audio", "reference_start", "trim",
                                "start", "end"},
              "run_request": {"progress"}, "Pipeline.run": set(), "Pipeline.sample": set(),
              "prepare": {"steps", "guidance", "seed", "reference_audio", "reference_start",
                          "start", "duration"},
              "sample_long": set()}


@pytest.mark.parametrize("path, qualname, required", SEAM, ids=[q for _, q, _ in SEAM])
def test_web_to_sampler_path_is_typed(path, qualname, required):
    ann = _annotations(_function(ROOT / path, qualname))
    for k, v in required.items():
        assert ann.get(k) == v, (qualname, k, ann.get(k))
    missing = [k for k, v in ann.items() if v is None and k not in UNTYPED_OK[qualname]]
    assert not missing, f"{qualname}: unannotated {missing}"


def test_the_page_goes_through_the_seam():
    ui = (ROOT / "webapp" / "ui.py").read_text()
    assert "service.build_request(" in ui and "service.run_request(" in ui
    assert "pipeline.run(" in (ROOT / "webapp" / "service.py").read_text()
    assert "sample_long(" in ast.unparse(_function(ROOT / "salsav_core" / "pipeline.py", "Pipeline.sample"))


def test_modules_stay_small():
    sizes = {m: len(f.read_text().splitlines()) for m, f in MODULES.items()}
    big = {m: n for m, n in sizes.items() if n >= MAX_LINES}
    assert not big, f"modules of {MAX_LINES}+ lines: {big}"


def test_no_sys_path_hacks_and_no_research_in_the_product_tree():
    files = list(MODULES.values()) + sorted((ROOT / "scripts").glob("*.py")) + \
        sorted((ROOT / "experiments").rglob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))
    assert [f.name for f in files if "sys.path.insert" in f.read_text()] == []
    assert sorted(p.name for p in (ROOT / "scripts").iterdir()) == [
        "install.sh", "make_examples.py", "test.sh", "train_bundle.py"]
    bundle = ROOT / "checkpoints" / "salsav-synthfoley"
    assert not list(bundle.glob("history*.json")) and not (bundle / "train_log.txt").exists()
    assert not (ROOT / "checkpoints" / "candidates").exists()
    for topic in ("sync", "bundle-training", "encoders", "evaluation"):
        assert (ROOT / "experiments" / topic / "README.md").is_file()
