"""Quickstart: a resource group and an Azure OpenAI account, two datasets, one fine-tuning job, one deployment.

The account is made as real Azure needs it for Microsoft Entra ID: a custom subdomain, keys disabled, and the
data-plane role for whoever runs ``pulumi up``. Set ``existingAccount`` (``{"id": ..., "endpoint": ...}``) to
use an account created elsewhere instead (with its key in ``azure-openai:apiKey``).
"""

from pathlib import Path

import pulumi
import pulumi_azure_native as azure_native
import pulumi_random as random

from pulumi_aoai_finetuning import Deployment, FineTuningJob, TrainingFile

config = pulumi.Config()
location = config.get("location") or "eastus2"
base_model = config.get("baseModel") or "gpt-4o-mini-2024-07-18"
data = Path(__file__).resolve().parent.parent / "data"
# Built-in role "Cognitive Services OpenAI Contributor": upload files, fine-tune, deploy (Azure built-in roles).
OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"

existing = config.get_object("existingAccount")  # {"id": ..., "endpoint": ...}: use an account made elsewhere
access: list[pulumi.Resource] = []
if existing:
    account_id: pulumi.Input[str] = existing["id"]
    endpoint: pulumi.Input[str] = existing["endpoint"]
else:
    # A deleted account stays soft-deleted for 48 hours and keeps its name and subdomain: a random suffix, kept
    # in the state, gives every incarnation of the stack (an up after a destroy) names that never collide.
    suffix = random.RandomString("suffix", length=8, special=False, upper=False)
    name = suffix.result.apply(lambda s: f"quickstart-{s}")
    group = azure_native.resources.ResourceGroup("rg", location=location)
    account = azure_native.cognitiveservices.Account(
        "aoai",
        account_name=name,
        resource_group_name=group.name,
        location=location,
        kind="OpenAI",
        sku=azure_native.cognitiveservices.SkuArgs(name="S0"),
        properties=azure_native.cognitiveservices.AccountPropertiesArgs(
            custom_sub_domain_name=name,  # Entra ID needs it: without one the endpoint is regional
            disable_local_auth=True,  # keys refused: Entra ID only
            public_network_access="Enabled",
        ),
    )
    deployer = azure_native.authorization.get_client_config_output()
    # Whoever runs `pulumi up` uploads and fine-tunes: the data-plane role on this account.
    access.append(
        azure_native.authorization.RoleAssignment(
            "deployer-openai-contributor",
            scope=account.id,
            principal_id=deployer.object_id,
            # "User" after `az login`; "ServicePrincipal" for a CI principal (Azure refuses a mismatch).
            principal_type=config.get("deployerPrincipalType") or "User",
            role_definition_id=deployer.subscription_id.apply(
                lambda sub: (
                    f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{OPENAI_CONTRIBUTOR}"
                )
            ),
        )
    )
    account_id = account.id
    endpoint = account.properties.apply(lambda p: p.endpoint)
after_access = pulumi.ResourceOptions(depends_on=access)

training = TrainingFile("training", endpoint=endpoint, path=str(data / "training.jsonl"), opts=after_access)
validation = TrainingFile("validation", endpoint=endpoint, path=str(data / "validation.jsonl"), opts=after_access)

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
    opts=after_access,
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
