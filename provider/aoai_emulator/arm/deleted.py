"""Soft delete of accounts: a deleted account is kept 48 hours, blocks its name, and can be restored or purged.

Azure keeps a deleted Cognitive Services account soft-deleted for 48 hours; creating an account of the same name
in the same resource group then fails with 409 ``FlagMustBeSetForRestore`` unless the PUT sets
``properties.restore: true`` or the deleted account is purged first (``DeletedAccounts_Purge``). The message is
Azure's own, as users meet it (Azure/azure-cli#18146, pulumi-azure-native#2529).
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..http import Call, Reply
from ..service import Service
from ..state import Obj
from . import operations

RETENTION_SECONDS = 48 * 3600
KIND = "Microsoft.CognitiveServices/locations/resourceGroups/deletedAccounts"


def _book(svc: Service) -> dict[str, Obj]:
    """Soft-deleted accounts by lower-cased name, dropping those whose retention has run out (derived on read)."""
    book = operations.deleted_book(svc)
    now = svc.now()
    for name in [n for n, a in book.items() if now >= a["_deleted_at"] + RETENTION_SECONDS]:
        del book[name]
    return book


def soft_deleted(svc: Service) -> dict[str, Obj]:
    """The accounts soft-deleted now (their retention not yet run out), by lower-cased name."""
    return _book(svc)


def soft_delete(svc: Service, account: Obj, at: float) -> None:
    """Keep a just-deleted account as soft-deleted (its deployments do not survive)."""
    account["_deleted_at"] = at
    account["deployments"] = {}
    _book(svc)[account["name"].lower()] = account


def _deleted_id(account: Obj) -> str:
    return (
        f"/subscriptions/{account['subscription']}/providers/Microsoft.CognitiveServices/locations/"
        f"{account['location']}/resourceGroups/{account['group']}/deletedAccounts/{account['name']}"
    )


def _account_id(sub: str, group: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{name}"


def take_for_create(svc: Service, sub: str, group: str, name: str, *, restore: bool) -> Obj | None:
    """What a PUT of a new account meets: the soft-deleted account to restore, None, or Azure's 409."""
    book = _book(svc)
    account = book.get(name.lower())
    if account is None:
        return None
    if account["subscription"] != sub or account["group"].lower() != group.lower():
        raise errors.arm_conflict(
            "CustomDomainInUse",
            f"The subdomain name '{name}' is still held by a soft-deleted account in another resource group; "
            "purge it first.",
        )
    if not restore:
        raise errors.arm_conflict(
            "FlagMustBeSetForRestore",
            f"An existing resource with ID '{_account_id(sub, account['group'], account['name'])}' has been "
            "soft-deleted. To restore the resource, you must specify 'restore' to be 'true' in the property. If you "
            "don't want to restore existing resource, please purge it first.",
        )
    del book[name.lower()]
    account.pop("_deleted_at", None)
    return account


def render(account: Obj) -> dict[str, Any]:
    """A soft-deleted account as ``DeletedAccounts_Get`` returns it."""
    props = {k: v for k, v in account["properties"].items() if k not in ("provisioningState", "endpoint", "endpoints")}
    props.update(
        provisioningState="Succeeded",
        deletionDate=operations.iso(account["_deleted_at"]),
        scheduledPurgeDate=operations.iso(account["_deleted_at"] + RETENTION_SECONDS),
    )
    return {
        "id": _deleted_id(account),
        "name": account["name"],
        "type": KIND,
        "location": account["location"],
        "kind": account["kind"],
        "sku": account["sku"],
        "tags": account["tags"],
        "properties": props,
    }


def _find(svc: Service, p: dict[str, str]) -> Obj | None:
    account = _book(svc).get(p["account"].lower())
    if (
        account is None
        or account["subscription"] != p["sub"]
        or account["group"].lower() != p["group"].lower()
        or account["location"] != p["location"].replace(" ", "").lower()
    ):
        return None
    return account


def get(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET .../locations/{l}/resourceGroups/{g}/deletedAccounts/{a}`` (DeletedAccounts_Get)."""
    account = _find(svc, p)
    if account is None:
        raise errors.arm_not_found("Microsoft.CognitiveServices/deletedAccounts", p["account"], p["group"])
    return Reply(200, render(account))


def list_all(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET /subscriptions/{s}/providers/Microsoft.CognitiveServices/deletedAccounts`` (DeletedAccounts_List)."""
    found = [a for a in _book(svc).values() if a["subscription"] == p["sub"]]
    return Reply(200, {"value": [render(a) for a in found]})


def purge(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``DELETE .../deletedAccounts/{a}`` (DeletedAccounts_Purge): 200 once gone for good, 204 if nothing is there."""
    account = _find(svc, p)
    if account is None:
        return Reply(204)
    del _book(svc)[account["name"].lower()]
    return Reply(200)
