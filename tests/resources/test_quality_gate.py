"""The quality gate takes both of Azure's spellings of the validation accuracy; ``metrics`` keys are sorted."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pulumi_aoai_finetuning import FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.client import final_metrics
from pulumi_aoai_finetuning.resources.fine_tuning_job import gate_misses, job_metrics
from pulumi_aoai_finetuning.testing import EmulatedAccount, EngineReplay, ProviderError
from tests.emulator.support import chat_dataset

MODEL = "gpt-4o-mini-2024-07-18"
# results.csv (and Azure's documentation of it) says "validation_"; the job's metrics events say "valid_".
SPELLINGS = ("validation_mean_token_accuracy", "valid_mean_token_accuracy")


def _files(engine: EngineReplay, account: EmulatedAccount, tmp_path: Path) -> tuple[str, str]:
    ids = []
    for name in ("train", "valid"):
        step = engine.up(
            name,
            TrainingFile,
            {"endpoint": account.endpoint, "path": str(chat_dataset(tmp_path / f"{name}.jsonl", 12))},
        )
        assert step.state is not None
        ids.append(step.state.id)
    return ids[0], ids[1]


@pytest.mark.parametrize("metric", SPELLINGS)
def test_gate_on_either_spelling_fails_when_missed_and_passes_when_met(
    engine: EngineReplay, account: EmulatedAccount, tmp_path: Path, metric: str
) -> None:
    """A missed gate names the metric as the user spelled it with both numbers; a met one exports the model."""
    training, validation = _files(engine, account, tmp_path)
    job = {"endpoint": account.endpoint, "model": MODEL, "training_file": training, "validation_file": validation}
    with pytest.raises(ProviderError) as info:
        engine.up("strict", FineTuningJob, {**job, "suffix": "strict", "quality_gate": {f"min_{metric}": 0.9999}})
    assert f"{metric} = " in info.value.details
    assert "below the minimum 0.9999" in info.value.details
    step = engine.up("lenient", FineTuningJob, {**job, "suffix": "lenient", "quality_gate": {f"min_{metric}": 0.01}})
    assert step.state is not None
    outputs = step.state.outputs
    assert outputs["status"] == "succeeded"
    assert outputs["fine_tuned_model"]
    assert 0.01 <= outputs["metrics"]["valid_mean_token_accuracy"] < 0.9999
    assert "validation_mean_token_accuracy" not in outputs["metrics"]


def test_metrics_output_is_sorted_whatever_the_column_order_or_spelling() -> None:
    """Shuffled results.csv columns, with either spelling, give the same metrics in the same (sorted) order."""
    columns = [
        "step",
        "train_loss",
        "train_mean_token_accuracy",
        "valid_loss",
        "full_valid_loss",
        "full_valid_mean_token_accuracy",
    ]
    outputs = []
    for seed, accuracy in enumerate(SPELLINGS * 3):
        shuffled = [*columns, accuracy]
        random.Random(seed).shuffle(shuffled)
        rows = [{c: str(step + i / 10) for i, c in enumerate(shuffled)} for step in (1, 2)]
        metrics = job_metrics(final_metrics(rows))
        assert list(metrics) == sorted(metrics)
        outputs.append(list(metrics))
        assert "valid_mean_token_accuracy" in metrics
        assert "validation_mean_token_accuracy" not in metrics
    assert all(keys == outputs[0] for keys in outputs)


def test_gate_misses_reads_either_spelling_from_the_metrics_output() -> None:
    """The same threshold under both names gives the same verdict."""
    metrics = {"valid_mean_token_accuracy": 0.8, "train_loss": 0.2}
    for metric in SPELLINGS:
        assert gate_misses({f"min_{metric}": 0.7}, metrics) == []
        assert gate_misses({f"min_{metric}": 0.9}, metrics) == [f"{metric} = 0.8, below the minimum 0.9"]
