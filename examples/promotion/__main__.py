"""Promotion: the ``dev`` stack trains, gates and evaluates; the ``prod`` stack deploys dev's model without retraining.

dev exports its model only once an ``Evaluation`` of its ``candidate`` deployment against the base model met its
gate: an evaluation that misses fails dev's update, so the export prod reads is never the new model.

``prod`` reads the model and the account that holds it from the ``dev`` stack (a StackReference named by the
``devStack`` config), or from the ``sourceModel`` and ``sourceAccountId`` config when given: a promotion
pipeline can pin exactly what it promotes.
"""

from pathlib import Path

import pulumi
import pulumi_azure_native as azure_native
import pulumi_random as random

from pulumi_aoai_finetuning import Deployment, Evaluation, FineTuningJob, TrainingFile

config = pulumi.Config()
stage = config.require("stage")
location = config.get("location") or "eastus2"
data = Path(__file__).resolve().parent.parent / "data"
BASE_MODEL = "gpt-4o-mini-2024-07-18"
# Built-in role "Cognitive Services OpenAI Contributor": upload files, fine-tune, deploy (Azure built-in roles).
OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"

# Soft delete keeps a deleted account's name for 48 hours: a random suffix kept in the state never collides.
suffix = random.RandomString(f"suffix-{stage}", length=8, special=False, upper=False)
name = suffix.result.apply(lambda s: f"promo-{stage}-{s}")
group = azure_native.resources.ResourceGroup(f"rg-{stage}", location=location)
account = azure_native.cognitiveservices.Account(
    f"aoai-{stage}",
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
# Whoever runs `pulumi up` uploads and fine-tunes (dev) and deploys (both): the data-plane role on the account.
access = azure_native.authorization.RoleAssignment(
    f"deployer-openai-contributor-{stage}",
    scope=account.id,
    principal_id=deployer.object_id,
    # "User" after `az login`; "ServicePrincipal" for a CI principal (Azure refuses a mismatch).
    principal_type=config.get("deployerPrincipalType") or "User",
    role_definition_id=deployer.subscription_id.apply(
        lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{OPENAI_CONTRIBUTOR}"
    ),
)
after_access = pulumi.ResourceOptions(depends_on=[access])

if stage == "dev":
    endpoint = account.properties.endpoint
    training = TrainingFile("training", endpoint=endpoint, path=str(data / "training.jsonl"), opts=after_access)
    validation = TrainingFile("validation", endpoint=endpoint, path=str(data / "validation.jsonl"), opts=after_access)
    job = FineTuningJob(
        "candidate",
        endpoint=endpoint,
        model="gpt-4o-mini-2024-07-18",
        training_file=training.file_id,
        validation_file=validation.file_id,
        suffix="promotion",
        quality_gate={
            "max_full_valid_loss": config.get_float("maxValidLoss") or 1.0,
            "min_full_valid_mean_token_accuracy": config.get_float("minValidAccuracy") or 0.5,
        },
        opts=after_access,
    )
    candidate = Deployment("candidate", account_id=account.id, deployment_name="candidate", model=job.fine_tuned_model)
    # The candidate answers the test set's questions beside the base model, in one eval; a missed gate stops here.
    evaluation = Evaluation(
        "candidate-vs-base",
        endpoint=endpoint,
        path=str(Path(__file__).resolve().parent / "evaluation.jsonl"),
        model=candidate.deployment_name,
        baseline_model=BASE_MODEL,
        input_messages=[
            {"role": "system", "content": "You are Quill, the support assistant for Quillnote."},
            {"role": "user", "content": "{{item.question}}"},
        ],
        testing_criteria=[
            {
                "type": "string_check",
                "name": "exact",
                "input": "{{sample.output_text}}",
                "reference": "{{item.answer}}",
                "operation": "eq",
            },
            {
                "type": "text_similarity",
                "name": "close",
                "input": "{{sample.output_text}}",
                "reference": "{{item.answer}}",
                "evaluation_metric": "fuzzy_match",
                "pass_threshold": 0.8,
            },
        ],
        gate={
            "min_pass_rate": config.get_float("minPassRate") or 0.8,
            "min_improvement_over_baseline": config.get_float("minImprovement") or 0.5,
        },
    )
    # Exported through the evaluation: prod never reads a model whose evaluation missed its gate.
    pulumi.export("fine_tuned_model", pulumi.Output.all(job.fine_tuned_model, evaluation.eval_id).apply(lambda v: v[0]))
    pulumi.export(
        "evaluation", {"pass_rate": evaluation.pass_rate, "baseline_pass_rate": evaluation.baseline_pass_rate}
    )
    pulumi.export("source_account_id", account.id)
    pulumi.export("metrics", job.metrics)
else:
    pinned_model = config.get("sourceModel")
    pinned_account_id = config.get("sourceAccountId")
    model: pulumi.Input[str]
    source_account_id: pulumi.Input[str]
    if pinned_model and pinned_account_id:
        model, source_account_id = pinned_model, pinned_account_id
    else:
        dev = pulumi.StackReference(config.require("devStack"))
        model = dev.require_output("fine_tuned_model")
        source_account_id = dev.require_output("source_account_id")
    deployment = Deployment(
        "production",
        account_id=account.id,
        deployment_name="support-assistant",
        model=model,
        source_account_id=source_account_id,
        sku_name=config.get("skuName") or "GlobalStandard",
        capacity=config.get_int("capacity") or 2,
    )
    pulumi.export("deployed_model", deployment.model)
    pulumi.export("deployment_id", deployment.deployment_id)
