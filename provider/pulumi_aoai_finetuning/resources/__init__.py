"""The resources: one module each, with its Args, its Resource class and its provider."""

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
