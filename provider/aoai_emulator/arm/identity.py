"""Managed identities of accounts: system-assigned and user-assigned, with principal, client and tenant ids."""

from __future__ import annotations

import uuid
from typing import Any

from .. import errors
from ..service import Service

# The emulator's one Microsoft Entra tenant (a fixed, obviously fake GUID).
TENANT_ID = "72f988bf-0000-4000-8000-00000000e1e1"
_TYPES = {t.lower(): t for t in ("None", "SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned")}


def _guid(svc: Service) -> str:
    return str(uuid.UUID(svc.store.ids.hex32()))


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
        known = current.get("userAssignedIdentities") or {}
        out["userAssignedIdentities"] = {
            rid: known.get(rid) or {"principalId": _guid(svc), "clientId": _guid(svc)} for rid in asked_users
        }
    return out
