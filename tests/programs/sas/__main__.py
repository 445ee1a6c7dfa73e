"""A resource group, an Azure OpenAI account and a dataset imported from the URL in ``sas-import:contentUrl``."""

import pulumi
from pulumi_azure_native import cognitiveservices, resources

from pulumi_aoai_finetuning import TrainingFile

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

pulumi.export("training_file_id", training.file_id)
pulumi.export("sha256", training.sha256)
