"""Word tokenizer that needs no download: hashed word ids (any prompt works).

Words are lower-cased runs of letters/digits; each maps to 1 + crc32(word) % (buckets - 1),
so id 0 is padding. Collisions are rare for the world's small caption vocabulary.
"""
from __future__ import annotations

import re
import zlib

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def word_id(word: str, buckets: int) -> int:
    return 1 + zlib.crc32(word.encode("utf-8")) % (buckets - 1)


def tokenize(texts: list[str], buckets: int, max_words: int) -> np.ndarray:
    """list of N strings -> (N, max_words) int32 ids, 0-padded, truncated at max_words."""
    if isinstance(texts, str):
        raise TypeError("tokenize takes a list of strings, not one string")
    out = np.zeros((len(texts), max_words), np.int32)
    for i, t in enumerate(texts):
        ids = [word_id(w, buckets) for w in words(t)][:max_words]
        out[i, :len(ids)] = ids
    return out
