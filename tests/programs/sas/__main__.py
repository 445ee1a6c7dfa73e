"""A finished stack on a dataset imported from the URL in ``sas-import:contentUrl``: trained and deployed."""

import pulumi
from pulumi_azure_native import cognitiveservices, resources

from pulumi_aoai_finetuning import Deployment, FineTuningJob, TrainingFile

group = resources.ResourceGroup("sas", location="eastus2")
account = cognitiveservices.Account(
    "sasaoai",
    resource_group_name=group.name,
    location=group.location,
    kind="OpenAI",
    sku=cognitiveservices.SkuArgs(name="S0"),
    properties=cognitiveservices.AccountPropertiesArgs(public_network_access="Enabled"),
)
# A plain config value, as a user may give it: the provider keeps it secret all the same.
url = pulumi.Config().require("contentUrl")
training = TrainingFile("imported", endpoint=account.properties.endpoint, content_url=url, filename="train.jsonl")

job = FineTuningJob(
    "job",
    endpoint=account.properties.endpoint,
    model="gpt-4o-mini-2024-07-18",
    training_file=training.file_id,
    suffix="sas",
    hyperparameters={"n_epochs": 1},
)
deployment = Deployment("served", account_id=account.id, deployment_name="served", model=job.fine_tuned_model)

pulumi.export("training_file_id", training.file_id)
pulumi.export("job_id", job.job_id)
pulumi.export("fine_tuned_model", job.fine_tuned_model)
pulumi.export("sha256", training.sha256)
