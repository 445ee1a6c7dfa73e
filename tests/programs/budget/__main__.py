"""A dataset counted at preview, a job estimated and guarded by a budget, a deployment with its hourly cost."""

import pulumi
from pulumi_azure_native import cognitiveservices, resources

from pulumi_aoai_finetuning import Deployment, FineTuningJob, TrainingFile

config = pulumi.Config()
model = "gpt-4o-mini-2024-07-18"

group = resources.ResourceGroup("budget", location="eastus2")
account = cognitiveservices.Account(
    "budgetaoai",
    resource_group_name=group.name,
    location=group.location,
    kind="OpenAI",
    sku=cognitiveservices.SkuArgs(name="S0"),
    properties=cognitiveservices.AccountPropertiesArgs(public_network_access="Enabled"),
)
endpoint = account.properties.endpoint

# Counted with the model's tokenizer at preview; an example above its per-example limit is refused there.
training = TrainingFile("train", endpoint=endpoint, path="train.jsonl", model=model)
job = FineTuningJob(
    "job",
    endpoint=endpoint,
    model=model,
    training_file=training.file_id,
    training_token_count=training.token_count,
    suffix="budget",
    hyperparameters={"n_epochs": config.get_int("epochs") or 2},
    max_trained_tokens=config.get_int("maxTrainedTokens"),
    max_training_cost=config.get_float("maxTrainingCost"),
)
deployment = Deployment(
    "serve",
    account_id=account.id,
    deployment_name="budget",
    model=job.fine_tuned_model,
    sku_name="Standard",
)

pulumi.export("tokens", training.tokens)
pulumi.export("max_example_tokens", training.max_example_tokens)
pulumi.export("estimated_trained_tokens", job.estimated_trained_tokens)
pulumi.export("estimated_training_cost", job.estimated_training_cost)
pulumi.export("estimate", job.estimate)
pulumi.export("trained_tokens", job.trained_tokens)
pulumi.export("estimate_error", job.estimate_error)
pulumi.export("hourly_cost", deployment.hourly_cost)
