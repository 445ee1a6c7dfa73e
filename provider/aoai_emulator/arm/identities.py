"""``Microsoft.ManagedIdentity/userAssignedIdentities``: identities with principal and client ids of their own."""

from __future__ import annotations

import uuid
from typing import Any

from .. import errors
from ..entra import TENANT_ID
from ..http import Call, Reply
from ..service import Service
from ..state import Obj
from .accounts import group_key

VERSIONS = ("2018-11-30", "2023-01-31", "2023-07-31-preview", "2024-11-30")


def identity_id(sub: str, group: str, name: str) -> str:
    """The ARM id of a user-assigned identity."""
    return (
        f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )


def book(svc: Service) -> dict[str, Obj]:
    """User-assigned identities by lower-cased ARM id."""
    found: dict[str, Obj] = svc.store.data.setdefault("identities", {})
    return found


def _render(record: Obj) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def put(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``PUT``: create (201) or update tags (200); the ids never change."""
    if group_key(p["sub"], p["group"]) not in svc.store.data["resource_groups"]:
        raise errors.arm_group_not_found(p["group"])
    body = call.json()
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise errors.arm_bad_request("LocationRequired", "The location property is required for this definition.")
    rid = identity_id(p["sub"], p["group"], p["identity"])
    existing = book(svc).get(rid.lower())
    if existing is not None:
        existing["tags"] = body.get("tags") or {}
        return Reply(200, _render(existing))
    record: Obj = {
        "id": rid,
        "name": p["identity"],
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "location": location.replace(" ", "").lower(),
        "tags": body.get("tags") or {},
        "properties": {"tenantId": TENANT_ID, "principalId": str(uuid.uuid4()), "clientId": str(uuid.uuid4())},
    }
    book(svc)[rid.lower()] = record
    return Reply(201, _render(record))


def get(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET`` of one identity."""
    record = book(svc).get(identity_id(p["sub"], p["group"], p["identity"]).lower())
    if record is None:
        raise errors.arm_not_found("Microsoft.ManagedIdentity/userAssignedIdentities", p["identity"], p["group"])
    return Reply(200, _render(record))


def delete(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``DELETE``: 200 when removed, 204 when there was nothing."""
    record = book(svc).pop(identity_id(p["sub"], p["group"], p["identity"]).lower(), None)
    return Reply(204) if record is None else Reply(200)
