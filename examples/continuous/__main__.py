"""Continuous fine-tuning: round 2 trains on top of round 1's model with new data, and round 2 is deployed."""

from pathlib import Path

import pulumi
import pulumi_azure_native as azure_native
import pulumi_random as random

from pulumi_aoai_finetuning import Deployment, FineTuningJob, TrainingFile

config = pulumi.Config()
location = config.get("location") or "eastus2"
data = Path(__file__).resolve().parent.parent / "data"

# Soft delete keeps a deleted account's name for 48 hours: a random suffix kept in the state never collides.
suffix = random.RandomString("suffix", length=8, special=False, upper=False)
name = suffix.result.apply(lambda s: f"continuous-{s}")
group = azure_native.resources.ResourceGroup("rg", location=location)
account = azure_native.cognitiveservices.Account(
    "aoai",
    account_name=name,
    resource_group_name=group.name,
    location=location,
    kind="OpenAI",
    sku=azure_native.cognitiveservices.SkuArgs(name="S0"),
    properties=azure_native.cognitiveservices.AccountPropertiesArgs(
        custom_sub_domain_name=name,  # a custom subdomain, as Entra ID needs (this stack still uses keys)
        public_network_access="Enabled",
    ),
)
endpoint = account.properties.endpoint

round1_data = TrainingFile("round1-data", endpoint=endpoint, path=str(data / "training.jsonl"))
round1 = FineTuningJob(
    "round1", endpoint=endpoint, model="gpt-4o-mini-2024-07-18", training_file=round1_data.file_id, suffix="round1"
)

round2_data = TrainingFile("round2-data", endpoint=endpoint, path=str(data / "validation.jsonl"))
round2 = FineTuningJob(
    "round2", endpoint=endpoint, model=round1.fine_tuned_model, training_file=round2_data.file_id, suffix="round2"
)

deployment = Deployment(
    "latest", account_id=account.id, deployment_name="support-assistant", model=round2.fine_tuned_model
)

pulumi.export("round1_model", round1.fine_tuned_model)
pulumi.export("round2_model", round2.fine_tuned_model)
pulumi.export("deployment_name", deployment.deployment_name)
