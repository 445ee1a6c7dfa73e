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
        Account(
            location="eastus2",
            kind="OpenAI",
            sku=Sku(name="S0"),
            properties=AccountProperties(custom_sub_domain_name="mgmtacct"),
        ),
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


def _account(**props: object) -> Account:
    return Account(location="eastus2", kind="OpenAI", sku=Sku(name="S0"), properties=AccountProperties(**props))


def test_a_deleted_account_stays_soft_deleted_and_blocks_its_name_until_restored(
    mgmt: CognitiveServicesManagementClient,
) -> None:
    """Delete keeps the account soft-deleted; a plain re-create gets 409 FlagMustBeSetForRestore; restore brings its keys back."""
    mgmt.accounts.begin_create(GROUP, "softdel", _account()).result()
    keys_before = mgmt.accounts.list_keys(GROUP, "softdel")
    mgmt.accounts.begin_delete(GROUP, "softdel").result()
    with pytest.raises(ResourceNotFoundError):
        mgmt.accounts.get(GROUP, "softdel")

    gone = mgmt.deleted_accounts.get("eastus2", GROUP, "softdel")
    assert gone.id == (
        f"/subscriptions/{SUB}/providers/Microsoft.CognitiveServices/locations/eastus2"
        f"/resourceGroups/{GROUP}/deletedAccounts/softdel"
    )
    assert gone.properties.deletion_date
    assert gone.properties.scheduled_purge_date
    assert "softdel" in [a.name for a in mgmt.deleted_accounts.list()]

    with pytest.raises(HttpResponseError) as info:
        mgmt.accounts.begin_create(GROUP, "softdel", _account()).result()
    assert info.value.status_code == 409
    assert info.value.error is not None
    assert info.value.error.code == "FlagMustBeSetForRestore"
    assert "purge it first" in str(info.value.error.message)

    restored = mgmt.accounts.begin_create(GROUP, "softdel", _account(restore=True)).result()
    assert restored.properties.provisioning_state == "Succeeded"
    assert mgmt.accounts.list_keys(GROUP, "softdel").key1 == keys_before.key1
    assert "softdel" not in [a.name for a in mgmt.deleted_accounts.list()]


def test_a_purged_account_frees_its_name(mgmt: CognitiveServicesManagementClient) -> None:
    """DeletedAccounts_Purge removes the soft-deleted account for good; the name can then be created anew."""
    mgmt.accounts.begin_create(GROUP, "purged", _account()).result()
    keys_before = mgmt.accounts.list_keys(GROUP, "purged")
    mgmt.accounts.begin_delete(GROUP, "purged").result()
    mgmt.deleted_accounts.begin_purge("eastus2", GROUP, "purged").result()
    with pytest.raises(ResourceNotFoundError):
        mgmt.deleted_accounts.get("eastus2", GROUP, "purged")
    fresh = mgmt.accounts.begin_create(GROUP, "purged", _account()).result()
    assert fresh.properties.provisioning_state == "Succeeded"
    assert mgmt.accounts.list_keys(GROUP, "purged").key1 != keys_before.key1


def test_accounts_list_by_subscription_update_models_and_deployment_skus(
    mgmt: CognitiveServicesManagementClient, tls_server: RunningCli, ca: str
) -> None:
    """Accounts_List, Accounts_Update (PATCH), Accounts_ListModels and Deployments_ListSkus answer the SDK."""
    with httpx2.Client(base_url=tls_server.url, verify=ssl.create_default_context(cafile=ca)) as client:
        arm_group(client, "rg-mgmt-other")
    mgmt.accounts.begin_create(GROUP, "listed1", _account()).result()
    mgmt.accounts.begin_create("rg-mgmt-other", "listed2", _account()).result()
    names = {a.name for a in mgmt.accounts.list()}
    assert {"listed1", "listed2"} <= names

    updated = mgmt.accounts.begin_update(
        GROUP, "listed1", Account(tags={"team": "ml"}, properties=AccountProperties(disable_local_auth=True))
    ).result()
    assert updated.tags == {"team": "ml"}
    assert updated.properties.disable_local_auth is True
    key = mgmt.accounts.list_keys(GROUP, "listed1").key1
    refused = httpx2.get(
        f"{updated.properties.endpoint}openai/v1/files",
        headers={"api-key": key},
        verify=ssl.create_default_context(cafile=ca),
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "AuthenticationTypeDisabled"

    models = {m.name: m for m in mgmt.accounts.list_models(GROUP, "listed1")}
    assert models["gpt-4o-mini-2024-07-18"].capabilities["fineTune"] == "true"
    assert models["gpt-4o-mini-2024-07-18"].version == "2024-07-18"
    assert "fineTune" not in models["text-embedding-3-small"].capabilities

    base = "gpt-4o-mini-2024-07-18"
    mgmt.deployments.begin_create_or_update(GROUP, "listed1", "skus", _deployment(base)).result()
    skus = list(mgmt.deployments.list_skus(GROUP, "listed1", "skus"))
    assert {s.sku.name for s in skus} == {"Standard", "GlobalStandard"}
    assert all(s.resource_type == "Microsoft.CognitiveServices/accounts/deployments" for s in skus)


def test_a_system_assigned_identity_gets_principal_and_tenant_ids_that_persist(
    mgmt: CognitiveServicesManagementClient,
) -> None:
    """An account created with a system-assigned identity reports principalId and tenantId; an update keeps them."""
    from azure.mgmt.cognitiveservices.models import Identity

    created = mgmt.accounts.begin_create(
        GROUP,
        "withidentity",
        Account(
            location="eastus2",
            kind="OpenAI",
            sku=Sku(name="S0"),
            identity=Identity(type="SystemAssigned"),
            properties=AccountProperties(custom_sub_domain_name="withidentity"),
        ),
    ).result()
    assert created.identity is not None
    assert created.identity.type == "SystemAssigned"
    assert created.identity.principal_id
    assert created.identity.tenant_id
    again = mgmt.accounts.begin_update(GROUP, "withidentity", Account(tags={"x": "1"})).result()
    assert again.identity.principal_id == created.identity.principal_id
    none = mgmt.accounts.begin_update(GROUP, "withidentity", Account(identity=Identity(type="None"))).result()
    assert none.identity is None
