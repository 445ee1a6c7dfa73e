"""Azure OpenAI fine-tuning as Pulumi resources: datasets, jobs, checkpoint copies and deployments."""

from .resources import FineTuningJob, FineTuningJobArgs, TrainingFile, TrainingFileArgs

__all__ = ["FineTuningJob", "FineTuningJobArgs", "TrainingFile", "TrainingFileArgs"]
