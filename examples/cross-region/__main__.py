"""Cross-region: train once, copy the fine-tuned model to two other regions' accounts, and deploy it in each.

The destination accounts are existing ones (config ``destinations``: a list of ``{"accountId", "endpoint"}``):
Azure copies a checkpoint only into an account that already has at least one fine-tuning job. Azure copies on
behalf of the source account's managed identity, which needs *Azure AI User* on each destination ("Configure
permissions" in the fine-tuning how-to): this stack creates a user-assigned identity, gives it to the source
account, assigns it that role on every destination, and orders each copy after its assignment.
"""

from pathlib import Path

import pulumi
import pulumi_azure_native as azure_native
import pulumi_random as random

from pulumi_aoai_finetuning import CheckpointCopy, Deployment, FineTuningJob, TrainingFile

config = pulumi.Config()
location = config.get("location") or "eastus2"
destinations = config.require_object("destinations")
data = Path(__file__).resolve().parent.parent / "data"
# Azure built-in roles: "Cognitive Services OpenAI Contributor" (upload, fine-tune) and "Azure AI User".
OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"
AZURE_AI_USER = "53ca6127-db72-4b80-b1b0-d745d6d5456d"
deployer = azure_native.authorization.get_client_config_output()


def role(role_id: str) -> pulumi.Output[str]:
    """A built-in role definition's id in the deployer's subscription."""
    return pulumi.Output.format(
        "/subscriptions/{0}/providers/Microsoft.Authorization/roleDefinitions/{1}", deployer.subscription_id, role_id
    )


# Soft delete keeps a deleted account's name for 48 hours: a random suffix kept in the state never collides.
suffix = random.RandomString("suffix", length=8, special=False, upper=False)
name = suffix.result.apply(lambda s: f"xregion-{s}")
group = azure_native.resources.ResourceGroup("rg", location=location)
# The identity Azure copies with: the source account carries it, each destination grants it Azure AI User.
copier = azure_native.managedidentity.UserAssignedIdentity("copier", resource_group_name=group.name, location=location)
account = azure_native.cognitiveservices.Account(
    "aoai-train",
    account_name=name,
    resource_group_name=group.name,
    location=location,
    kind="OpenAI",
    sku=azure_native.cognitiveservices.SkuArgs(name="S0"),
    identity=azure_native.cognitiveservices.IdentityArgs(type="UserAssigned", user_assigned_identities=[copier.id]),
    properties=azure_native.cognitiveservices.AccountPropertiesArgs(
        custom_sub_domain_name=name,  # Entra ID needs it: without one the endpoint is regional
        disable_local_auth=True,  # keys refused: Entra ID only
        public_network_access="Enabled",
    ),
)
# Whoever runs `pulumi up` uploads, fine-tunes and asks for the copies: the data-plane role on the source.
access = azure_native.authorization.RoleAssignment(
    "deployer-openai-contributor",
    scope=account.id,
    principal_id=deployer.object_id,
    # "User" after `az login`; "ServicePrincipal" for a CI principal (Azure refuses a mismatch).
    principal_type=config.get("deployerPrincipalType") or "User",
    role_definition_id=role(OPENAI_CONTRIBUTOR),
)
after_access = pulumi.ResourceOptions(depends_on=[access])
endpoint = account.properties.endpoint
training = TrainingFile("training", endpoint=endpoint, path=str(data / "training.jsonl"), opts=after_access)
job = FineTuningJob(
    "model",
    endpoint=endpoint,
    model="gpt-4o-mini-2024-07-18",
    training_file=training.file_id,
    suffix="xregion",
    opts=after_access,
)

models = {}
for index, destination in enumerate(destinations):
    may_copy = azure_native.authorization.RoleAssignment(
        f"copier-ai-user-{index}",
        scope=destination["accountId"],
        principal_id=copier.principal_id,
        principal_type="ServicePrincipal",  # a managed identity is a service principal
        role_definition_id=role(AZURE_AI_USER),
    )
    copy = CheckpointCopy(
        f"copy-{index}",
        endpoint=endpoint,
        job_id=job.job_id,
        destination_account_id=destination["accountId"],
        opts=pulumi.ResourceOptions(depends_on=[may_copy]),  # Azure refuses the copy until the role is held
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
