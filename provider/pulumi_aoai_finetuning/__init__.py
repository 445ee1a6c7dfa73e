"""Azure OpenAI fine-tuning as Pulumi resources: datasets, jobs, checkpoint copies, deployments and evaluations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_names

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


# The resources, imported on first use: the ``aoai-ft`` command and the emulator never load the Pulumi SDK.
__getattr__, __dir__ = lazy_names(__name__, dict.fromkeys(__all__, ".resources"), __all__)
