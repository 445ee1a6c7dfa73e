"""A resource group, an Azure OpenAI account, a training file and a fine-tuning job on it."""

import pulumi
from pulumi_azure_native import cognitiveservices, resources

from pulumi_aoai_finetuning import FineTuningJob, TrainingFile

group = resources.ResourceGroup("tiny", location="eastus2")
account = cognitiveservices.Account(
    "tinyaoai",
    resource_group_name=group.name,
    location=group.location,
    kind="OpenAI",
    sku=cognitiveservices.SkuArgs(name="S0"),
    properties=cognitiveservices.AccountPropertiesArgs(public_network_access="Enabled"),
)
endpoint = account.properties.endpoint

# The path is relative to this project directory, where the CLI (and the harness) runs providers.
training = TrainingFile("train", endpoint=endpoint, path="train.jsonl")
job = FineTuningJob(
    "job",
    endpoint=endpoint,
    model="gpt-4o-mini-2024-07-18",
    training_file=training.file_id,
    suffix="tiny",
    hyperparameters={"n_epochs": 1},
)

pulumi.export("endpoint", endpoint)
pulumi.export("account_name", account.name)
pulumi.export("training_file_id", training.file_id)
pulumi.export("fine_tuned_model", job.fine_tuned_model)
