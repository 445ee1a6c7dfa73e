"""The resources: one module each, with its Args, its Resource class and its provider.

Each module is imported on first use of one of its names: the plugin that unpickles a TrainingFile's provider
imports ``training_file`` alone, not the three other resources (about 17 ms of every plugin start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:
    from .checkpoint_copy import CheckpointCopy, CheckpointCopyArgs, CheckpointCopyProvider
    from .deployment import Deployment, DeploymentArgs, DeploymentProvider
    from .evaluation import Evaluation, EvaluationArgs, EvaluationProvider
    from .fine_tuning_job import FineTuningJob, FineTuningJobArgs, FineTuningJobProvider
    from .shapes import (
        CheckpointDict,
        CheckpointSelectionArgsDict,
        CopiedAccountDetailDict,
        DatasetDict,
        DpoMethodArgsDict,
        EvaluationGateArgsDict,
        HyperparametersArgsDict,
        JobErrorDict,
        MethodArgsDict,
        QualityGateArgsDict,
        RateLimitDict,
        ReinforcementMethodArgsDict,
        ResultCountsDict,
        SupervisedMethodArgsDict,
        TokenCountDict,
    )
    from .training_file import TrainingFile, TrainingFileArgs, TrainingFileProvider

__all__ = [
    "CheckpointCopy",
    "CheckpointCopyArgs",
    "CheckpointCopyProvider",
    "CheckpointDict",
    "CheckpointSelectionArgsDict",
    "CopiedAccountDetailDict",
    "DatasetDict",
    "Deployment",
    "DeploymentArgs",
    "DeploymentProvider",
    "DpoMethodArgsDict",
    "Evaluation",
    "EvaluationArgs",
    "EvaluationGateArgsDict",
    "EvaluationProvider",
    "FineTuningJob",
    "FineTuningJobArgs",
    "FineTuningJobProvider",
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
    "TrainingFileProvider",
]

_MODULE_OF = {  # each name's module
    "CheckpointCopy": "checkpoint_copy",
    "CheckpointCopyArgs": "checkpoint_copy",
    "CheckpointCopyProvider": "checkpoint_copy",
    "CheckpointDict": "shapes",
    "CheckpointSelectionArgsDict": "shapes",
    "CopiedAccountDetailDict": "shapes",
    "DatasetDict": "shapes",
    "Deployment": "deployment",
    "DeploymentArgs": "deployment",
    "DeploymentProvider": "deployment",
    "DpoMethodArgsDict": "shapes",
    "Evaluation": "evaluation",
    "EvaluationArgs": "evaluation",
    "EvaluationGateArgsDict": "shapes",
    "EvaluationProvider": "evaluation",
    "FineTuningJob": "fine_tuning_job",
    "FineTuningJobArgs": "fine_tuning_job",
    "FineTuningJobProvider": "fine_tuning_job",
    "HyperparametersArgsDict": "shapes",
    "JobErrorDict": "shapes",
    "MethodArgsDict": "shapes",
    "QualityGateArgsDict": "shapes",
    "RateLimitDict": "shapes",
    "ReinforcementMethodArgsDict": "shapes",
    "ResultCountsDict": "shapes",
    "SupervisedMethodArgsDict": "shapes",
    "TokenCountDict": "shapes",
    "TrainingFile": "training_file",
    "TrainingFileArgs": "training_file",
    "TrainingFileProvider": "training_file",
}


__getattr__, __dir__ = lazy_names(__name__, {name: f".{home}" for name, home in _MODULE_OF.items()}, __all__)
