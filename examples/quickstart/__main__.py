"""Quickstart: a resource group and an Azure OpenAI account, two datasets, one fine-tuning job, one deployment.

Set ``existingAccount`` (``{"id": ..., "endpoint": ...}``) to use an account created elsewhere instead.
"""

from pathlib import Path

import pulumi
import pulumi_azure_native as azure_native

from pulumi_aoai_finetuning import Deployment, FineTuningJob, TrainingFile

config = pulumi.Config()
location = config.get("location") or "eastus2"
base_model = config.get("baseModel") or "gpt-4o-mini-2024-07-18"
data = Path(__file__).resolve().parent.parent / "data"

existing = config.get_object("existingAccount")  # {"id": ..., "endpoint": ...}: use an account made elsewhere
if existing:
    account_id: pulumi.Input[str] = existing["id"]
    endpoint: pulumi.Input[str] = existing["endpoint"]
else:
    group = azure_native.resources.ResourceGroup("rg", location=location)
    account = azure_native.cognitiveservices.Account(
        "aoai",
        resource_group_name=group.name,
        location=location,
        kind="OpenAI",
        sku=azure_native.cognitiveservices.SkuArgs(name="S0"),
        properties=azure_native.cognitiveservices.AccountPropertiesArgs(public_network_access="Enabled"),
    )
    account_id = account.id
    endpoint = account.properties.apply(lambda p: p.endpoint)

training = TrainingFile("training", endpoint=endpoint, path=str(data / "training.jsonl"))
validation = TrainingFile("validation", endpoint=endpoint, path=str(data / "validation.jsonl"))

job = FineTuningJob(
    "support-assistant",
    endpoint=endpoint,
    model=base_model,
    training_file=training.file_id,
    validation_file=validation.file_id,
    suffix="quickstart",
    hyperparameters={"n_epochs": 3},
    # Nothing downstream is deployed unless the trained model is good enough.
    quality_gate={"max_full_valid_loss": 1.0},
)

deployment = Deployment(
    "support-assistant",
    account_id=account_id,
    deployment_name="support-assistant",
    model=job.fine_tuned_model,
    sku_name="Standard",
    capacity=1,
)

pulumi.export("endpoint", endpoint)
pulumi.export("fine_tuned_model", job.fine_tuned_model)
pulumi.export("deployment_name", deployment.deployment_name)
pulumi.export("metrics", job.metrics)
