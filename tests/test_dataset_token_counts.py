"""Token counts kept with the verdict cache: counted once per file state, in each encoding asked for."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_aoai_finetuning import tokens
from pulumi_aoai_finetuning.datasets import cache as ds_cache
from pulumi_aoai_finetuning.datasets import counts as ds_counts
from pulumi_aoai_finetuning.datasets import validate_file
from pulumi_aoai_finetuning.tokens import count_file

LINES = [
    {"messages": [{"role": "user", "content": f"question {i} " * (i + 1)}, {"role": "assistant", "content": "ok"}]}
    for i in range(12)
]


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache directory and an empty in-process cache for every test."""
    monkeypatch.setenv("AOAI_FT_CACHE_DIR", str(tmp_path / "cache"))
    ds_cache._MEMORY.clear()
    yield tmp_path / "cache" / "datasets"
    ds_cache._MEMORY.clear()


def _dataset(path: Path, lines: list[dict[str, object]] = LINES) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    past = time.time_ns() - 3600 * 10**9  # older than the racy window, so its verdict may be cached
    os.utime(path, ns=(past, past))
    return path


class Counted:
    """How often a file is actually counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real = ds_counts.count_file

        def counting(path: str | os.PathLike[str], encoding: str) -> tokens.FileTokens:
            self.calls.append(encoding)
            return real(path, encoding)

        monkeypatch.setattr(ds_counts, "count_file", counting)


def test_counts_are_kept_with_the_verdict_and_survive_a_new_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A validated file is counted once per encoding; the counts come back from disk after the memory is gone."""
    path = _dataset(tmp_path / "train.jsonl")
    counted = Counted(monkeypatch)
    assert validate_file(path).ok
    first = ds_counts.count_tokens(path, "o200k_base")
    assert first == count_file(path, "o200k_base")
    assert ds_counts.count_tokens(path, "o200k_base") == first
    assert counted.calls == ["o200k_base"]
    other = ds_counts.count_tokens(path, "cl100k_base")
    assert other == count_file(path, "cl100k_base")
    assert counted.calls == ["o200k_base", "cl100k_base"]
    ds_cache._MEMORY.clear()  # what a new plugin process sees: the disk only
    assert validate_file(path).ok
    assert ds_counts.count_tokens(path, "o200k_base") == first
    assert ds_counts.count_tokens(path, "cl100k_base") == other
    assert counted.calls == ["o200k_base", "cl100k_base"]


def test_a_changed_file_is_counted_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """New content, new stamp: the old counts are not served for it."""
    path = _dataset(tmp_path / "train.jsonl")
    validate_file(path)
    before = ds_counts.count_tokens(path, "o200k_base")
    _dataset(path, [*LINES, *LINES[:3]])
    counted = Counted(monkeypatch)
    validate_file(path)
    after = ds_counts.count_tokens(path, "o200k_base")
    assert counted.calls == ["o200k_base"]
    assert after.examples == before.examples + 3
    assert after == count_file(path, "o200k_base")


def test_counts_of_an_older_counting_rule_are_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bumping TOKENS_VERSION (a counting rule changed) makes every cached count a miss."""
    path = _dataset(tmp_path / "train.jsonl")
    validate_file(path)
    ds_counts.count_tokens(path, "o200k_base")
    monkeypatch.setattr(ds_cache, "TOKENS_VERSION", ds_cache.TOKENS_VERSION + 1)
    ds_cache._MEMORY.clear()
    counted = Counted(monkeypatch)
    validate_file(path)
    ds_counts.count_tokens(path, "o200k_base")
    assert counted.calls == ["o200k_base"]


def test_a_fresh_verdict_on_the_same_file_keeps_its_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A validation that wants more errors listed replaces the verdict, not the counts of the same file state."""
    path = _dataset(tmp_path / "train.jsonl")
    validate_file(path, max_errors=1)
    ds_counts.count_tokens(path, "o200k_base")
    validate_file(path, max_errors=50)
    counted = Counted(monkeypatch)
    ds_counts.count_tokens(path, "o200k_base")
    assert counted.calls == []


def test_over_limit_names_the_longest_example(tmp_path: Path) -> None:
    """Above the limit, the longest example's line and size are reported; at or under it, nothing."""
    path = _dataset(tmp_path / "train.jsonl")
    counts = ds_counts.count_tokens(path, "o200k_base", use_cache=False)
    longest = max(range(len(LINES)), key=lambda i: tokens.count_example(LINES[i], "o200k_base").tokens)
    over = ds_counts.over_limit(counts, counts.max_example_tokens - 1)
    assert over is not None
    assert (over.line, over.tokens) == (longest + 1, counts.max_example_tokens)
    assert f"{path}:{longest + 1}:" in over.message(str(path), "gpt-4o-mini-2024-07-18")
    assert ds_counts.over_limit(counts, counts.max_example_tokens) is None
    assert ds_counts.over_limit(counts, None) is None
