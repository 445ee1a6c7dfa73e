"""A program with the mistakes a type checker must catch before ``pulumi up`` (see ``test_typing.py``)."""

from __future__ import annotations

from pulumi_aoai_finetuning import Deployment, DeploymentArgs, FineTuningJob

ENDPOINT = "https://example.openai.azure.com/"
ACCOUNT = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a"

job = FineTuningJob("job", endpoint=ENDPOINT, modle="gpt-4o-mini-2024-07-18", training_file="file-1")  # MISSPELLED
deployment = Deployment("deployment", account_id=ACCOUNT, deployment_name="d", model="m", capacity="2")  # STRING
args = DeploymentArgs(account_id=ACCOUNT, deployment_name="d", model="m", capacity="2")  # ARGS-STRING
gated = FineTuningJob(  # GATE-KEY
    "gated",
    endpoint=ENDPOINT,
    model="gpt-4o-mini-2024-07-18",
    training_file="file-1",
    quality_gate={"max_trian_loss": 1.0},
)
