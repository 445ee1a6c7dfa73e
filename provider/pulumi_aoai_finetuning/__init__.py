"""Azure OpenAI fine-tuning as Pulumi resources: datasets, jobs, checkpoint copies, deployments and evaluations."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .resources import (
        CheckpointCopy,
        CheckpointCopyArgs,
        CheckpointDict,
        CheckpointSelectionArgsDict,
        CopiedAccountDetailDict,
        DatasetDict,
        Deployment,
        DeploymentArgs,
        DpoMethodArgsDict,
        Evaluation,
        EvaluationArgs,
        EvaluationGateArgsDict,
        FineTuningJob,
        FineTuningJobArgs,
        HyperparametersArgsDict,
        JobErrorDict,
        MethodArgsDict,
        QualityGateArgsDict,
        RateLimitDict,
        ReinforcementMethodArgsDict,
        ResultCountsDict,
        SupervisedMethodArgsDict,
        TokenCountDict,
        TrainingFile,
        TrainingFileArgs,
    )

__all__ = [
    "CheckpointCopy",
    "CheckpointCopyArgs",
    "CheckpointDict",
    "CheckpointSelectionArgsDict",
    "CopiedAccountDetailDict",
    "DatasetDict",
    "Deployment",
    "DeploymentArgs",
    "DpoMethodArgsDict",
    "Evaluation",
    "EvaluationArgs",
    "EvaluationGateArgsDict",
    "FineTuningJob",
    "FineTuningJobArgs",
    "HyperparametersArgsDict",
    "JobErrorDict",
    "MethodArgsDict",
    "QualityGateArgsDict",
    "RateLimitDict",
    "ReinforcementMethodArgsDict",
    "ResultCountsDict",
    "SupervisedMethodArgsDict",
    "TokenCountDict",
    "TrainingFile",
    "TrainingFileArgs",
]


def __getattr__(name: str) -> Any:
    """The resources, imported on first use: the ``aoai-ft`` command and the emulator never load the Pulumi SDK."""
    if name in __all__:
        value = getattr(importlib.import_module(".resources", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
