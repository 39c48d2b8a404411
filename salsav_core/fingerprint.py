"""What cached artefacts depend on: the package's source and the library versions. Used by the
structure cache (`runtime.abstract_module`) and the saved executables (`aot`)."""
from __future__ import annotations

import hashlib
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def source_hash(dirs: tuple[str, ...] | None) -> str:
    """Hash of the package's source in `dirs` (None: all of it, subfolders included)."""
    h = hashlib.sha256()
    files = sorted(_PKG.rglob("*.py")) if dirs is None else \
        [f for d in dirs for f in sorted((_PKG / d).glob("*.py"))]
    for f in files:
        h.update((f.name if dirs is not None else str(f.relative_to(_PKG))).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def library_versions() -> str:
    import flax
    import jax
    import jaxlib
    return f"jax{jax.__version__}-jaxlib{jaxlib.__version__}-flax{flax.__version__}"
