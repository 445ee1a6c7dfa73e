"""Custom subdomain as Azure has it: regional endpoint without one, Entra ID tokens refused there, names global, set once.

Every refusal is checked for Azure's status and code; the endpoint each account gets is the one ARM reports, and
the official and the provider's clients reach the account through it, whichever shape it has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
from openai import AzureOpenAI

from aoai_emulator import Emulator
from pulumi_aoai_finetuning.client.auth import ApiKeyAuth
from pulumi_aoai_finetuning.client.dataplane import DataPlaneClient

from .support import ACCOUNT_API, ARM_HEADERS, account_path, chat_dataset, served_module_emulator

GROUP = "rg-subdomain"
DATED = "2025-04-01-preview"


emulator, http = served_module_emulator(seed=41, group=GROUP)


def _arm(http: httpx2.Client, method: str, name: str, body: dict[str, Any] | None = None) -> httpx2.Response:
    return http.request(
        method, account_path(GROUP, name), params={"api-version": ACCOUNT_API}, headers=ARM_HEADERS, json=body
    )


def _create(http: httpx2.Client, name: str, location: str = "eastus2", **props: Any) -> httpx2.Response:
    body = {"location": location, "kind": "OpenAI", "sku": {"name": "S0"}, "properties": props}
    made = _arm(http, "PUT", name, body)
    if made.status_code != 201:
        return made
    return _arm(http, "GET", name)  # the immediate clock has finished provisioning by the first read


def _keys(http: httpx2.Client, name: str) -> tuple[str, str]:
    listed = http.post(
        account_path(GROUP, name) + "/listKeys", params={"api-version": ACCOUNT_API}, headers=ARM_HEADERS
    ).json()
    return listed["key1"], listed["key2"]


def _token(http: httpx2.Client) -> str:
    """A real Microsoft Entra ID token from the emulator's token endpoint, for the data-plane audience."""
    who = http.post("/_emulator/principals", json={"name": "subdomain-tester"}).json()
    answer = http.post(
        f"/{who['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": who["client_id"],
            "client_secret": who["client_secret"],
            "scope": "https://cognitiveservices.azure.com/.default",
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_an_account_without_a_subdomain_gets_the_regional_endpoint_that_keys_reach(
    http: httpx2.Client, tmp_path: Path
) -> None:
    """No customSubDomainName: ARM reports the region's shared endpoint; each key reaches its own account there."""
    one = _create(http, "regional-one").json()
    two = _create(http, "regional-two").json()
    base = str(http.base_url).rstrip("/")
    assert one["properties"]["endpoint"] == two["properties"]["endpoint"] == f"{base}/_regional/eastus2/"
    assert "customSubDomainName" not in one["properties"]
    endpoint = one["properties"]["endpoint"]

    data = chat_dataset(tmp_path / "a.jsonl").read_bytes()
    with AzureOpenAI(azure_endpoint=endpoint, api_key=_keys(http, "regional-one")[0], api_version=DATED) as official:
        uploaded = official.files.create(file=("a.jsonl", data), purpose="fine-tune")
        assert uploaded.id in [f.id for f in official.files.list()]
    with httpx2.Client(timeout=30) as pool:
        ours = DataPlaneClient(endpoint, ApiKeyAuth(_keys(http, "regional-two")[1]), client=pool)
        assert ours.list_files() == []  # the other account's key: the other account's (no) files
    # There is no host named after the account: only a custom subdomain makes one.
    by_name = http.get("/regional-one/openai/files", params={"api-version": DATED}, headers=_key(http, "regional-one"))
    assert (by_name.status_code, by_name.json()["error"]["code"]) == (404, "404")


def _key(http: httpx2.Client, name: str) -> dict[str, str]:
    return {"api-key": _keys(http, name)[0]}


def test_an_entra_token_on_the_regional_endpoint_is_refused_as_azure_refuses_it(http: httpx2.Client) -> None:
    """A token names no account: 400 BadRequest, Azure's message; a wrong key there is the gateway's 401."""
    endpoint = _create(http, "regional-token").json()["properties"]["endpoint"]
    path = endpoint.removeprefix(str(http.base_url).rstrip("/")) + "openai/files"
    refused = http.get(path, params={"api-version": DATED}, headers={"Authorization": f"Bearer {_token(http)}"})
    assert refused.status_code == 400
    assert refused.json() == {
        "error": {
            "code": "BadRequest",
            "message": "Please provide a custom subdomain for token authentication, otherwise API key is required.",
        }
    }
    wrong_key = http.get(path, params={"api-version": DATED}, headers={"api-key": "0" * 32})
    assert (wrong_key.status_code, wrong_key.json()["error"]["code"]) == (401, "401")


def test_a_custom_subdomain_is_the_endpoint_and_takes_entra_tokens(http: httpx2.Client) -> None:
    """A custom subdomain gives /<subdomain>/ (not the account name), and a token reaches the account there."""
    account = _create(http, "named-acct", customSubDomainName="named-sub").json()
    base = str(http.base_url).rstrip("/")
    assert account["properties"]["endpoint"] == f"{base}/named-sub/"
    assert account["properties"]["customSubDomainName"] == "named-sub"
    # No role is assigned to the token's principal: the account is reached, and answers with the role check.
    by_token = http.get(
        "/named-sub/openai/files", params={"api-version": DATED}, headers={"Authorization": f"Bearer {_token(http)}"}
    )
    assert (by_token.status_code, by_token.json()["error"]["code"]) == (401, "PermissionDenied")
    by_key = http.get("/named-sub/openai/files", params={"api-version": DATED}, headers=_key(http, "named-acct"))
    assert by_key.status_code == 200
    assert http.get("/named-acct/openai/files", params={"api-version": DATED}).status_code == 404


def test_a_subdomain_is_globally_unique_even_while_soft_deleted(http: httpx2.Client) -> None:
    """409 CustomDomainInUse for a subdomain held by another account, live or soft-deleted; free after purge."""
    assert _create(http, "holder", customSubDomainName="shared-sub").status_code == 200
    taken = _create(http, "taker", customSubDomainName="shared-sub")
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "CustomDomainInUse"
    assert "The subdomain name 'shared-sub' is not available" in taken.json()["error"]["message"]

    assert _arm(http, "DELETE", "holder").status_code == 202
    assert _arm(http, "GET", "holder").status_code == 404  # deleted by the first read: now soft-deleted
    still = _create(http, "taker", customSubDomainName="shared-sub")
    assert (still.status_code, still.json()["error"]["code"]) == (409, "CustomDomainInUse")

    purge = http.delete(
        f"/subscriptions/{account_path(GROUP, 'holder').split('/')[2]}/providers/Microsoft.CognitiveServices"
        f"/locations/eastus2/resourceGroups/{GROUP}/deletedAccounts/holder",
        params={"api-version": ACCOUNT_API},
        headers=ARM_HEADERS,
    )
    assert purge.status_code in (200, 202, 204), purge.text
    assert _create(http, "taker", customSubDomainName="shared-sub").status_code == 200


def test_a_subdomain_is_set_once(http: httpx2.Client) -> None:
    """A regional account may take a subdomain later (its endpoint moves); a set subdomain cannot change."""
    assert _create(http, "later-sub").json()["properties"]["endpoint"].endswith("/_regional/eastus2/")
    set_now = _arm(http, "PATCH", "later-sub", {"properties": {"customSubDomainName": "later-sub"}})
    assert set_now.status_code == 200
    assert set_now.json()["properties"]["endpoint"].endswith("/later-sub/")
    changed = _arm(http, "PATCH", "later-sub", {"properties": {"customSubDomainName": "other-sub"}})
    assert changed.status_code == 400
    assert changed.json()["error"]["code"] == "CustomSubDomainNameCannotBeChanged"
    assert changed.json()["error"]["target"] == "properties.customSubDomainName"
    body = {"location": "eastus2", "kind": "OpenAI", "sku": {"name": "S0"}, "properties": {}}
    kept = _arm(http, "PUT", "later-sub", body)  # a PUT that leaves it out keeps it
    assert kept.json()["properties"]["customSubDomainName"] == "later-sub"
    bad = _create(http, "badsub", customSubDomainName="-no-")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "InvalidSubDomainName")


def test_a_restored_account_answers_at_its_subdomain_again(http: httpx2.Client) -> None:
    """Soft-deleted: its subdomain answers 404; restored (``restore: true``): the same endpoint and key work again."""
    endpoint = _create(http, "comeback", customSubDomainName="comeback-sub").json()["properties"]["endpoint"]
    key = _key(http, "comeback")
    assert _arm(http, "DELETE", "comeback").status_code == 202
    assert _arm(http, "GET", "comeback").status_code == 404
    gone = http.get("/comeback-sub/openai/files", params={"api-version": DATED}, headers=key)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "404")
    restored = _create(http, "comeback", restore=True)
    assert restored.status_code == 200, restored.text
    assert restored.json()["properties"]["endpoint"] == endpoint
    assert http.get("/comeback-sub/openai/files", params={"api-version": DATED}, headers=key).status_code == 200


def test_the_admin_api_seeds_a_regional_account_on_request(emulator: Emulator, http: httpx2.Client) -> None:
    """Seeded accounts take their name as subdomain; ``regional`` seeds one reachable by key at its region only."""
    base = str(http.base_url).rstrip("/")
    assert emulator.seed_account("seeded-named")["endpoint"] == f"{base}/seeded-named/"
    seeded = http.post("/_emulator/accounts", json={"name": "seeded-regional", "location": "westus", "regional": True})
    assert seeded.json()["endpoint"] == f"{base}/_regional/westus/"
    listed = http.get("/_regional/westus/openai/v1/files", headers={"api-key": seeded.json()["keys"][0]})
    assert listed.status_code == 200
