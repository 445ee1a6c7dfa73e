"""``Microsoft.Authorization``: role assignments at any scope, and the built-in role definitions."""

from __future__ import annotations

import re

from .. import errors, rbac
from ..http import Call, Reply
from ..service import Service

VERSIONS = (
    "2015-07-01",
    "2018-01-01-preview",
    "2020-04-01-preview",
    "2020-10-01-preview",
    "2022-01-01-preview",
    "2022-04-01",
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def put_assignment(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name}``."""
    if not _GUID.match(p["name"]):
        raise errors.arm_bad_request(
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{p['name']}' is not valid. The role assignment ID must be a GUID.",
        )
    props = call.json().get("properties") or {}
    definition = props.get("roleDefinitionId")
    principal = props.get("principalId")
    if not isinstance(definition, str) or not isinstance(principal, str) or not principal:
        raise errors.arm_bad_request(
            "InvalidRequestContent", "'properties.roleDefinitionId' and 'properties.principalId' are required."
        )
    role_id = rbac.role_id_of(definition)
    if role_id is None:
        raise errors.arm_bad_request(
            "RoleDefinitionDoesNotExist",
            f"The specified role definition with ID '{definition.rsplit('/', 1)[-1]}' does not exist.",
        )
    key = f"{p['scope']}/providers/Microsoft.Authorization/roleAssignments/{p['name']}".lower()
    existed = key in rbac.assignments(svc)
    record = rbac.assign(
        svc, p["scope"], role_id, principal, str(props.get("principalType", "ServicePrincipal")), name=p["name"]
    )
    return Reply(200 if existed else 201, rbac.describe(record))


def _get(svc: Service, p: dict[str, str]) -> dict[str, object] | None:
    key = f"{p['scope']}/providers/Microsoft.Authorization/roleAssignments/{p['name']}".lower()
    return rbac.assignments(svc).get(key)


def get_assignment(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET`` of one role assignment."""
    record = _get(svc, p)
    if record is None:
        raise errors.ServiceError(404, "RoleAssignmentNotFound", f"The role assignment '{p['name']}' is not found.")
    return Reply(200, rbac.describe(record))


def delete_assignment(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``DELETE`` of one role assignment: 200 with what was removed, 204 when there was none."""
    key = f"{p['scope']}/providers/Microsoft.Authorization/roleAssignments/{p['name']}".lower()
    record = rbac.assignments(svc).pop(key, None)
    return Reply(204) if record is None else Reply(200, rbac.describe(record))


def list_assignments(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET {scope}/providers/Microsoft.Authorization/roleAssignments``: those at, above or below the scope."""
    scope = p["scope"].rstrip("/").lower()
    found = [
        rbac.describe(a)
        for a in rbac.assignments(svc).values()
        if scope.startswith(a["properties"]["scope"].lower()) or a["properties"]["scope"].lower().startswith(scope)
    ]
    return Reply(200, {"value": found})


def get_definition(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    """``GET /subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{id}`` of a built-in role."""
    role_id = p["role"].lower()
    role = rbac.ROLES.get(role_id)
    if role is None:
        raise errors.ServiceError(
            404, "RoleDefinitionDoesNotExist", f"The role definition '{p['role']}' does not exist."
        )
    return Reply(
        200,
        {
            "id": rbac.role_definition_id(p["sub"], role_id),
            "name": role_id,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {
                "roleName": role.name,
                "type": "BuiltInRole",
                "permissions": [
                    {
                        "actions": list(role.actions),
                        "notActions": list(role.not_actions),
                        "dataActions": list(role.data_actions),
                        "notDataActions": [],
                    }
                ],
                "assignableScopes": ["/"],
            },
        },
    )
