"""A soft-deleted account is kept 48 hours of emulator time, then its name is free again (manual clock)."""

from __future__ import annotations

import httpx2

from aoai_emulator import create_emulator

from .support import ACCOUNT_API, ARM_HEADERS, SUB, account_path, arm_group

GROUP = "rg-retention"
ACCOUNT = {"location": "eastus2", "kind": "OpenAI", "sku": {"name": "S0"}, "properties": {}}


def _settled(client: httpx2.Client, method: str, path: str, **kwargs: object) -> httpx2.Response:
    return client.request(method, path, params={"api-version": ACCOUNT_API}, headers=ARM_HEADERS, **kwargs)  # type: ignore[arg-type]


def test_the_name_is_blocked_for_48_hours_after_a_delete_and_free_after() -> None:
    """Re-creating within 48 h answers 409 FlagMustBeSetForRestore; after 48 h the deleted account is gone."""
    with create_emulator(clock="manual", seed=7) as emu, httpx2.Client(base_url=emu.serve().url) as client:
        arm_group(client, GROUP)
        path = account_path(GROUP, "kept48h")
        assert _settled(client, "PUT", path, json=ACCOUNT).status_code == 201
        emu.advance(60)
        assert _settled(client, "DELETE", path).status_code == 202
        emu.advance(60)
        assert _settled(client, "GET", path).status_code == 404

        emu.advance(47 * 3600)
        blocked = _settled(client, "PUT", path, json=ACCOUNT)
        assert blocked.status_code == 409
        assert blocked.json()["error"]["code"] == "FlagMustBeSetForRestore"
        deleted = f"/subscriptions/{SUB}/providers/Microsoft.CognitiveServices/deletedAccounts"
        assert [a["name"] for a in _settled(client, "GET", deleted).json()["value"]] == ["kept48h"]

        emu.advance(3600)
        assert _settled(client, "GET", deleted).json()["value"] == []
        assert _settled(client, "PUT", path, json=ACCOUNT).status_code == 201


def test_deleting_a_resource_group_soft_deletes_its_accounts() -> None:
    """Accounts deleted with their resource group are soft-deleted too, and listed as such."""
    with create_emulator(clock="immediate", seed=8) as emu, httpx2.Client(base_url=emu.serve().url) as client:
        arm_group(client, GROUP)
        path = account_path(GROUP, "ingroup")
        assert _settled(client, "PUT", path, json=ACCOUNT).status_code == 201
        assert _settled(client, "GET", path).json()["properties"]["provisioningState"] == "Succeeded"
        group = client.delete(
            f"/subscriptions/{SUB}/resourcegroups/{GROUP}", params={"api-version": "2024-03-01"}, headers=ARM_HEADERS
        )
        assert group.status_code in (200, 202)
        deleted = f"/subscriptions/{SUB}/providers/Microsoft.CognitiveServices/deletedAccounts"
        assert [a["name"] for a in _settled(client, "GET", deleted).json()["value"]] == ["ingroup"]
