"""Compiled programs kept whole on disk, so that a new process neither traces nor lowers them.

JAX's persistent compilation cache (`runtime.enable_compile_cache`) saves compiling, but a new
process still traces every jitted function and lowers it to find its entry: on this CPU that is
about 1.9 s of the CLI's first generation (the sampler's window, the two encoders, the codec's
phase blocks) against 1.3 s for the whole warm generation. `call(fn, static, *args)` runs the
`jax.jit` function `fn` (its first len(static) arguments static) from an XLA executable that
`jax.experimental.serialize_executable` wrote, keyed by everything the program depends on: the
function, its static arguments, the tree structure, shapes and dtypes of the others, the
source of the whole package, the jax/jaxlib/flax versions, XLA_FLAGS and the CPU's features.
A key that changes compiles anew; a file that fails to load is rebuilt.

On where the compile cache is (the app, the CLI, eval, the benchmarks: `enable(folder)`), off
otherwise (tests, library use) and with SALSAV_COMPILE_CACHE=0: then `call` is `fn(*args)`.
Only this process writes these files, into the user's own cache folder (`runtime.cache_dir`).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import re
import threading
from pathlib import Path

import numpy as np

from .fingerprint import library_versions, source_hash

log = logging.getLogger("salsav.aot")
_DIR: Path | None = None
_LOADED: dict[tuple, object] = {}
_LOCK = threading.Lock()
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def enable(folder: str | os.PathLike | None) -> None:
    """Keep executables in `folder` (None: off)."""
    global _DIR
    _DIR = None if folder is None else Path(folder)
    _LOADED.clear()


@functools.lru_cache(maxsize=1)
def _environment() -> str:
    """What every executable depends on besides its own function and arguments."""
    import jax

    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln for ln in fh if ln.startswith("flags")), "")
    except OSError:
        import platform
        cpu = platform.processor()
    return "|".join([source_hash(None), library_versions(), os.environ.get("XLA_FLAGS", ""),
                     hashlib.sha256(cpu.encode()).hexdigest(), str(jax.devices()[0].platform)])


def _key(fn, static: tuple, args: tuple) -> tuple:
    import jax
    leaves, tree = jax.tree_util.tree_flatten(args)
    shapes = tuple((tuple(x.shape), str(x.dtype), bool(getattr(x, "weak_type", False))) for x in leaves)
    return getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)), static, tree, shapes


def _digest(key: tuple) -> str:
    mod, name, static, tree, shapes = key
    # reprs of the static arguments (a model's graphdef) name functions "at 0x…": drop addresses
    text = _ADDRESS.sub("", "\n".join([_environment(), mod, name, repr(static), str(tree), repr(shapes)]))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _load(path: Path):
    from jax.experimental import serialize_executable
    with open(path, "rb") as f:
        blob, in_tree, out_tree = pickle.load(f)
    return serialize_executable.deserialize_and_load(blob, in_tree, out_tree)


def _compile_and_save(fn, static: tuple, args: tuple, path: Path):
    """Compile for real and save the executable once it has been read back and run the same.
    JAX's persistent cache is bypassed here: an executable it hands back serializes without
    all of its kernels (files that then fail with "Function ... not found")."""
    import jax
    from jax._src import config as jax_config
    from jax.experimental import serialize_executable
    with jax_config.enable_compilation_cache(False):
        compiled = fn.lower(*static, *args).compile()
    try:
        blob = serialize_executable.serialize(compiled)
        again = serialize_executable.deserialize_and_load(*blob)
        want, got = jax.device_get(compiled(*args)), jax.device_get(again(*args))
        if not all(np.array_equal(w, g) for w, g in zip(jax.tree_util.tree_leaves(want),
                                                         jax.tree_util.tree_leaves(got))):
            raise ValueError("the executable read back computes something else")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(blob, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception as e:   # noqa: BLE001  (not saved: only the next start pays)
        log.warning("executable not saved: %s", e)
    return compiled


def call(fn, static: tuple, *args):
    """fn(*static, *args), from a saved executable when executables are on."""
    if _DIR is None:
        return fn(*static, *args)
    key = _key(fn, static, args)
    exe = _LOADED.get(key)
    if exe is not None:
        return exe(*args)
    with _LOCK:              # loading and first runs one at a time (XLA links kernels then)
        exe = _LOADED.get(key)
        if exe is not None:
            return exe(*args)
        path = _DIR / f"{_digest(key)}.xla"
        if path.is_file():
            try:
                exe = _load(path)
            except Exception as e:   # noqa: BLE001  (a damaged or foreign file is rebuilt)
                log.warning("executable %s unreadable (%s): compiling", path.name, e)
        if exe is None:
            exe = _compile_and_save(fn, static, args, path)
        import jax
        out = jax.block_until_ready(exe(*args))
        _LOADED[key] = exe
        return out
