"""The no-op benchmark's shaped baseline has a TrainingFile's shape, so the comparison with it stays fair."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic
import pytest
from benchmarks.bench_stack import SHAPED_PROPS, ShapedNothing, ShapedNothingProvider

from pulumi_aoai_finetuning.resources import training_file
from pulumi_aoai_finetuning.resources.training_file import TrainingFile, TrainingFileProvider


def test_the_shaped_baseline_registers_the_properties_a_training_file_registers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The props each class hands to the SDK have the same names: none missing, none extra."""
    registered: dict[str, list[str]] = {}

    def record(self: Any, provider: Any, name: str, props: dict[str, Any], opts: Any = None) -> None:
        registered[type(self).__name__] = sorted(props)

    monkeypatch.setattr(pulumi.dynamic.Resource, "__init__", record)
    TrainingFile("r0", endpoint="https://a.openai.azure.com/", path="d0.jsonl")
    ShapedNothing("r0", "https://a.openai.azure.com/", "d0.jsonl")
    assert registered["ShapedNothing"] == registered["TrainingFile"]
    assert len(registered["TrainingFile"]) == len(SHAPED_PROPS)


def test_the_shaped_baseline_checks_to_a_training_files_checked_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its check returns the keys a TrainingFile's check returns, the token counts' nested keys included."""
    monkeypatch.setenv("AOAI_FT_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "d0.jsonl"
    line = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
    data.write_text("".join(json.dumps(line) + "\n" for _ in range(12)))
    news = {"endpoint": "https://a.openai.azure.com/", "path": str(data), training_file.OWNER_KEY: "proj/dev/r0"}
    real = TrainingFileProvider().check({}, news).inputs
    shaped = ShapedNothingProvider().check({}, news).inputs
    assert sorted(shaped) == sorted(real)
    assert sorted(shaped["token_count"]) == sorted(real["token_count"])
