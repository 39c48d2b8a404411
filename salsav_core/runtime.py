"""Process start-up: the user cache folder, JAX's persistent compilation cache, and a cache of
model structures (so a checkpoint loads without tracing its constructors).

- `cache_dir()`: $SALSAV_CACHE_DIR, else $XDG_CACHE_HOME/salsav, else ~/.cache/salsav.
- `enable_compile_cache()`: JAX writes every compiled program (sampler, encoders) there and a
  new process reuses it instead of compiling again. On by default in the app, the CLI (generate,
  eval, train) and the benchmarks; SALSAV_COMPILE_CACHE=0 turns it off. With it, the hot
  programs are also kept as whole executables (`aot`), so a new process skips tracing them.
- `abstract_module(factory, key)`: the (graphdef, abstract state) of `factory()`. Tracing a
  15M-parameter constructor (`nnx.eval_shape`) costs seconds here; the result is pickled under
  a key made of the config, the source of the model packages and the library versions, so a
  code change can never reuse a stale structure. Only this process writes these files, in the
  user's own cache folder; a file that fails to load is rebuilt.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
from pathlib import Path

from .fingerprint import library_versions, source_hash

log = logging.getLogger("salsav.runtime")
_SOURCE_DIRS = ("model", "encoders")          # the modules whose structure is cached


def cache_dir() -> Path:
    base = os.environ.get("SALSAV_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "salsav"


def _off(name: str) -> bool:
    return os.environ.get(name, "1").strip().lower() in {"0", "false", "no", "off"}


def enable_compile_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in `path` (default cache_dir()/jax).
    Returns the folder, or None when SALSAV_COMPILE_CACHE=0 or the folder is not writable."""
    if path is None and _off("SALSAV_COMPILE_CACHE"):
        return None
    import jax
    folder = Path(path) if path is not None else cache_dir() / "jax"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        log.warning("compile cache off: %s", e)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    from . import aot
    aot.enable(folder.parent / "executables")      # whole executables: no tracing in a new process
    return folder


@contextlib.contextmanager
def _quiet_tracer_errors():
    """flax probes `getattr(tracer, "sharding", None)` on each RNG update while tracing a
    constructor; JAX builds that AttributeError's message by walking the whole trace
    (quadratic: 2/3 of an eval_shape). The message is never shown: skip building it."""
    try:
        from jax._src.interpreters import partial_eval as pe
        cls = pe.DynamicJaxprTracer
        orig = cls._origin_msg
    except (ImportError, AttributeError):   # another JAX: nothing to skip
        yield
        return
    cls._origin_msg = lambda self: ""
    try:
        yield
    finally:
        cls._origin_msg = orig


def abstract_module(factory, key: str | None = None):
    """(graphdef, abstract state) of the module `factory()` builds, from the structure cache
    when `key` (e.g. the class name + its config JSON) was built before by the same code
    (key None: no disk cache)."""
    from flax import nnx
    use_cache = key is not None and not _off("SALSAV_STRUCTURE_CACHE")
    digest = hashlib.sha256(f"{key}|{source_hash(_SOURCE_DIRS)}|{library_versions()}".encode()).hexdigest()[:24]
    path = cache_dir() / "structures" / f"{digest}.pkl"
    if use_cache and path.is_file():
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception as e:   # noqa: BLE001  (a damaged cache file is rebuilt)
            log.warning("structure cache %s unreadable (%s): rebuilding", path.name, e)
    with _quiet_tracer_errors():
        graphdef, state = nnx.split(nnx.eval_shape(factory))
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                pickle.dump((graphdef, state), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as e:
            log.warning("structure cache not written: %s", e)
    return graphdef, state
