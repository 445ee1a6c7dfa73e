"""Managed identities of accounts: system-assigned and user-assigned, with principal, client and tenant ids."""

from __future__ import annotations

import uuid
from typing import Any

from .. import errors
from ..entra import TENANT_ID
from ..service import Service

_TYPES = {t.lower(): t for t in ("None", "SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned")}


def _guid(svc: Service) -> str:
    return str(uuid.UUID(svc.store.ids.hex32()))


def _user_identity(svc: Service, rid: str) -> dict[str, str]:
    from .identities import book  # noqa: PLC0415 - identities imports accounts, which imports this module

    record = book(svc).get(rid.lower())
    if record is None:
        raise errors.arm_bad_request(
            "FailedIdentityOperation",
            f"Identity operation for resource failed: the user-assigned identity '{rid}' was not found.",
            "identity.userAssignedIdentities",
        )
    return {"principalId": record["properties"]["principalId"], "clientId": record["properties"]["clientId"]}


def apply_identity(svc: Service, current: dict[str, Any] | None, asked: Any) -> dict[str, Any] | None:
    """The identity an account has after a PUT or PATCH asks for ``asked``; ids are kept while the type holds."""
    if asked is None:
        return current
    if not isinstance(asked, dict) or not isinstance(asked.get("type"), str):
        raise errors.arm_bad_request("InvalidIdentity", "'identity.type' is required.", "identity")
    kind = _TYPES.get(asked["type"].replace(" ", "").replace(",", ", ").lower())
    if kind is None:
        raise errors.arm_bad_request(
            "InvalidIdentityType",
            f"The identity type '{asked['type']}' is not supported; use one of {sorted(_TYPES.values())}.",
            "identity.type",
        )
    if kind == "None":
        return None
    current = current or {}
    out: dict[str, Any] = {"type": kind}
    if "SystemAssigned" in kind:
        out["principalId"] = current.get("principalId") or _guid(svc)
        out["tenantId"] = TENANT_ID
    if "UserAssigned" in kind:
        asked_users = asked.get("userAssignedIdentities")
        if not isinstance(asked_users, dict) or not asked_users:
            raise errors.arm_bad_request(
                "BadRequest",
                "The identity type 'UserAssigned' needs at least one entry in 'identity.userAssignedIdentities'.",
                "identity.userAssignedIdentities",
            )
        out["userAssignedIdentities"] = {rid: _user_identity(svc, rid) for rid in asked_users}
    return out
