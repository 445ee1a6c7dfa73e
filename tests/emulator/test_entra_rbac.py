"""Entra ID for real: azure-identity's own credential gets signed tokens from the emulator, and RBAC is enforced.

The emulator (``--tls``) serves the OAuth2 client-credentials flow that ``ClientSecretCredential`` runs through
MSAL; the tokens it signs carry the principal's ``oid``, which ARM and the data plane check against role
assignments made through ``Microsoft.Authorization/roleAssignments`` with Azure's built-in role ids.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential, DefaultAzureCredential, get_bearer_token_provider
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import Account, AccountProperties, Identity, Sku, UserAssignedIdentity

from .support import SUB, RunningCli, account_path, chat_dataset, run_cli

GROUP = "rg-entra"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"
OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
DATA_SCOPE = "https://cognitiveservices.azure.com/.default"
ARM_SCOPE = "https://management.azure.com/.default"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[RunningCli, str]]:
    with run_cli("--port", "0", "--tls", "--seed", "23", lines=2) as running:
        yield running, running.extra[0].removeprefix("tls certificate: ")


def _principal(server: tuple[RunningCli, str], name: str, roles: list[dict[str, str]] | None = None) -> dict[str, str]:
    running, ca = server
    made = running.admin(
        "POST", "/principals", json={"name": name, "roles": roles or []}, verify=ssl.create_default_context(cafile=ca)
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def _credential(
    server: tuple[RunningCli, str], who: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ClientSecretCredential:
    running, ca = server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)  # MSAL talks to the token endpoint through requests
    return ClientSecretCredential(
        who["tenant_id"],
        who["client_id"],
        who["client_secret"],
        authority=running.url.removeprefix("https://"),
        disable_instance_discovery=True,
    )


def _mgmt(server: tuple[RunningCli, str], credential: ClientSecretCredential) -> CognitiveServicesManagementClient:
    running, ca = server
    return CognitiveServicesManagementClient(
        credential, SUB, base_url=running.url, connection_verify=ca, polling_interval=0.01
    )


def _arm(server: tuple[RunningCli, str], credential: ClientSecretCredential) -> httpx2.Client:
    running, ca = server
    token = credential.get_token(ARM_SCOPE).token
    return httpx2.Client(
        base_url=running.url,
        verify=ssl.create_default_context(cafile=ca),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _assign(arm: httpx2.Client, scope: str, role: str, principal: str) -> httpx2.Response:
    return arm.put(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
        params={"api-version": "2022-04-01"},
        json={
            "properties": {
                "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                "principalId": principal,
                "principalType": "ServicePrincipal",
            }
        },
    )


@pytest.fixture(scope="module")
def owner(server: tuple[RunningCli, str]) -> dict[str, str]:
    return _principal(server, "owner", [{"role": "Owner", "scope": f"/subscriptions/{SUB}"}])


@pytest.fixture(scope="module")
def account(server: tuple[RunningCli, str], owner: dict[str, str]) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        credential = _credential(server, owner, mp)
        with _arm(server, credential) as arm:
            made = arm.put(
                f"/subscriptions/{SUB}/resourcegroups/{GROUP}",
                params={"api-version": "2024-03-01"},
                json={"location": "eastus2"},
            )
            assert made.status_code in (200, 201), made.text
        with _mgmt(server, credential) as mgmt:
            created = mgmt.accounts.begin_create(
                GROUP,
                "entraacct",
                Account(
                    location="eastus2",
                    kind="OpenAI",
                    sku=Sku(name="S0"),
                    properties=AccountProperties(custom_sub_domain_name="entraacct", disable_local_auth=True),
                ),
            ).result()
    return {"endpoint": created.properties.endpoint, "id": created.id}


def test_a_principal_without_a_role_cannot_create_an_account(
    server: tuple[RunningCli, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ARM answers 403 AuthorizationFailed, naming the action and the scope, to a token whose principal has no role."""
    stranger = _principal(server, "stranger")
    with _mgmt(server, _credential(server, stranger, monkeypatch)) as mgmt, pytest.raises(HttpResponseError) as info:
        mgmt.accounts.begin_create(GROUP, "notallowed", Account(location="eastus2", kind="OpenAI", sku=Sku(name="S0")))
    assert info.value.status_code == 403
    assert info.value.error is not None
    assert info.value.error.code == "AuthorizationFailed"
    assert "Microsoft.CognitiveServices/accounts/write" in str(info.value.error.message)


def test_a_wrong_client_secret_is_refused_by_the_token_endpoint(
    server: tuple[RunningCli, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MSAL surfaces AADSTS7000215 for a bad secret; no token is issued."""
    who = {**_principal(server, "badsecret"), "client_secret": "not-the-secret"}
    with pytest.raises(ClientAuthenticationError) as info:
        _credential(server, who, monkeypatch).get_token(DATA_SCOPE)
    assert "AADSTS7000215" in str(info.value)


def test_data_plane_roles_decide_what_a_token_may_do(
    server: tuple[RunningCli, str],
    owner: dict[str, str],
    account: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """No data role: 401 PermissionDenied; OpenAI User: may read, not upload; OpenAI Contributor: may upload."""
    ca = server[1]
    trainer = _principal(server, "trainer")
    credential = _credential(server, trainer, monkeypatch)

    def client() -> openai.AzureOpenAI:
        return openai.AzureOpenAI(
            azure_endpoint=account["endpoint"],
            azure_ad_token=credential.get_token(DATA_SCOPE).token,
            api_version="2025-04-01-preview",
            max_retries=0,
            http_client=httpx2.Client(verify=ssl.create_default_context(cafile=ca)),
        )

    with client() as c, pytest.raises(openai.AuthenticationError) as info:
        c.files.list()
    assert info.value.code == "PermissionDenied"
    assert "Microsoft.CognitiveServices/accounts/OpenAI/files/read" in str(info.value)

    with _arm(server, _credential(server, owner, monkeypatch)) as arm:
        assert _assign(arm, account["id"], OPENAI_USER, trainer["object_id"]).status_code == 201
        with client() as c:
            assert list(c.files.list()) == []
        dataset = chat_dataset(tmp_path / "train.jsonl")
        with client() as c, pytest.raises(openai.AuthenticationError) as refused, dataset.open("rb") as fh:
            c.files.create(file=fh, purpose="fine-tune")
        assert "files/write" in str(refused.value)

        assert _assign(arm, account["id"], OPENAI_CONTRIBUTOR, trainer["object_id"]).status_code == 201
    with client() as c, dataset.open("rb") as fh:
        assert c.files.create(file=fh, purpose="fine-tune").id.startswith("file-")


def test_a_tampered_token_is_refused(
    server: tuple[RunningCli, str], owner: dict[str, str], account: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token whose payload was changed after signing does not verify: 401 on the data plane and on ARM."""
    running, ca = server
    token = _credential(server, owner, monkeypatch).get_token(DATA_SCOPE).token
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload[:-2]}AA.{signature}"
    answer = httpx2.get(
        f"{account['endpoint']}openai/v1/files",
        headers={"Authorization": f"Bearer {forged}"},
        verify=ssl.create_default_context(cafile=ca),
    )
    assert answer.status_code == 401
    arm = httpx2.get(
        f"{running.url}{account_path(GROUP, 'entraacct')}",
        params={"api-version": "2025-06-01"},
        headers={"Authorization": f"Bearer {forged}"},
        verify=ssl.create_default_context(cafile=ca),
    )
    assert arm.status_code == 401


def test_an_account_takes_a_user_assigned_identity_with_that_identitys_ids(
    server: tuple[RunningCli, str], owner: dict[str, str], account: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A userAssignedIdentities resource gets principal and client ids; an account using it reports the same ids."""
    credential = _credential(server, owner, monkeypatch)
    with _arm(server, credential) as arm:
        made = arm.put(
            f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/copier",
            params={"api-version": "2023-01-31"},
            json={"location": "eastus2"},
        )
        assert made.status_code == 201, made.text
    uai = made.json()
    with _mgmt(server, credential) as mgmt:
        updated = mgmt.accounts.begin_update(
            GROUP,
            "entraacct",
            Account(
                identity=Identity(type="UserAssigned", user_assigned_identities={uai["id"]: UserAssignedIdentity()})
            ),
        ).result()
        held = updated.identity.user_assigned_identities[uai["id"]]
        assert held.principal_id == uai["properties"]["principalId"]
        assert held.client_id == uai["properties"]["clientId"]
        with pytest.raises(HttpResponseError) as info:
            mgmt.accounts.begin_update(
                GROUP,
                "entraacct",
                Account(
                    identity=Identity(
                        type="UserAssigned", user_assigned_identities={uai["id"] + "-missing": UserAssignedIdentity()}
                    )
                ),
            ).result()
        assert info.value.status_code == 400


def test_default_azure_credential_from_the_environment_gets_tokens_over_tls(
    server: tuple[RunningCli, str], account: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DefaultAzureCredential, configured only by EnvironmentCredential's variables, signs data-plane and ARM calls.

    MSAL validates an authority it does not know at login.microsoftonline.com's instance discovery, which the
    emulator cannot answer for; ``disable_instance_discovery=True`` is the one change a program needs.
    """
    running, ca = server
    reader = _principal(
        server,
        "env-reader",
        [
            {"role": "Cognitive Services OpenAI User", "scope": account["id"]},
            {"role": "Reader", "scope": account["id"]},
        ],
    )
    for name, value in {
        "AZURE_AUTHORITY_HOST": running.url,
        "AZURE_TENANT_ID": reader["tenant_id"],
        "AZURE_CLIENT_ID": reader["client_id"],
        "AZURE_CLIENT_SECRET": reader["client_secret"],
        "REQUESTS_CA_BUNDLE": ca,  # MSAL's requests session
        "SSL_CERT_FILE": ca,  # openai's httpx client
    }.items():
        monkeypatch.setenv(name, value)
    credential = DefaultAzureCredential(disable_instance_discovery=True)
    token = credential.get_token(DATA_SCOPE)
    assert token.token.count(".") == 2
    with openai.AzureOpenAI(
        azure_endpoint=account["endpoint"],
        azure_ad_token_provider=get_bearer_token_provider(credential, DATA_SCOPE),
        api_version="2025-04-01-preview",
        max_retries=0,
    ) as client:
        assert isinstance(list(client.files.list()), list)
    with _mgmt(server, credential) as mgmt:  # type: ignore[arg-type]
        assert mgmt.accounts.get(GROUP, "entraacct").properties.custom_sub_domain_name == "entraacct"
