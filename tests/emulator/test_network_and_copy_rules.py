"""``publicNetworkAccess: Disabled`` and the checkpoint-copy prerequisites, refused with Azure's status and code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2

from aoai_emulator import Emulator

from .support import ACCOUNT_API, ARM_HEADERS, chat_dataset, grant_copy, served_module_emulator

DATED = "2025-04-01-preview"
COPY_HEADER = {"aoai-copy-ft-checkpoints": "preview"}


emulator, http = served_module_emulator(seed=43)


def _data(http: httpx2.Client, account: dict[str, Any], method: str, path: str, **kwargs: Any) -> httpx2.Response:
    headers = {"api-key": account["keys"][0], **kwargs.pop("headers", {})}
    return http.request(method, f"/{account['name']}/openai{path}", headers=headers, **kwargs)


def _patch(http: httpx2.Client, account: dict[str, Any], body: dict[str, Any]) -> httpx2.Response:
    return http.patch(account["id"], params={"api-version": ACCOUNT_API}, headers=ARM_HEADERS, json=body)


def _succeeded_job(http: httpx2.Client, account: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Upload a dataset and train on it until the job succeeds (the immediate clock moves a phase per read)."""
    dataset = chat_dataset(tmp_path / f"{account['name']}.jsonl").read_bytes()
    uploaded = _data(
        http,
        account,
        "POST",
        "/files",
        params={"api-version": DATED},
        files={"file": ("d.jsonl", dataset)},
        data={"purpose": "fine-tune"},
    )
    file_id = uploaded.json()["id"]
    _data(http, account, "GET", f"/files/{file_id}", params={"api-version": DATED})
    made = _data(
        http,
        account,
        "POST",
        "/fine_tuning/jobs",
        params={"api-version": DATED},
        json={"model": "gpt-4o-mini-2024-07-18", "training_file": file_id},
    )
    job = made.json()
    for _ in range(5):
        job = _data(http, account, "GET", f"/fine_tuning/jobs/{job['id']}", params={"api-version": DATED}).json()
    assert job["status"] == "succeeded", job
    return dict(job)


def test_public_network_access_disabled_refuses_the_data_plane_with_azures_403(
    emulator: Emulator, http: httpx2.Client
) -> None:
    """Disabled: every data-plane call is 403 code "403" with Azure's message, keys and ARM unaffected."""
    account = emulator.seed_account("private-acct")
    assert _data(http, account, "GET", "/files", params={"api-version": DATED}).status_code == 200
    disabled = _patch(http, account, {"properties": {"publicNetworkAccess": "Disabled"}})
    assert disabled.status_code == 200
    refused = _data(http, account, "GET", "/v1/files")
    assert refused.status_code == 403
    assert refused.json() == {
        "error": {"code": "403", "message": "Public access is disabled. Please configure private endpoint."}
    }
    assert (
        http.post(account["id"] + "/listKeys", params={"api-version": ACCOUNT_API}, headers=ARM_HEADERS).status_code
        == 200
    )  # the control plane is not behind the account's network rules
    _patch(http, account, {"properties": {"publicNetworkAccess": "Enabled"}})
    assert _data(http, account, "GET", "/v1/files").status_code == 200


def test_checkpoint_copy_needs_the_documented_prerequisites(
    emulator: Emulator, http: httpx2.Client, tmp_path: Path
) -> None:
    """Refused without an identity, with the role elsewhere, to a destination closed to the public; then accepted."""
    source = emulator.seed_account("copy-src", "eastus2")
    dest = emulator.seed_account("copy-dst", "swedencentral")
    bystander = emulator.seed_account("copy-other", "westus")
    job = _succeeded_job(http, source, tmp_path)
    _succeeded_job(http, dest, tmp_path)  # Azure needs a fine-tuning job on the destination
    checkpoint = _data(http, source, "GET", f"/v1/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"][0]["id"]
    copy_path = f"/v1/fine_tuning/jobs/{job['id']}/checkpoints/{checkpoint}/copy"
    body = {"destinationResourceId": dest["id"], "region": "swedencentral"}

    def copy() -> httpx2.Response:
        return _data(http, source, "POST", copy_path, headers=COPY_HEADER, json=body)

    no_identity = copy()
    assert (no_identity.status_code, no_identity.json()["error"]["code"]) == (403, "PermissionDenied")
    assert "has no managed identity" in no_identity.json()["error"]["message"]

    grant_copy(http, source["id"], bystander["id"])  # an identity, but its role is on another account
    elsewhere = copy()
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (403, "PermissionDenied")
    assert "53ca6127-db72-4b80-b1b0-d745d6d5456d" in elsewhere.json()["error"]["message"]

    group_scope = dest["id"].split("/providers/")[0]
    grant_copy(http, source["id"], dest["id"], scope=group_scope)  # a parent scope of the destination counts
    _patch(http, dest, {"properties": {"publicNetworkAccess": "Disabled"}})
    closed = copy()
    assert closed.status_code == 400
    assert closed.json()["error"]["code"] == "invalidPayload"
    assert closed.json()["error"]["param"] == "destinationResourceId"

    _patch(http, dest, {"properties": {"publicNetworkAccess": "Enabled"}})
    accepted = copy()
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["copiedAccountDetails"][0]["status"] == "InProgress"


def test_a_user_assigned_identity_with_the_role_may_copy(
    emulator: Emulator, http: httpx2.Client, tmp_path: Path
) -> None:
    """The seed's own recipe: a user-assigned identity, Azure AI User on the destination, assigned to the source."""
    source = emulator.seed_account("uami-src", "eastus2")
    dest = emulator.seed_account("uami-dst", "westus")
    job = _succeeded_job(http, source, tmp_path)
    _succeeded_job(http, dest, tmp_path)
    group = source["id"].split("/providers/")[0]
    identity_id = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/copier"
    made = http.put(
        identity_id, params={"api-version": "2023-01-31"}, headers=ARM_HEADERS, json={"location": "eastus2"}
    )
    assert made.status_code in (200, 201), made.text
    principal = made.json()["properties"]["principalId"]
    sub = source["id"].split("/")[2]
    role = (
        f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/53ca6127-db72-4b80-b1b0-d745d6d5456d"
    )
    assigned = http.put(
        f"{dest['id']}/providers/Microsoft.Authorization/roleAssignments/0b7e6a52-5d4c-4ef5-9d1e-3c0f5d7e9a11",
        params={"api-version": "2022-04-01"},
        headers=ARM_HEADERS,
        json={"properties": {"roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal"}},
    )
    assert assigned.status_code == 201, assigned.text
    attached = _patch(http, source, {"identity": {"type": "UserAssigned", "userAssignedIdentities": {identity_id: {}}}})
    assert attached.status_code == 200, attached.text
    checkpoint = _data(http, source, "GET", f"/v1/fine_tuning/jobs/{job['id']}/checkpoints").json()["data"][0]["id"]
    accepted = _data(
        http,
        source,
        "POST",
        f"/v1/fine_tuning/jobs/{job['id']}/checkpoints/{checkpoint}/copy",
        headers=COPY_HEADER,
        json={"destinationResourceId": dest["id"], "region": "westus"},
    )
    assert accepted.status_code == 200, accepted.text
