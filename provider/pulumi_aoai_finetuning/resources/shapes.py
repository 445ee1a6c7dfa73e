"""Typed shapes of the resources' map-valued inputs and outputs, like the generated SDKs' ``...ArgsDict`` types.

Plain ``dict`` literals match them, so a program keeps writing ``hyperparameters={"n_epochs": 3}`` while an
editor completes the keys and a type checker refuses a misspelled one.
"""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

import pulumi

__all__ = [
    "CheckpointDict",
    "CheckpointSelectionArgsDict",
    "CopiedAccountDetailDict",
    "DatasetDict",
    "DpoMethodArgsDict",
    "EvaluationGateArgsDict",
    "HyperparametersArgsDict",
    "JobErrorDict",
    "MethodArgsDict",
    "QualityGateArgsDict",
    "RateLimitDict",
    "ReinforcementMethodArgsDict",
    "ResultCountsDict",
    "SupervisedMethodArgsDict",
    "TokenCountDict",
]


class HyperparametersArgsDict(TypedDict, total=False):
    """Training hyperparameters; each one left out takes the service's default ("auto": v1 API only)."""

    n_epochs: pulumi.Input[int | Literal["auto"]]
    """Passes over the training data, 1 to 50."""
    batch_size: pulumi.Input[int | Literal["auto"]]
    """Examples per training step, 1 to 256."""
    learning_rate_multiplier: pulumi.Input[float | Literal["auto"]]
    """Scale of the base learning rate, above 0 and at most 10."""
    prompt_loss_weight: pulumi.Input[float | Literal["auto"]]
    """Weight of the prompt tokens in the loss, 0 to 1."""
    beta: pulumi.Input[float | Literal["auto"]]
    """DPO only: how far the model may move from the reference model, above 0 and at most 10."""


class SupervisedMethodArgsDict(TypedDict, total=False):
    """Settings of supervised fine-tuning."""

    hyperparameters: pulumi.Input[HyperparametersArgsDict]
    """Hyperparameters of this method (instead of the job's top-level ``hyperparameters``)."""


class DpoMethodArgsDict(TypedDict, total=False):
    """Settings of direct preference optimisation."""

    hyperparameters: pulumi.Input[HyperparametersArgsDict]
    """Hyperparameters of this method, ``beta`` among them."""


class ReinforcementMethodArgsDict(TypedDict, total=False):
    """Settings of reinforcement fine-tuning."""

    hyperparameters: pulumi.Input[HyperparametersArgsDict]
    """Hyperparameters of this method."""
    grader: pulumi.Input[dict[str, Any]]
    """The grader that scores the model's answers, as the service's API defines it."""


class MethodArgsDict(TypedDict, total=False):
    """The training method: ``type`` and the settings under the key of that type."""

    type: Required[pulumi.Input[str]]
    """``supervised``, ``dpo`` or ``reinforcement``."""
    supervised: pulumi.Input[SupervisedMethodArgsDict]
    """Settings when ``type`` is ``supervised``."""
    dpo: pulumi.Input[DpoMethodArgsDict]
    """Settings when ``type`` is ``dpo``."""
    reinforcement: pulumi.Input[ReinforcementMethodArgsDict]
    """Settings when ``type`` is ``reinforcement``."""


class QualityGateArgsDict(TypedDict, total=False):
    """Thresholds on the job's final metrics (results.csv); a missed one fails the job's update.

    ``validation_mean_token_accuracy`` (results.csv's name) and ``valid_mean_token_accuracy`` (the metrics
    events' name) are the same metric.
    """

    max_train_loss: pulumi.Input[float]
    """Highest acceptable final training loss."""
    min_train_loss: pulumi.Input[float]
    """Lowest acceptable final training loss."""
    max_train_mean_token_accuracy: pulumi.Input[float]
    """Highest acceptable final training token accuracy."""
    min_train_mean_token_accuracy: pulumi.Input[float]
    """Lowest acceptable final training token accuracy."""
    max_valid_loss: pulumi.Input[float]
    """Highest acceptable final validation loss (needs a validation_file)."""
    min_valid_loss: pulumi.Input[float]
    """Lowest acceptable final validation loss (needs a validation_file)."""
    max_valid_mean_token_accuracy: pulumi.Input[float]
    """Highest acceptable final validation token accuracy (needs a validation_file)."""
    min_valid_mean_token_accuracy: pulumi.Input[float]
    """Lowest acceptable final validation token accuracy (needs a validation_file)."""
    max_validation_mean_token_accuracy: pulumi.Input[float]
    """``max_valid_mean_token_accuracy`` under results.csv's name."""
    min_validation_mean_token_accuracy: pulumi.Input[float]
    """``min_valid_mean_token_accuracy`` under results.csv's name."""
    max_full_valid_loss: pulumi.Input[float]
    """Highest acceptable loss over the whole validation set at the last epoch."""
    min_full_valid_loss: pulumi.Input[float]
    """Lowest acceptable loss over the whole validation set at the last epoch."""
    max_full_valid_mean_token_accuracy: pulumi.Input[float]
    """Highest acceptable token accuracy over the whole validation set at the last epoch."""
    min_full_valid_mean_token_accuracy: pulumi.Input[float]
    """Lowest acceptable token accuracy over the whole validation set at the last epoch."""


class CheckpointSelectionArgsDict(TypedDict, total=False):
    """How ``selected_model`` is picked among a succeeded job's checkpoints: the best by one metric."""

    metric: Required[
        pulumi.Input[
            Literal[
                "train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy",
                "validation_mean_token_accuracy", "full_valid_loss", "full_valid_mean_token_accuracy",
            ]
        ]
    ]  # fmt: skip
    """A checkpoint metric as Azure names it; the ``valid_*`` and ``full_valid_*`` ones need a validation_file."""
    mode: pulumi.Input[Literal["min", "max"]]
    """``min`` or ``max``; default: ``min`` for a loss, ``max`` for an accuracy."""


class CheckpointDict(TypedDict):
    """One checkpoint of a succeeded job (output)."""

    id: str
    """The checkpoint's id (``ftchkpt-...``)."""
    model: str
    """The deployable model name of the checkpoint."""
    step: int
    """The training step it was taken at."""
    metrics: dict[str, float] | None
    """Its metrics at that step."""


class JobErrorDict(TypedDict, total=False):
    """Why a job failed (output)."""

    code: str
    """The service's error code."""
    message: str
    """The service's explanation."""
    param: str | None
    """The input it concerns, if any."""


class DatasetDict(TypedDict):
    """A dataset the job trained on, by id and content-addressed file name (output)."""

    id: str
    """The file id."""
    filename: str | None
    """Its name in the account (content-addressed), or None when the file is gone."""


class RateLimitDict(TypedDict, total=False):
    """A rate limit of a deployment as ARM reports it (output)."""

    key: str
    """What is limited (``request``, ``token``)."""
    renewalPeriod: float
    """The period, in seconds."""
    count: float
    """How many per period."""


class CopiedAccountDetailDict(TypedDict, total=False):
    """The copy's status for one destination account (output)."""

    destinationResourceId: str
    """The destination account's ARM id."""
    region: str
    """The destination's region."""
    status: str
    """``NotStarted``, ``Running``, ``Completed`` or ``Failed``."""


class EvaluationGateArgsDict(TypedDict, total=False):
    """What an Evaluation must reach; a miss fails its create or update, so nothing downstream changes.

    Each threshold is a number (for the overall pass rate: items that pass every criterion) or a map of
    criterion name to number (that criterion's pass rate). Rates are fractions from 0 to 1.
    """

    min_pass_rate: pulumi.Input[float | dict[str, float]]
    """The lowest acceptable pass rate of the model under test."""
    min_improvement_over_baseline: pulumi.Input[float | dict[str, float]]
    """How far the model's pass rate must be above the baseline model's (needs ``baseline_model``)."""


class ResultCountsDict(TypedDict):
    """How the items of one evaluation run fared (output)."""

    total: int
    """Items graded."""
    passed: int
    """Items that passed every criterion."""
    failed: int
    """Items that failed a criterion."""
    errored: int
    """Items the model could not be asked (their prompt came out empty)."""


class TokenCountDict(TypedDict):
    """A dataset's token counts (a TrainingFile's ``token_count`` output, a FineTuningJob's input)."""

    encoding: str
    """The tokenizer counted with (``o200k_base`` or ``cl100k_base``)."""
    file: str
    """The dataset's file name (of its path or URL), for ``file:line`` in a job's messages."""
    examples: int
    """How many examples were counted."""
    tokens: int
    """All examples' tokens: one epoch's trained tokens."""
    max_example_tokens: int
    """The longest example's tokens."""
    max_example_line: int
    """The longest example's line (1-based), for ``file:line``."""
    estimated_examples: int
    """Examples whose count holds an estimated part (images by URL, tool calls)."""
