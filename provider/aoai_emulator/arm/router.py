"""Routes ARM paths to handlers after ARM's own checks: a bearer token and a served api-version."""

from __future__ import annotations

import re
from collections.abc import Callable

from .. import auth, errors, rbac
from ..catalog import ARM_RESOURCE_GROUP_VERSIONS, ARM_VERSIONS
from ..http import Call, Reply
from ..service import Service
from . import accounts, authorization, deleted, deployments, identities, models, operations

ArmHandler = Callable[[Service, Call, dict[str, str]], Reply]
_SUB = r"^/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourcegroups/(?P<group>[^/]+)"
_ACC = _RG + r"/providers/microsoft\.cognitiveservices/accounts"
_LOC = _SUB + r"/providers/microsoft\.cognitiveservices/locations/(?P<location>[^/]+)"
_DELETED = _LOC + r"/resourcegroups/(?P<group>[^/]+)/deletedaccounts/(?P<account>[^/]+)$"


def _status(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    return operations.get_status(svc, call, p["op"])


def _result(svc: Service, call: Call, p: dict[str, str]) -> Reply:
    return operations.get_result(svc, call, p["op"], lambda op: deployments.operation_result(svc, op))


# (path regex, api-versions it serves, {method: handler})
ROUTES: list[tuple[re.Pattern[str], tuple[str, ...], dict[str, ArmHandler]]] = [
    (
        re.compile(
            r"^(?P<scope>/subscriptions/.+?)/providers/microsoft\.authorization/roleassignments/(?P<name>[^/]+)$", re.I
        ),
        authorization.VERSIONS,
        {
            "PUT": authorization.put_assignment,
            "GET": authorization.get_assignment,
            "DELETE": authorization.delete_assignment,
        },
    ),
    (
        re.compile(r"^(?P<scope>/subscriptions/.+?)/providers/microsoft\.authorization/roleassignments$", re.I),
        authorization.VERSIONS,
        {"GET": authorization.list_assignments},
    ),
    (
        re.compile(_SUB + r"/providers/microsoft\.authorization/roledefinitions/(?P<role>[^/]+)$", re.I),
        authorization.VERSIONS,
        {"GET": authorization.get_definition},
    ),
    (
        re.compile(_RG + r"/providers/microsoft\.managedidentity/userassignedidentities/(?P<identity>[^/]+)$", re.I),
        identities.VERSIONS,
        {"PUT": identities.put, "GET": identities.get, "DELETE": identities.delete},
    ),
    (
        re.compile(_RG + "$", re.I),
        ARM_RESOURCE_GROUP_VERSIONS,
        {
            "PUT": accounts.put_group,
            "GET": accounts.get_group,
            "HEAD": accounts.get_group,
            "DELETE": accounts.delete_group,
        },
    ),
    (re.compile(_ACC + "$", re.I), ARM_VERSIONS, {"GET": accounts.list_accounts}),
    (
        re.compile(_SUB + r"/providers/microsoft\.cognitiveservices/accounts$", re.I),
        ARM_VERSIONS,
        {"GET": accounts.list_subscription_accounts},
    ),
    (
        re.compile(_ACC + r"/(?P<account>[^/]+)$", re.I),
        ARM_VERSIONS,
        {
            "PUT": accounts.put_account,
            "PATCH": accounts.patch_account,
            "GET": accounts.get_account,
            "DELETE": accounts.delete_account,
        },
    ),
    (re.compile(_ACC + r"/(?P<account>[^/]+)/models$", re.I), ARM_VERSIONS, {"GET": models.list_models}),
    (
        re.compile(_SUB + r"/providers/microsoft\.cognitiveservices/deletedaccounts$", re.I),
        ARM_VERSIONS,
        {"GET": deleted.list_all},
    ),
    (re.compile(_DELETED, re.I), ARM_VERSIONS, {"GET": deleted.get, "DELETE": deleted.purge}),
    (re.compile(_ACC + r"/(?P<account>[^/]+)/listKeys$", re.I), ARM_VERSIONS, {"POST": accounts.list_keys}),
    (re.compile(_ACC + r"/(?P<account>[^/]+)/regenerateKey$", re.I), ARM_VERSIONS, {"POST": accounts.regenerate_key}),
    (re.compile(_ACC + r"/(?P<account>[^/]+)/deployments$", re.I), ARM_VERSIONS, {"GET": deployments.list_all}),
    (
        re.compile(_ACC + r"/(?P<account>[^/]+)/deployments/(?P<deployment>[^/]+)$", re.I),
        ARM_VERSIONS,
        {"PUT": deployments.put, "GET": deployments.get, "PATCH": deployments.patch, "DELETE": deployments.delete},
    ),
    (
        re.compile(_ACC + r"/(?P<account>[^/]+)/deployments/(?P<deployment>[^/]+)/skus$", re.I),
        ARM_VERSIONS,
        {"GET": models.list_skus},
    ),
    (re.compile(_LOC + r"/operationStatuses/(?P<op>[^/]+)$", re.I), ARM_VERSIONS, {"GET": _status}),
    (re.compile(_LOC + r"/operationResults/(?P<op>[^/]+)$", re.I), ARM_VERSIONS, {"GET": _result}),
]


def matches(path: str) -> bool:
    """True when ``path`` is an ARM path."""
    return path.lower().startswith("/subscriptions/")


def dispatch(svc: Service, call: Call) -> tuple[Reply, str | None]:
    """Answer an ARM call; returns the reply and the account it concerns, if any."""
    principal = auth.check_arm(call.headers, svc.signer)
    for pattern, versions, methods in ROUTES:
        m = pattern.match(call.path)
        if m is None:
            continue
        version = call.query.get("api-version")
        if not version:
            raise errors.arm_missing_api_version()
        if version not in versions:
            raise errors.arm_bad_api_version(version, list(versions))
        handler = methods.get(call.method)
        if handler is None:
            raise errors.ServiceError(
                405, "MethodNotAllowed", f"The method {call.method} is not allowed on this resource."
            )
        if principal is not None:
            scope, action = rbac.arm_action(call.path, call.method)
            rbac.require_action(svc, principal, scope, action)
        params = m.groupdict()
        return handler(svc, call, params), params.get("account")
    raise errors.ServiceError(
        404, "InvalidResourceType", f"The resource type could not be found for the path '{call.path}'."
    )
