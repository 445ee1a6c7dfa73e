"""Routes ``/{account}/openai[/v1]/...`` to handlers, after the api-version and auth checks Azure makes first."""

from __future__ import annotations

import re

from .. import auth, endpoints, errors, rbac
from ..arm import operations
from ..arm.accounts import account_id
from ..catalog import DATED_VERSIONS, V1_VERSIONS
from ..http import Call, Reply
from ..service import Service
from ..state import Obj
from . import eval_runs, evals, files, jobs, models, uploads_api
from .context import PREFIX_RE, Ctx, Handler

_ID = r"[^/]+"

# (path regex, {method: (handler, dialects)}): dialects "d" dated, "v" v1.
ROUTES: list[tuple[re.Pattern[str], dict[str, tuple[Handler, str]]]] = [
    (re.compile(r"^/files$"), {"GET": (files.list_files, "dv"), "POST": (files.upload, "dv")}),
    (re.compile(r"^/files/import$"), {"POST": (files.import_file, "d")}),
    (re.compile(rf"^/files/(?P<file>{_ID})$"), {"GET": (files.retrieve, "dv"), "DELETE": (files.delete, "dv")}),
    (re.compile(rf"^/files/(?P<file>{_ID})/content$"), {"GET": (files.content, "dv")}),
    (re.compile(r"^/uploads$"), {"POST": (uploads_api.start, "dv")}),
    (re.compile(rf"^/uploads/(?P<upload>{_ID})/parts$"), {"POST": (uploads_api.add_part, "dv")}),
    (re.compile(rf"^/uploads/(?P<upload>{_ID})/complete$"), {"POST": (uploads_api.complete, "dv")}),
    (re.compile(rf"^/uploads/(?P<upload>{_ID})/cancel$"), {"POST": (uploads_api.cancel, "dv")}),
    (re.compile(r"^/fine_tuning/jobs$"), {"GET": (jobs.list_jobs, "dv"), "POST": (jobs.create, "dv")}),
    (re.compile(rf"^/fine_tuning/jobs/(?P<job>{_ID})$"), {"GET": (jobs.retrieve, "dv"), "DELETE": (jobs.delete, "d")}),
    (re.compile(rf"^/fine_tuning/jobs/(?P<job>{_ID})/cancel$"), {"POST": (jobs.cancel, "dv")}),
    (re.compile(rf"^/fine_tuning/jobs/(?P<job>{_ID})/pause$"), {"POST": (jobs.pause, "dv")}),
    (re.compile(rf"^/fine_tuning/jobs/(?P<job>{_ID})/resume$"), {"POST": (jobs.resume, "dv")}),
    (re.compile(rf"^/fine_tuning/jobs/(?P<job>{_ID})/events$"), {"GET": (jobs.events, "dv")}),
    (re.compile(rf"^/fine_tuning/jobs/(?P<job>{_ID})/checkpoints$"), {"GET": (jobs.checkpoints, "dv")}),
    (
        re.compile(rf"^/fine_tuning/jobs/(?P<job>{_ID})/checkpoints/(?P<checkpoint>{_ID})/copy$"),
        {"POST": (models.start_copy, "v"), "GET": (models.copy_status, "v")},
    ),
    (re.compile(r"^/models$"), {"GET": (models.list_models, "dv")}),
    (
        re.compile(rf"^/models/(?P<model>{_ID})$"),
        {"GET": (models.retrieve_model, "dv"), "DELETE": (models.delete_model, "v")},
    ),
    (re.compile(rf"^/deployments/(?P<deployment>{_ID})/chat/completions$"), {"POST": (models.chat, "d")}),
    (re.compile(r"^/chat/completions$"), {"POST": (models.chat, "v")}),
    (re.compile(r"^/evals$"), {"GET": (evals.list_evals, "dv"), "POST": (evals.create, "dv")}),
    (
        re.compile(rf"^/evals/(?P<eval>{_ID})$"),
        {"GET": (evals.retrieve, "dv"), "POST": (evals.update, "dv"), "DELETE": (evals.delete, "dv")},
    ),
    (
        re.compile(rf"^/evals/(?P<eval>{_ID})/runs$"),
        {"GET": (eval_runs.list_runs, "dv"), "POST": (eval_runs.create, "dv")},
    ),
    (
        re.compile(rf"^/evals/(?P<eval>{_ID})/runs/(?P<run>{_ID})$"),
        {"GET": (eval_runs.retrieve, "dv"), "POST": (eval_runs.cancel, "dv"), "DELETE": (eval_runs.delete, "dv")},
    ),
    (re.compile(rf"^/evals/(?P<eval>{_ID})/runs/(?P<run>{_ID})/cancel$"), {"POST": (eval_runs.cancel, "dv")}),
    (
        re.compile(rf"^/evals/(?P<eval>{_ID})/runs/(?P<run>{_ID})/output_items$"),
        {"GET": (eval_runs.list_output_items, "dv")},
    ),
    (
        re.compile(rf"^/evals/(?P<eval>{_ID})/runs/(?P<run>{_ID})/output_items/(?P<item>{_ID})$"),
        {"GET": (eval_runs.retrieve_output_item, "dv")},
    ),
]


_ACTION_VERBS = frozenset({"cancel", "pause", "resume", "copy", "completions", "import", "complete", "parts"})


def _template(pattern: re.Pattern[str]) -> str:
    """A route's path with ``{name}`` for each parameter (``/files/{file}/content``)."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern.pattern).strip("^$")


def _data_action(template: str, method: str) -> str:
    """The data action Azure RBAC names for an operation (``.../OpenAI/files/write``), from its route."""
    words = [w for w in template.strip("/").split("/") if not w.startswith("{")]
    if method == "POST" and words[-1] in _ACTION_VERBS:
        return f"Microsoft.CognitiveServices/accounts/OpenAI/{'/'.join(words)}/action"
    verb = {"GET": "read", "DELETE": "delete"}.get(method, "write")
    return f"Microsoft.CognitiveServices/accounts/OpenAI/{'/'.join(words)}/{verb}"


def public_access_disabled() -> errors.ServiceError:
    """Azure's answer to a call from the internet to an account with ``publicNetworkAccess: Disabled``.

    The message is the service's, as users meet it (Azure-Samples/azure-search-openai-demo#1157,
    TabularEditor/TabularEditor3#1557). Azure lets such an account be reached through a private endpoint or
    from allowed networks; the emulator has neither, so every data-plane call to it is refused.
    """
    return errors.ServiceError(
        403, "403", "Public access is disabled. Please configure private endpoint.", gateway=True
    )


def _resolve(svc: Service, call: Call, subdomain: str | None, region: str | None) -> tuple[Obj, str]:
    """The account a data-plane call reaches, and the endpoint path it came by.

    At ``/<subdomain>/`` that is the account with the subdomain; at the shared ``/_regional/<region>/`` it is the
    account of the region whose key the call carries, and a token, which names no account, is refused as Azure does.
    """
    if subdomain is not None:
        found = endpoints.by_subdomain(svc, subdomain)
        root = f"/{subdomain}"
    else:
        assert region is not None
        root = f"/{endpoints.REGIONAL}/{region}"
        key = call.headers.get("api-key")
        if key is None:
            token = auth.bearer(call.headers)
            found = endpoints.by_key(svc, region, token)
            if found is None and token is not None:
                raise endpoints.token_on_regional_endpoint()
        else:
            found = endpoints.by_key(svc, region, key)
            if found is None:
                raise errors.access_denied()
    if found is not None:
        operations.settle_account(svc, found["name"].lower())
        found = svc.accounts.get(found["name"].lower())
    # The endpoint of an account that does not exist (or is still provisioning) does not resolve.
    if found is None or found["properties"]["provisioningState"] != "Succeeded":
        if region is not None:
            raise errors.access_denied()
        raise errors.resource_not_found()
    return found, root


def matches(path: str) -> bool:
    """True when ``path`` is a data-plane path."""
    return PREFIX_RE.match(path) is not None


def dispatch(svc: Service, call: Call) -> tuple[Reply, str, str | None]:
    """Answer a data-plane call; returns the reply, the plane for errors, and the account name."""
    m = PREFIX_RE.match(call.path)
    assert m is not None
    v1 = bool(m["v1"])
    plane = "v1" if v1 else "dated"
    account, root = _resolve(svc, call, m["account"], m["region"])
    version = call.query.get("api-version", "v1" if v1 else "")
    if v1 and version not in V1_VERSIONS:
        raise errors.ServiceError(
            400,
            "BadRequest",
            f"API version '{version}' is not supported on /openai/v1; use 'v1' or 'preview'.",
            gateway=True,
        )
    if not v1 and version not in DATED_VERSIONS:
        raise errors.resource_not_found()
    if account["properties"].get("publicNetworkAccess") == "Disabled":
        raise public_access_disabled()
    principal = auth.check_data_plane(account, call.headers, svc.signer)
    rest = m["rest"] or "/"
    dialect = "v" if v1 else "d"
    for pattern, methods in ROUTES:
        route = pattern.match(rest)
        if route is None:
            continue
        handler = methods.get(call.method)
        if handler is None or dialect not in handler[1]:
            if any(dialect in d for _, d in methods.values()):
                raise errors.ServiceError(405, "405", f"The method {call.method} is not allowed here.", gateway=True)
            break
        if principal is not None:
            template = _template(pattern)
            rbac.require_data_action(
                svc,
                principal,
                account_id(account),
                _data_action(template, call.method),
                f"{call.method} /openai{template}",
            )
        ctx = Ctx(svc, account, call, v1, version, root)
        return handler[0](ctx, route.groupdict()), plane, account["name"]
    raise errors.resource_not_found()
