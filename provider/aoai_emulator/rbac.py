"""Azure RBAC as the emulator applies it: built-in role definitions by their real ids, assignments, and checks.

Role ids are Azure's built-in ones, the same in every tenant (learn.microsoft.com "Azure built-in roles"; the
Azure OpenAI roles are described in "Role-based access control for Azure OpenAI"). Each role is reduced to
the actions and data actions the fine-tuning flow needs, with ``*`` wildcards as Azure writes them.
Only principals with an emulator-signed Entra ID token are checked: the emulator cannot know who holds an
opaque bearer token, so those keep the behaviour they always had.
"""

from __future__ import annotations

import fnmatch
import uuid
from dataclasses import dataclass
from typing import Any

from . import errors
from .service import Service
from .state import Obj


@dataclass(frozen=True)
class Role:
    """A built-in role: its name, control-plane actions and data actions (wildcards allowed)."""

    name: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()


_CS = "Microsoft.CognitiveServices"
ROLES: dict[str, Role] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": Role("Owner", ("*",)),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": Role(
        "Contributor", ("*",), ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write")
    ),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": Role("Reader", ("*/read",)),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": Role("User Access Administrator", ("*/read", "Microsoft.Authorization/*")),
    "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68": Role(
        "Cognitive Services Contributor",
        (f"{_CS}/*", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Authorization/*/read"),
    ),
    "a97b65f3-24c7-4388-baec-2e87135dc908": Role(
        "Cognitive Services User", (f"{_CS}/*/read", f"{_CS}/accounts/listkeys/action"), (), (f"{_CS}/*",)
    ),
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": Role(
        "Cognitive Services OpenAI User",
        (f"{_CS}/*/read",),
        (),
        (f"{_CS}/accounts/OpenAI/*/read", f"{_CS}/accounts/OpenAI/*/action"),
    ),
    "a001fd3d-188f-4b5d-821b-7da978bf7442": Role(
        "Cognitive Services OpenAI Contributor",
        (f"{_CS}/*/read", f"{_CS}/accounts/deployments/*"),
        (),
        (f"{_CS}/accounts/OpenAI/*",),
    ),
    "53ca6127-db72-4b80-b1b0-d745d6d5456d": Role("Azure AI User", (f"{_CS}/*/read",), (), (f"{_CS}/*",)),
    "64702f94-c441-49e6-a78b-ef80e0188fee": Role(
        "Azure AI Developer", (f"{_CS}/*/read",), (), (f"{_CS}/accounts/OpenAI/*",)
    ),
}
BY_NAME = {role.name.lower(): role_id for role_id, role in ROLES.items()}
AZURE_AI_USER = "53ca6127-db72-4b80-b1b0-d745d6d5456d"


def role_definition_id(sub: str, role_id: str) -> str:
    """A role definition's ARM id in a subscription."""
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"


def role_id_of(definition: str) -> str | None:
    """The built-in role id in a role definition id or name (``Owner``), if it is one the emulator knows."""
    guid = definition.rstrip("/").rsplit("/", 1)[-1].lower()
    if guid in ROLES:
        return guid
    return BY_NAME.get(definition.lower())


def assignments(svc: Service) -> dict[str, Obj]:
    """Role assignments by lower-cased ARM id."""
    found: dict[str, Obj] = svc.store.data.setdefault("role_assignments", {})
    return found


def _within(scope: str, resource: str) -> bool:
    scope, resource = scope.rstrip("/").lower(), resource.rstrip("/").lower()
    return resource == scope or resource.startswith(scope + "/")


def _matches(action: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def _roles_at(svc: Service, principal: str, resource: str) -> list[Role]:
    out = []
    for a in assignments(svc).values():
        props = a["properties"]
        role_id = role_id_of(props["roleDefinitionId"])
        if props["principalId"] == principal and role_id is not None and _within(props["scope"], resource):
            out.append(ROLES[role_id])
    return out


def holds(svc: Service, principals: set[str], resource: str, role_id: str) -> bool:
    """True when one of ``principals`` is assigned the built-in role ``role_id`` at ``resource`` or above it."""
    for a in assignments(svc).values():
        props = a["properties"]
        if (
            props["principalId"] in principals
            and role_id_of(props["roleDefinitionId"]) == role_id
            and _within(props["scope"], resource)
        ):
            return True
    return False


def allows(svc: Service, principal: str, resource: str, action: str, *, data: bool) -> bool:
    """True when a role assigned to ``principal`` at or above ``resource`` grants ``action``."""
    for role in _roles_at(svc, principal, resource):
        if data and _matches(action, role.data_actions):
            return True
        if not data and _matches(action, role.actions) and not _matches(action, role.not_actions):
            return True
    return False


def require_data_action(svc: Service, principal: str, account_id: str, action: str, operation: str) -> None:
    """Raise Azure's 401 ``PermissionDenied`` unless the principal holds ``action`` on the account."""
    if not allows(svc, principal, account_id, action, data=True):
        raise errors.ServiceError(
            401,
            "PermissionDenied",
            f"The principal `{principal}` lacks the required data action `{action}` to perform `{operation}` operation.",
        )


def require_action(svc: Service, principal: str, scope: str, action: str) -> None:
    """Raise ARM's 403 ``AuthorizationFailed`` unless the principal may perform ``action`` at ``scope``."""
    if not allows(svc, principal, scope, action, data=False):
        raise errors.ServiceError(
            403,
            "AuthorizationFailed",
            f"The client '{principal}' with object id '{principal}' does not have authorization to perform action "
            f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
            "your credentials.",
        )


def arm_action(path: str, method: str) -> tuple[str, str]:
    """The scope (the resource) and the ARM action a management request performs, as Azure names them."""
    parts = path.rstrip("/").split("/")
    lowered = [p.lower() for p in parts]
    resource = path.rstrip("/")
    if "providers" in lowered:
        i = len(lowered) - 1 - lowered[::-1].index("providers")
        namespace = parts[i + 1]
        rest = parts[i + 2 :]
        types = rest[0::2]
        kind = "/".join([namespace, *types])
    elif "resourcegroups" in lowered:
        kind = "Microsoft.Resources/subscriptions/resourceGroups"
    else:
        kind = "Microsoft.Resources/subscriptions"
    if method == "POST":
        last = parts[-1]
        resource = "/".join(parts[:-1])
        kind = kind.rsplit("/", 1)[0] if kind.count("/") > 1 else kind
        return resource, f"{kind}/{last}/action"
    verb = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(method, "read")
    return resource, f"{kind}/{verb}"


def describe(assignment: Obj) -> dict[str, Any]:
    """A role assignment as ARM returns it."""
    return {k: v for k, v in assignment.items() if not k.startswith("_")}


def assign(
    svc: Service, scope: str, role_id: str, principal_id: str, principal_type: str, *, name: str | None = None
) -> Obj:
    """Record a role assignment (Azure refuses a second one of the same role to the same principal at a scope)."""
    scope = scope.rstrip("/")
    for existing in assignments(svc).values():
        props = existing["properties"]
        if (
            props["scope"].lower() == scope.lower()
            and props["principalId"] == principal_id
            and role_id_of(props["roleDefinitionId"]) == role_id
        ):
            if name is not None and existing["name"] != name:
                raise errors.ServiceError(409, "RoleAssignmentExists", "The role assignment already exists.")
            return existing
    sub = scope.split("/")[2]
    name = name or str(uuid.uuid4())
    assignment_id = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    record: Obj = {
        "id": assignment_id,
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": role_definition_id(sub, role_id),
            "principalId": principal_id,
            "principalType": principal_type,
            "scope": scope,
        },
    }
    assignments(svc)[assignment_id.lower()] = record
    return record
