"""The resources: one module each, with its Args, its Resource class and its provider."""

from .checkpoint_copy import CheckpointCopy, CheckpointCopyArgs, CheckpointCopyProvider
from .deployment import Deployment, DeploymentArgs, DeploymentProvider
from .fine_tuning_job import FineTuningJob, FineTuningJobArgs, FineTuningJobProvider
from .training_file import TrainingFile, TrainingFileArgs, TrainingFileProvider

__all__ = [
    "CheckpointCopy",
    "CheckpointCopyArgs",
    "CheckpointCopyProvider",
    "Deployment",
    "DeploymentArgs",
    "DeploymentProvider",
    "FineTuningJob",
    "FineTuningJobArgs",
    "FineTuningJobProvider",
    "TrainingFile",
    "TrainingFileArgs",
    "TrainingFileProvider",
]
