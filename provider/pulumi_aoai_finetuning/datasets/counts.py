"""Token counts of a dataset file, kept with its validation verdict so an unchanged file is counted once.

Counting is a second pass over the file, after validation, rather than part of the validating scan: the
validator's fast path decodes whole chunks into typed structs and never builds the per-message Python objects
that counting needs, so folding counting into it would slow every validation, including the files that are
never counted (``count_tokens: false``, other purposes). Counting dominates the cost anyway (about 37 MB/s
against validation's 600+ MB/s, ``benchmarks/bench_tokens.py``); the second read of a file just validated
comes from the page cache. A warm preview pays neither: the counts live in the verdict cache's entry.
"""

from __future__ import annotations

import os

from ..tokens import FileTokens, OverLimit, count_file
from . import cache

__all__ = ["count_tokens", "over_limit"]


def count_tokens(path: str | os.PathLike[str], encoding: str, *, use_cache: bool = True) -> FileTokens:
    """The token totals of the JSONL file at ``path`` in ``encoding``, from the verdict cache when unchanged.

    The file should have been validated first (its line errors are worded by validation, not here); the counts
    are cached only beside that verdict. Raises ``tokens.TokenCountError`` on a line that is not a JSON object.
    """
    key = os.path.abspath(os.fspath(path))
    before = os.stat(key)
    if use_cache:
        cached = cache.lookup_tokens(key, cache.Stamp.of(before), encoding)
        if cached is not None:
            return cached
    counts = count_file(os.fspath(path), encoding)  # errors name the path as given
    if use_cache:
        cache.store_tokens(key, before, os.stat(key), encoding, counts)
    return counts


def over_limit(counts: FileTokens, limit: int | None) -> OverLimit | None:
    """The file's longest example when it is above ``limit`` (its line, for ``file:line``), else None."""
    if limit is None or counts.max_example_tokens <= limit:
        return None
    return OverLimit(line=counts.max_line, tokens=counts.max_example_tokens, limit=limit)
