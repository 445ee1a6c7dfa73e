"""The resources: one module each, with its Args, its Resource class and its provider."""

from .fine_tuning_job import FineTuningJob, FineTuningJobArgs, FineTuningJobProvider
from .training_file import TrainingFile, TrainingFileArgs, TrainingFileProvider

__all__ = [
    "FineTuningJob",
    "FineTuningJobArgs",
    "FineTuningJobProvider",
    "TrainingFile",
    "TrainingFileArgs",
    "TrainingFileProvider",
]
