"""The admin API under ``/_emulator/``: reset, clock, faults, request log, state dump, account seeding, job failure.

It is the emulator's own control surface (as moto's ``/moto-api/``): never part of Azure's API, never
behind auth, never subject to faults.
"""

from __future__ import annotations

import re
from typing import Any

from . import endpoints, entra, errors, lifecycle, rbac
from .arm import accounts
from .faults import parse_rule
from .http import Call, Reply
from .service import Service

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_GROUP = "emulator"
PREFIX = "/_emulator"


def seed_account(
    svc: Service,
    name: str,
    location: str = "eastus2",
    subscription: str = DEFAULT_SUBSCRIPTION,
    group: str = DEFAULT_GROUP,
    *,
    regional: bool = False,
) -> dict[str, Any]:
    """Create a ready account without ARM; returns its endpoint, keys and ARM id.

    A seeded account has its name as custom subdomain, as a stack ready for Microsoft Entra ID would set it up;
    ``regional`` seeds one without, reachable at its region's endpoint with a key only, like an ARM create
    that leaves ``customSubDomainName`` out.
    """
    account = svc.accounts.get(name.lower())
    if account is None:
        if not accounts.NAME_RE.match(name):
            raise errors.invalid_payload(f"'{name}' is not a valid account name.", "name")
        props = {} if regional else {"customSubDomainName": name}
        if not regional:
            endpoints.claim(svc, name, name, None)
        account = accounts.new_account(
            svc, name=name, sub=subscription, group=group, location=location, properties=props
        )
    return describe_account(svc, account)


def describe_account(svc: Service, account: dict[str, Any]) -> dict[str, Any]:
    """What a test needs to talk to an account."""
    return {
        "name": account["name"],
        "id": accounts.account_id(account),
        "location": account["location"],
        "endpoint": svc.endpoint(account),
        "keys": list(account["keys"]),
    }


def _fail_job(svc: Service, job_id: str, body: dict[str, Any]) -> Reply:
    for account in svc.accounts.values():
        job = account["jobs"].get(job_id)
        if job is None:
            continue
        if job["_phase"] in lifecycle.JOB_TERMINAL:
            raise errors.unexpected_state(f"The job '{job_id}' is already {job['status']}.")
        lifecycle.fail_job(
            job,
            svc.now(),
            str(body.get("code", "internalFailure")),
            str(body.get("message", "The job failed during training.")),
            body.get("param"),
        )
        return Reply(200, {k: v for k, v in job.items() if not k.startswith("_")})
    raise errors.not_found("fine-tuning job", job_id)


def _new_principal(svc: Service, body: dict[str, Any]) -> Reply:
    """An app registration for the emulator's Entra ID, with role assignments: ``{"name", "roles": [{role, scope}]}``."""
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise errors.invalid_payload("'name' is required.", "name")
    roles = body.get("roles") or []
    if not isinstance(roles, list):
        raise errors.invalid_payload("'roles' must be a list of {role, scope}.", "roles")
    made = entra.register(svc, name)
    for item in roles:
        role_id = rbac.role_id_of(str(item.get("role", ""))) if isinstance(item, dict) else None
        scope = item.get("scope") if isinstance(item, dict) else None
        if role_id is None or not isinstance(scope, str) or not scope.startswith("/subscriptions/"):
            raise errors.invalid_payload(
                f"Each role needs a built-in 'role' (one of {sorted(r.name for r in rbac.ROLES.values())}) and a "
                "'scope' starting with /subscriptions/.",
                "roles",
            )
        rbac.assign(svc, scope, role_id, made["object_id"], "ServicePrincipal")
    return Reply(201, made)


def dispatch(svc: Service, call: Call) -> Reply:
    """Answer an admin call."""
    path = call.path[len(PREFIX) :].rstrip("/")
    method = call.method
    if path == "/health" and method == "GET":
        return Reply(200, {"ok": True, "base_url": svc.base_url})
    if path == "/reset" and method == "POST":
        svc.store.reset()
        svc.verdicts.clear()
        svc.tokens.clear()
        svc.faults.clear()
        svc.requests.clear()
        return Reply(200, {"reset": True})
    if path == "/clock" and method == "GET":
        return Reply(200, svc.clock.describe())
    if path == "/clock/advance" and method == "POST":
        seconds = call.json().get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise errors.invalid_payload("'seconds' must be a non-negative number.", "seconds")
        svc.clock.advance(float(seconds))
        return Reply(200, svc.clock.describe())
    if path == "/faults":
        if method == "GET":
            return Reply(200, {"faults": [r.describe() for r in svc.faults.rules]})
        if method == "POST":
            try:
                rule = svc.faults.add(parse_rule(call.json()))
            except (ValueError, TypeError) as exc:
                raise errors.invalid_payload(str(exc)) from None
            return Reply(201, rule.describe())
        if method == "DELETE":
            svc.faults.clear()
            return Reply(200, {"faults": []})
    if path == "/requests":
        if method == "GET":
            since = int(call.query.get("since", "0"))
            return Reply(200, {"requests": [r for r in svc.requests if r["seq"] > since]})
        if method == "DELETE":
            svc.requests.clear()
            return Reply(200, {"requests": []})
    if path == "/state" and method == "GET":
        return Reply(200, svc.store.data)
    if path == "/timings" and method == "GET":
        return Reply(200, {k: getattr(svc.timings, k) for k in svc.timings.__dataclass_fields__})
    if path == "/accounts":
        if method == "GET":
            return Reply(200, {"accounts": [describe_account(svc, a) for a in svc.accounts.values()]})
        if method == "POST":
            body = call.json()
            name = body.get("name")
            if not isinstance(name, str):
                raise errors.invalid_payload("'name' is required.", "name")
            return Reply(
                201,
                seed_account(
                    svc,
                    name,
                    str(body.get("location", "eastus2")),
                    str(body.get("subscription", DEFAULT_SUBSCRIPTION)),
                    str(body.get("resource_group", DEFAULT_GROUP)),
                    regional=body.get("regional") is True,
                ),
            )
    if path == "/principals" and method == "POST":
        return _new_principal(svc, call.json())
    m = re.fullmatch(r"/jobs/([^/]+)/fail", path)
    if m and method == "POST":
        return _fail_job(svc, m[1], call.json() if call.body else {})
    raise errors.ServiceError(404, "404", f"No admin operation {method} {call.path}.", gateway=True)
