"""The no-op benchmark's shaped baseline has a TrainingFile's shape, so the comparison with it stays fair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmarks.bench_stack import SHAPED_PROPS, ShapedNothingProvider

from pulumi_aoai_finetuning.resources import training_file
from pulumi_aoai_finetuning.resources.training_file import TrainingFileProvider


def test_the_shaped_baseline_registers_the_properties_a_training_file_registers() -> None:
    """Same names as TrainingFile's inputs, outputs and computed inputs: none missing, none extra."""
    registered = (*training_file.INPUTS, *training_file.OUTPUTS, *training_file.COMPUTED_INPUTS)
    assert sorted(SHAPED_PROPS) == sorted(registered)


def test_the_shaped_baseline_checks_to_a_training_files_checked_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its check returns the keys a TrainingFile's check returns, the token counts' nested keys included."""
    monkeypatch.setenv("AOAI_FT_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "d0.jsonl"
    line = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
    data.write_text("".join(json.dumps(line) + "\n" for _ in range(12)))
    news = {"endpoint": "https://a.openai.azure.com/", "path": str(data)}
    real = TrainingFileProvider().check({}, news).inputs
    shaped = ShapedNothingProvider().check({}, news).inputs
    assert sorted(shaped) == sorted(real)
    assert sorted(shaped["token_count"]) == sorted(real["token_count"])
