"""A Pulumi program that uses every resource in both forms (keywords and an Args object) and their outputs.

Not run: ``test_typing.py`` type-checks it under ``mypy --strict``, as a user's editor would.
"""

from __future__ import annotations

import pulumi

from pulumi_aoai_finetuning import (
    CheckpointCopy,
    CheckpointCopyArgs,
    CheckpointDict,
    Deployment,
    DeploymentArgs,
    FineTuningJob,
    FineTuningJobArgs,
    HyperparametersArgsDict,
    MethodArgsDict,
    QualityGateArgsDict,
    TrainingFile,
    TrainingFileArgs,
)

ENDPOINT = "https://example.openai.azure.com/"
ACCOUNT = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a"
REMOTE = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/b"
config = pulumi.Config()

training = TrainingFile("training", endpoint=ENDPOINT, path="data/training.jsonl", timeout_minutes=10)
validation = TrainingFile(
    "validation",
    TrainingFileArgs(endpoint=ENDPOINT, content_url="https://blob/validation.jsonl", filename="validation.jsonl"),
    pulumi.ResourceOptions(protect=True),
)

hyperparameters: HyperparametersArgsDict = {"n_epochs": 3, "batch_size": "auto", "learning_rate_multiplier": 0.5}
gate: QualityGateArgsDict = {
    "max_full_valid_loss": config.get_float("maxLoss") or 1.0,
    "min_validation_mean_token_accuracy": 0.5,
}
job = FineTuningJob(
    "job",
    endpoint=ENDPOINT,
    model="gpt-4o-mini-2024-07-18",
    training_file=training.file_id,
    validation_file=validation.file_id,
    suffix="typed",
    seed=7,
    hyperparameters=hyperparameters,
    quality_gate=gate,
    select_checkpoint_by={"metric": "full_valid_loss", "mode": "min"},
    opts=pulumi.ResourceOptions(depends_on=[training]),
)
dpo: MethodArgsDict = {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}}
continued = FineTuningJob(
    "continued",
    FineTuningJobArgs(
        endpoint=ENDPOINT,
        model=job.fine_tuned_model,
        training_file=training.file_id,
        method=dpo,
        wait=True,
        quality_gate={"max_train_loss": 2},
    ),
)
simple = FineTuningJob(
    "simple", endpoint=ENDPOINT, model="gpt-4.1-2025-04-14", training_file=training.file_id, method="supervised"
)

counted = TrainingFile(
    "counted", endpoint=ENDPOINT, path="data/training.jsonl", model="gpt-4o-mini-2024-07-18", count_tokens=True
)
budgeted = FineTuningJob(
    "budgeted",
    endpoint=ENDPOINT,
    model="gpt-4o-mini-2024-07-18",
    training_file=counted.file_id,
    training_token_count=counted.token_count,
    max_trained_tokens=1_000_000,
    max_training_cost=config.get_float("maxTrainingCost"),
)

copy = CheckpointCopy("copy", endpoint=ENDPOINT, job_id=job.job_id, destination_account_id=REMOTE)
copy_of_checkpoint = CheckpointCopy(
    "copy-checkpoint",
    CheckpointCopyArgs(
        endpoint=ENDPOINT,
        job_id=job.job_id,
        destination_account_id=REMOTE,
        checkpoint=job.checkpoints.apply(lambda cs: cs[-1]["model"] if cs else ""),
        destination_region="swedencentral",
    ),
)

deployment = Deployment(
    "deployment",
    account_id=ACCOUNT,
    deployment_name="typed",
    model=job.selected_model,
    sku_name="Standard",
    capacity=config.get_int("capacity") or 1,
)
remote = Deployment(
    "remote",
    DeploymentArgs(
        account_id=REMOTE,
        deployment_name="typed-remote",
        model=copy.model_name,
        source_account_id=ACCOUNT,
        capacity=2,
        version_upgrade_option="NoAutoUpgrade",
    ),
)


def newest(checkpoints: list[CheckpointDict] | None) -> int:
    """The step of the newest checkpoint, a typed output shape."""
    return checkpoints[0]["step"] if checkpoints else 0


accuracy: pulumi.Output[float | None] = job.metrics.apply(lambda m: (m or {}).get("valid_mean_token_accuracy"))
pulumi.export("model", job.fine_tuned_model)
pulumi.export("newest_step", job.checkpoints.apply(newest))
pulumi.export("accuracy", accuracy)
pulumi.export("bytes", training.bytes)
pulumi.export("deployment_id", deployment.deployment_id)
pulumi.export("rate_limits", remote.rate_limits)
pulumi.export("copied", copy_of_checkpoint.status)
pulumi.export("simple", simple.status)
pulumi.export("continued", continued.fine_tuned_model)
pulumi.export("tokens", counted.tokens)
pulumi.export("estimated_cost", budgeted.estimated_training_cost)
pulumi.export("estimate_error", budgeted.estimate_error)
pulumi.export("hourly_cost", deployment.hourly_cost)
