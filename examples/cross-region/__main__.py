"""Cross-region: train once, copy the fine-tuned model to two other regions' accounts, and deploy it in each.

The destination accounts are existing ones (config ``destinations``: a list of ``{"accountId", "endpoint"}``):
Azure copies a checkpoint only into an account that already has at least one fine-tuning job.
"""

from pathlib import Path

import pulumi
import pulumi_azure_native as azure_native

from pulumi_aoai_finetuning import CheckpointCopy, Deployment, FineTuningJob, TrainingFile

config = pulumi.Config()
location = config.get("location") or "eastus2"
destinations = config.require_object("destinations")
data = Path(__file__).resolve().parent.parent / "data"

group = azure_native.resources.ResourceGroup("rg", location=location)
account = azure_native.cognitiveservices.Account(
    "aoai-train",
    resource_group_name=group.name,
    location=location,
    kind="OpenAI",
    sku=azure_native.cognitiveservices.SkuArgs(name="S0"),
    properties=azure_native.cognitiveservices.AccountPropertiesArgs(public_network_access="Enabled"),
)
endpoint = account.properties.endpoint
training = TrainingFile("training", endpoint=endpoint, path=str(data / "training.jsonl"))
job = FineTuningJob("model", endpoint=endpoint, model="gpt-4o-mini-2024-07-18", training_file=training.file_id,
                    suffix="xregion")

models = {}
for index, destination in enumerate(destinations):
    copy = CheckpointCopy(
        f"copy-{index}",
        endpoint=endpoint,
        job_id=job.job_id,
        destination_account_id=destination["accountId"],
    )
    deployment = Deployment(
        f"serve-{index}",
        account_id=destination["accountId"],
        deployment_name="support-assistant",
        model=copy.model_name,
    )
    models[destination["accountId"]] = deployment.deployment_id

pulumi.export("fine_tuned_model", job.fine_tuned_model)
pulumi.export("deployments", models)
