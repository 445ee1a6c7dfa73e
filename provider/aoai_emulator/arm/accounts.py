"""Resource groups and Cognitive Services accounts: PUT (long-running), GET, DELETE, list, listKeys, regenerateKey."""

from __future__ import annotations

import re
from typing import Any

from .. import endpoints, errors
from ..http import Call, Reply
from ..ids import new_api_key
from ..service import Service
from ..state import Obj
from . import deleted, operations
from .identity import apply_identity

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$")
# Request-only properties: what the service computes, and `restore`, which asks for a restore and is not kept.
_NOT_STORED = frozenset({"provisioningState", "restore", "deletionDate", "scheduledPurgeDate"})


def _stored(props: dict[str, Any]) -> dict[str, Any]:
    """The properties of a request the account keeps (a null subdomain leaves the one set, which is set once)."""
    return {k: v for k, v in props.items() if k not in _NOT_STORED and not (k == "customSubDomainName" and v is None)}


def group_key(sub: str, group: str) -> str:
    """The key of a resource group in the state."""
    return f"{sub}/{group}".lower()


def group_id(sub: str, group: str) -> str:
    """The ARM id of a resource group."""
    return f"/subscriptions/{sub}/resourceGroups/{group}"


def account_id(account: Obj) -> str:
    """The ARM id of an account."""
    return f"{group_id(account['subscription'], account['group'])}/providers/Microsoft.CognitiveServices/accounts/{account['name']}"


def new_account(
    svc: Service,
    *,
    name: str,
    sub: str,
    group: str,
    location: str,
    kind: str = "OpenAI",
    sku: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    identity: Any = None,
    state: str = "Succeeded",
) -> Obj:
    """Create the record of an account (ARM PUT and the admin seeding both come here)."""
    props = dict(properties or {})
    props["provisioningState"] = state
    props.setdefault("publicNetworkAccess", "Enabled")
    account: Obj = {
        "name": name,
        "subscription": sub,
        "group": group,
        "location": location.replace(" ", "").lower(),
        "kind": kind,
        "sku": sku or {"name": "S0"},
        "tags": tags or {},
        "properties": props,
        "created": svc.now(),
        "keys": [new_api_key(), new_api_key()],
        "files": {},
        "jobs": {},
        "deployments": {},
        "copied_models": {},
        "deleted_models": [],
    }
    if identity is not None:
        account["identity"] = apply_identity(svc, None, identity)
    svc.store.data["resource_groups"].setdefault(
        group_key(sub, group), {"subscription": sub, "name": group, "location": account["location"]}
    )
    svc.accounts[name.lower()] = account
    return account


def render(svc: Service, account: Obj) -> dict[str, Any]:
    """The account as ARM returns it; ``properties.endpoint`` is this emulator's data-plane URL for it."""
    endpoint = svc.endpoint(account)
    props = dict(account["properties"])
    props.update(
        endpoint=endpoint,
        endpoints={"OpenAI Language Model Instance API": endpoint, "OpenAI Dall-E API": endpoint},
        dateCreated=operations.iso(account["created"]),
        internalId=account["name"].lower(),
    )
    out: dict[str, Any] = {
        "id": account_id(account),
        "name": account["name"],
        "type": "Microsoft.CognitiveServices/accounts",
        "location": account["location"],
        "kind": account["kind"],
        "sku": account["sku"],
        "tags": account["tags"],
        "etag": f'"{account["created"]:.0f}"',
        "properties": props,
    }
    if account.get("identity"):
        out["identity"] = account["identity"]
    return out


def _find(svc: Service, sub: str, group: str, name: str) -> Obj:
    account = svc.accounts.get(name.lower())
    if account is None or account["subscription"] != sub or account["group"].lower() != group.lower():
        raise errors.arm_not_found("Microsoft.CognitiveServices/accounts", name, group)
    operations.settle_account(svc, name.lower(), None, ("account_create", "account_delete"))
    if name.lower() not in svc.accounts:
        raise errors.arm_not_found("Microsoft.CognitiveServices/accounts", name, group)
    return account


# --- resource groups --------------------------------------------------------------------------------


def put_group(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``PUT /subscriptions/{s}/resourcegroups/{g}``."""
    body = call.json()
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise errors.arm_bad_request("LocationRequired", "The location property is required for this definition.")
    key = group_key(p["sub"], p["group"])
    existed = key in svc.store.data["resource_groups"]
    svc.store.data["resource_groups"][key] = {
        "subscription": p["sub"],
        "name": p["group"],
        "location": location,
        "tags": body.get("tags") or {},
    }
    return Reply(200 if existed else 201, _group_body(svc.store.data["resource_groups"][key]))


def _group_body(group: Obj) -> dict[str, Any]:
    return {
        "id": group_id(group["subscription"], group["name"]),
        "name": group["name"],
        "type": "Microsoft.Resources/resourceGroups",
        "location": group["location"],
        "tags": group.get("tags") or {},
        "properties": {"provisioningState": "Succeeded"},
    }


def get_group(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET`` (or ``HEAD``) of a resource group."""
    group = svc.store.data["resource_groups"].get(group_key(p["sub"], p["group"]))
    if group is None:
        raise errors.arm_group_not_found(p["group"])
    return Reply(204 if call.method == "HEAD" else 200, None if call.method == "HEAD" else _group_body(group))


def delete_group(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``DELETE`` of a resource group and every account in it."""
    key = group_key(p["sub"], p["group"])
    if key not in svc.store.data["resource_groups"]:
        return Reply(204)
    for name, account in list(svc.accounts.items()):
        if group_key(account["subscription"], account["group"]) == key:
            # Accounts deleted with their group are soft-deleted like any other (Azure keeps them 48 hours).
            deleted.soft_delete(svc, svc.accounts.pop(name), svc.now())
    del svc.store.data["resource_groups"][key]
    return Reply(200)


# --- accounts -------------------------------------------------------------------------------------------


def put_account(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``PUT .../accounts/{a}``: create (201, long-running) or update (200)."""
    body = call.json()
    name = p["account"]
    if not NAME_RE.match(name):
        raise errors.arm_bad_request(
            "InvalidResourceName",
            f"The account name '{name}' is invalid: use 2 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    if group_key(p["sub"], p["group"]) not in svc.store.data["resource_groups"]:
        raise errors.arm_group_not_found(p["group"])
    for field in ("location", "kind"):
        if not isinstance(body.get(field), str) or not body[field]:
            raise errors.arm_bad_request("InvalidRequestContent", f"The '{field}' property is required.", field)
    sku = body.get("sku")
    if not isinstance(sku, dict) or not isinstance(sku.get("name"), str):
        raise errors.arm_bad_request("InvalidRequestContent", "The 'sku.name' property is required.", "sku")
    props = body.get("properties") or {}
    # Settle first: a delete whose time is up has made the account soft-deleted, and that decides what a PUT does.
    operations.settle_account(svc, name.lower())
    existing = svc.accounts.get(name.lower())
    if existing is None:
        restored = deleted.take_for_create(svc, p["sub"], p["group"], name, restore=props.get("restore") is True)
        if restored is not None:
            endpoints.claim(svc, name, props.get("customSubDomainName"), endpoints.subdomain(restored))
            return _restore(svc, call, restored, body)
    if existing is not None and (
        existing["subscription"] != p["sub"] or existing["group"].lower() != p["group"].lower()
    ):
        raise errors.arm_conflict(
            "CustomDomainInUse",
            f"The account name '{name}' is already used by an account in another resource group; the emulator keeps "
            "accounts by name, so names are unique across subscriptions. Pick another name.",
        )
    if existing is not None:
        if existing["properties"]["provisioningState"] != "Succeeded":
            raise errors.arm_conflict(
                "AccountProvisioningStateInvalid",
                f"Account {name} in state {existing['properties']['provisioningState']}; retry when it is Succeeded.",
            )
        if body["location"].replace(" ", "").lower() != existing["location"]:
            raise errors.arm_bad_request(
                "LocationCannotBeChanged", "The location of an existing account cannot be changed."
            )
        endpoints.claim(svc, name, props.get("customSubDomainName"), endpoints.subdomain(existing))
        existing["properties"].update(_stored(props))
        existing["sku"], existing["tags"], existing["kind"] = sku, body.get("tags") or {}, body["kind"]
        if "identity" in body:
            existing["identity"] = apply_identity(svc, existing.get("identity"), body["identity"])
        return Reply(200, render(svc, existing))
    endpoints.claim(svc, name, props.get("customSubDomainName"), None)
    account = new_account(
        svc,
        name=name,
        sub=p["sub"],
        group=p["group"],
        location=body["location"],
        kind=body["kind"],
        sku=sku,
        properties=_stored(props),
        tags=body.get("tags"),
        identity=body.get("identity"),
        state="Accepted",
    )
    op = operations.start(
        svc, kind="account_create", account=account, target=None, duration=svc.timings.account_provisioning
    )
    return Reply(201, render(svc, account), operations.async_headers(svc, op, call.query["api-version"]))


def get_account(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET .../accounts/{a}``."""
    return Reply(200, render(svc, _find(svc, p["sub"], p["group"], p["account"])))


def list_accounts(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET .../resourceGroups/{g}/providers/Microsoft.CognitiveServices/accounts``."""
    found = [
        a for a in svc.accounts.values() if a["subscription"] == p["sub"] and a["group"].lower() == p["group"].lower()
    ]
    return Reply(200, {"value": [render(svc, a) for a in found]})


def list_subscription_accounts(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET /subscriptions/{s}/providers/Microsoft.CognitiveServices/accounts`` (Accounts_List)."""
    found = [a for a in svc.accounts.values() if a["subscription"] == p["sub"]]
    return Reply(200, {"value": [render(svc, a) for a in found]})


def patch_account(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``PATCH .../accounts/{a}`` (Accounts_Update): merge sku, tags, identity and properties; 200 when done."""
    account = _find(svc, p["sub"], p["group"], p["account"])
    body = call.json()
    if account["properties"]["provisioningState"] != "Succeeded":
        raise errors.arm_conflict(
            "AccountProvisioningStateInvalid",
            f"Account {account['name']} in state {account['properties']['provisioningState']}; retry when it is Succeeded.",
        )
    if "location" in body and str(body["location"]).replace(" ", "").lower() != account["location"]:
        raise errors.arm_bad_request(
            "LocationCannotBeChanged", "The location of an existing account cannot be changed."
        )
    sku = body.get("sku")
    if sku is not None:
        if not isinstance(sku, dict) or not isinstance(sku.get("name"), str):
            raise errors.arm_bad_request("InvalidRequestContent", "'sku.name' must be a string.", "sku")
        account["sku"] = sku
    if isinstance(body.get("tags"), dict):
        account["tags"] = body["tags"]
    if "identity" in body:
        account["identity"] = apply_identity(svc, account.get("identity"), body["identity"])
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise errors.arm_bad_request("InvalidRequestContent", "'properties' must be an object.", "properties")
    endpoints.claim(svc, account["name"], props.get("customSubDomainName"), endpoints.subdomain(account))
    account["properties"].update(_stored(props))
    return Reply(200, render(svc, account))


def _restore(svc: Service, call: Call, account: Obj, body: dict[str, Any]) -> Reply:
    """Bring a soft-deleted account back (PUT with ``properties.restore: true``), keys, files and jobs included."""
    account["properties"]["provisioningState"] = "Accepted"
    account["properties"].update(_stored(body.get("properties") or {}))
    if "identity" in body:
        account["identity"] = apply_identity(svc, account.get("identity"), body["identity"])
    svc.accounts[account["name"].lower()] = account
    op = operations.start(
        svc, kind="account_create", account=account, target=None, duration=svc.timings.account_provisioning
    )
    return Reply(201, render(svc, account), operations.async_headers(svc, op, call.query["api-version"]))


def delete_account(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``DELETE .../accounts/{a}``: 202 and a long-running delete, or 204 when there is nothing to delete."""
    try:
        account = _find(svc, p["sub"], p["group"], p["account"])
    except errors.ServiceError:
        return Reply(204)
    if account["properties"]["provisioningState"] == "Deleting":
        op = next(o for o in operations.account_ops(svc, account["name"].lower()) if o["_kind"] == "account_delete")
    else:
        account["properties"]["provisioningState"] = "Deleting"
        op = operations.start(svc, kind="account_delete", account=account, target=None, duration=svc.timings.deletion)
    return Reply(202, None, operations.async_headers(svc, op, call.query["api-version"], location=True))


def list_keys(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``POST .../accounts/{a}/listKeys``."""
    account = _find(svc, p["sub"], p["group"], p["account"])
    return Reply(200, {"key1": account["keys"][0], "key2": account["keys"][1]})


def regenerate_key(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``POST .../accounts/{a}/regenerateKey`` with ``{"keyName": "Key1"|"Key2"}``."""
    account = _find(svc, p["sub"], p["group"], p["account"])
    key_name = str(call.json().get("keyName", ""))
    if key_name.lower() not in ("key1", "key2"):
        raise errors.arm_bad_request("InvalidRequestContent", "'keyName' must be 'Key1' or 'Key2'.", "keyName")
    account["keys"][int(key_name[-1]) - 1] = new_api_key()
    return Reply(200, {"key1": account["keys"][0], "key2": account["keys"][1]})
