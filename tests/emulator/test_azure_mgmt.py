"""The official azure-mgmt-cognitiveservices client, with its ARM pollers, runs unchanged against the emulator over TLS."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import (
    Account,
    AccountProperties,
    Deployment,
    DeploymentModel,
    DeploymentProperties,
    Sku,
)

from .support import SUB, RunningCli, StaticTokenCredential, arm_group, chat_dataset, run_cli

GROUP = "rg-mgmt"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[RunningCli]:
    with run_cli("--port", "0", "--tls", "--seed", "5", lines=2) as running:
        assert running.url.startswith("https://127.0.0.1:")
        assert running.extra[0].startswith("tls certificate: ")
        yield running


@pytest.fixture(scope="module")
def ca(tls_server: RunningCli) -> str:
    return tls_server.extra[0].removeprefix("tls certificate: ")


@pytest.fixture(scope="module")
def mgmt(tls_server: RunningCli, ca: str) -> Iterator[CognitiveServicesManagementClient]:
    with httpx2.Client(base_url=tls_server.url, verify=ssl.create_default_context(cafile=ca)) as client:
        arm_group(client, GROUP)
    with CognitiveServicesManagementClient(
        StaticTokenCredential(),  # type: ignore[arg-type]
        SUB,
        base_url=tls_server.url,
        connection_verify=ca,
        polling_interval=0.01,
    ) as client:
        yield client


def _fine_tune(endpoint: str, key: str, ca: str, tmp_path: Path) -> str:
    http = httpx2.Client(verify=ssl.create_default_context(cafile=ca))
    with openai.AzureOpenAI(azure_endpoint=endpoint, api_key=key, api_version="2024-10-21", http_client=http) as client:
        return _train(client, tmp_path)


def _train(client: openai.AzureOpenAI, tmp_path: Path) -> str:
    with chat_dataset(tmp_path / "mgmt.jsonl").open("rb") as fh:
        file = client.files.create(file=fh, purpose="fine-tune")
    client.files.retrieve(file.id)
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=file.id)
    for _ in range(10):
        job = client.fine_tuning.jobs.retrieve(job.id)
        if job.status == "succeeded":
            assert job.fine_tuned_model
            return job.fine_tuned_model
    raise AssertionError(f"job ended {job.status}")


def _deployment(model: str, capacity: int = 1) -> Deployment:
    return Deployment(
        sku=Sku(name="Standard", capacity=capacity),
        properties=DeploymentProperties(model=DeploymentModel(format="OpenAI", name=model, version="1")),
    )


def test_mgmt_client_creates_account_deploys_a_fine_tuned_model_and_deletes_it(
    mgmt: CognitiveServicesManagementClient, ca: str, tls_server: RunningCli, tmp_path: Path
) -> None:
    """Account create, keys, fine-tuned deployment, get, list and delete complete through the SDK's own pollers."""
    account = mgmt.accounts.begin_create(
        GROUP,
        "mgmtacct",
        Account(location="eastus2", kind="OpenAI", sku=Sku(name="S0"), properties=AccountProperties()),
    ).result()
    assert account.properties.provisioning_state == "Succeeded"
    assert account.properties.endpoint == f"{tls_server.url}/mgmtacct/"
    keys = mgmt.accounts.list_keys(GROUP, "mgmtacct")
    assert keys.key1
    assert keys.key2
    assert keys.key1 != keys.key2

    model = _fine_tune(account.properties.endpoint, keys.key1, ca, tmp_path)
    created = mgmt.deployments.begin_create_or_update(GROUP, "mgmtacct", "ft", _deployment(model)).result()
    assert created.properties.provisioning_state == "Succeeded"
    assert created.properties.model.name == model

    fetched = mgmt.deployments.get(GROUP, "mgmtacct", "ft")
    assert fetched.id.endswith("/accounts/mgmtacct/deployments/ft")
    assert fetched.sku.capacity == 1
    assert [d.name for d in mgmt.deployments.list(GROUP, "mgmtacct")] == ["ft"]

    mgmt.deployments.begin_delete(GROUP, "mgmtacct", "ft").result()
    with pytest.raises(ResourceNotFoundError):
        mgmt.deployments.get(GROUP, "mgmtacct", "ft")
    mgmt.accounts.begin_delete(GROUP, "mgmtacct").result()
    with pytest.raises(ResourceNotFoundError):
        mgmt.accounts.get(GROUP, "mgmtacct")


def test_second_deployment_write_during_a_running_one_gets_409_request_conflict(
    mgmt: CognitiveServicesManagementClient,
) -> None:
    """While one deployment write is in progress on an account, another write answers 409 RequestConflict."""
    mgmt.accounts.begin_create(
        GROUP,
        "conflicts",
        Account(location="eastus2", kind="OpenAI", sku=Sku(name="S0"), properties=AccountProperties()),
    ).result()
    base = "gpt-4o-mini-2024-07-18"
    first = mgmt.deployments.begin_create_or_update(GROUP, "conflicts", "one", _deployment(base), polling=False)
    assert first.status() == "succeeded"  # no polling: only the initial PUT was sent
    with pytest.raises(HttpResponseError) as info:
        mgmt.deployments.begin_create_or_update(GROUP, "conflicts", "two", _deployment(base), polling=False)
    assert info.value.status_code == 409
    assert info.value.error is not None
    assert info.value.error.code == "RequestConflict"
    assert mgmt.deployments.get(GROUP, "conflicts", "one").properties.provisioning_state == "Succeeded"
    second = mgmt.deployments.begin_create_or_update(GROUP, "conflicts", "two", _deployment(base)).result()
    assert second.properties.provisioning_state == "Succeeded"


def test_deploying_a_model_the_account_does_not_hold_is_refused(mgmt: CognitiveServicesManagementClient) -> None:
    """An unknown model is DeploymentModelNotSupported, before any operation starts."""
    mgmt.accounts.begin_create(
        GROUP, "nomodel", Account(location="eastus2", kind="OpenAI", sku=Sku(name="S0"), properties=AccountProperties())
    ).result()
    with pytest.raises(HttpResponseError) as info:
        mgmt.deployments.begin_create_or_update(
            GROUP, "nomodel", "x", _deployment("gpt-4o-mini-2024-07-18.ft-00000000000000000000000000000000")
        ).result()
    assert info.value.status_code == 400
    assert info.value.error is not None
    assert info.value.error.code == "DeploymentModelNotSupported"
