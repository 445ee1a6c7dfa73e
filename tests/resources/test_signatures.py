"""The typed signatures say exactly what the providers take: keywords, Args fields and map shapes."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

import pytest

from pulumi_aoai_finetuning import (
    CheckpointCopy,
    CheckpointCopyArgs,
    Deployment,
    DeploymentArgs,
    Evaluation,
    EvaluationArgs,
    FineTuningJob,
    FineTuningJobArgs,
    HyperparametersArgsDict,
    QualityGateArgsDict,
    TrainingFile,
    TrainingFileArgs,
)
from pulumi_aoai_finetuning.resources import checkpoint_copy, deployment, evaluation, fine_tuning_job, training_file

RESOURCES = [
    (TrainingFile, TrainingFileArgs, training_file.INPUTS, {"endpoint"}),
    (FineTuningJob, FineTuningJobArgs, fine_tuning_job.INPUTS, {"endpoint", "model", "training_file"}),
    (CheckpointCopy, CheckpointCopyArgs, checkpoint_copy.INPUTS, {"endpoint", "job_id", "destination_account_id"}),
    (Deployment, DeploymentArgs, deployment.INPUTS, {"account_id", "deployment_name", "model"}),
    (Evaluation, EvaluationArgs, evaluation.INPUTS, {"endpoint", "model", "testing_criteria", "input_messages"}),
]
IDS = [r[0].__name__ for r in RESOURCES]


@pytest.mark.parametrize(("resource", "args", "inputs", "required"), RESOURCES, ids=IDS)
def test_keyword_form_and_args_declare_every_input_and_only_those(
    resource: type, args: type, inputs: tuple[str, ...], required: set[str]
) -> None:
    """The keyword overload and the Args dataclass name exactly the inputs the provider registers."""
    overloads = typing.get_overloads(resource.__init__)
    assert len(overloads) == 2
    by_args, by_keywords = (inspect.signature(o).parameters for o in overloads)
    assert list(by_args) == ["self", "resource_name", "args", "opts"]
    keywords = {n: p for n, p in by_keywords.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "opts"}
    assert set(keywords) == set(inputs)
    assert {n for n, p in keywords.items() if p.default is inspect.Parameter.empty} == required
    fields = {f.name: f for f in dataclasses.fields(args)}
    assert set(fields) == set(inputs)
    assert {n for n, f in fields.items() if f.default is dataclasses.MISSING} == required


@pytest.mark.parametrize(("resource", "args", "inputs", "required"), RESOURCES, ids=IDS)
def test_an_unknown_keyword_is_still_a_type_error_at_run_time(
    resource: Any, args: type, inputs: tuple[str, ...], required: set[str]
) -> None:
    """A program that is not type-checked gets the misspelling named, before anything is registered."""
    with pytest.raises(TypeError, match=r"unknown argument\(s\) \['modle'\]"):
        resource("r", modle="gpt-4o-mini-2024-07-18", **dict.fromkeys(required, "x"))


def test_map_shapes_name_what_check_accepts() -> None:
    """HyperparametersArgsDict and QualityGateArgsDict list the keys the provider's check knows, no more."""
    assert set(HyperparametersArgsDict.__annotations__) == set(fine_tuning_job.HYPERPARAMETERS)
    metrics = (*fine_tuning_job.METRICS, *fine_tuning_job.METRIC_SPELLINGS)
    assert set(QualityGateArgsDict.__annotations__) == {f"{b}_{m}" for b in ("max", "min") for m in metrics}
