"""Azure OpenAI fine-tuning as Pulumi resources: datasets, jobs, checkpoint copies and deployments."""

from .resources import (
    CheckpointCopy,
    CheckpointCopyArgs,
    Deployment,
    DeploymentArgs,
    FineTuningJob,
    FineTuningJobArgs,
    TrainingFile,
    TrainingFileArgs,
)

__all__ = [
    "CheckpointCopy",
    "CheckpointCopyArgs",
    "Deployment",
    "DeploymentArgs",
    "FineTuningJob",
    "FineTuningJobArgs",
    "TrainingFile",
    "TrainingFileArgs",
]
