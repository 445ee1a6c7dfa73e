"""A Microsoft Entra ID stand-in: app registrations, the OAuth2 client-credentials token endpoint, signed JWTs.

It serves what azure-identity (through MSAL) reads: ``/{tenant}/v2.0/.well-known/openid-configuration``, the
token endpoint ``/{tenant}/oauth2/v2.0/token`` and the signing keys. Point ``AZURE_AUTHORITY_HOST`` at an emulator
started with ``--tls`` and ``ClientSecretCredential``/``EnvironmentCredential`` get real RS256 tokens whose ``oid``
the emulator then checks against role assignments. The signing key lives in memory only: after a restart,
earlier tokens no longer verify and clients simply fetch new ones.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import urllib.parse
import uuid

from . import errors
from .http import Call, Reply
from .service import Service
from .state import Obj

TENANT_ID = "72f988bf-0000-4000-8000-00000000e1e1"
TOKEN_SECONDS = 3600
_PATH = re.compile(
    r"^/(?P<tenant>[^/]+)/(?:(?P<config>v2\.0/\.well-known/openid-configuration)|(?P<token>oauth2/v2\.0/token)"
    r"|(?P<keys>discovery/v2\.0/keys))$"
)
_DISCOVERY = "/common/discovery/instance"


def principals(svc: Service) -> dict[str, Obj]:
    """App registrations (service principals) by client id; secrets are kept as SHA-256 only."""
    found: dict[str, Obj] = svc.store.data.setdefault("principals", {})
    return found


def register(svc: Service, name: str) -> dict[str, str]:
    """A new app registration with a client secret; returns what ``EnvironmentCredential`` needs."""
    client_id = str(uuid.uuid4())
    secret = secrets.token_urlsafe(24)
    record = {
        "name": name,
        "client_id": client_id,
        "object_id": str(uuid.uuid4()),
        "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
    }
    principals(svc)[client_id] = record
    return {
        "name": name,
        "tenant_id": TENANT_ID,
        "client_id": client_id,
        "client_secret": secret,
        "object_id": record["object_id"],
    }


def matches(path: str) -> bool:
    """True for the token service's paths."""
    return path == _DISCOVERY or _PATH.match(path) is not None


def _authority(call: Call, tenant: str) -> str:
    return f"{call.base_url}/{tenant}"


def _aad_error(status: int, error: str, code: str, description: str) -> Reply:
    return Reply(
        status,
        {
            "error": error,
            "error_description": f"{code}: {description}",
            "error_codes": [int(code.removeprefix("AADSTS"))],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        },
    )


def dispatch(svc: Service, call: Call) -> Reply:
    """Answer a token-service call."""
    if call.path == _DISCOVERY:
        host = urllib.parse.urlsplit(call.base_url).netloc
        return Reply(
            200,
            {
                "tenant_discovery_endpoint": f"{call.base_url}/{{tenant}}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            },
        )
    m = _PATH.match(call.path)
    assert m is not None
    tenant = m["tenant"]
    if m["config"]:
        base = _authority(call, tenant)
        return Reply(
            200,
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "NA",
            },
        )
    if m["keys"]:
        return Reply(200, {"keys": [svc.signer.jwk()]})
    if call.method != "POST":
        raise errors.ServiceError(405, "405", "The token endpoint takes POST.", gateway=True)
    if tenant not in (TENANT_ID, "organizations", "common"):
        return _aad_error(400, "invalid_request", "AADSTS90002", f"Tenant '{tenant}' not found.")
    form = {k: v[-1] for k, v in urllib.parse.parse_qs(call.body.decode(), keep_blank_values=True).items()}
    if form.get("grant_type") != "client_credentials":
        return _aad_error(400, "unsupported_grant_type", "AADSTS70003", "The app requested an unsupported grant type.")
    record = principals(svc).get(form.get("client_id", ""))
    if record is None:
        return _aad_error(
            400,
            "unauthorized_client",
            "AADSTS700016",
            f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
        )
    given = hashlib.sha256(form.get("client_secret", "").encode()).hexdigest()
    if not hmac.compare_digest(given, record["secret_sha256"]):
        return _aad_error(401, "invalid_client", "AADSTS7000215", "Invalid client secret provided.")
    scope = form.get("scope", "").split()
    resource = next((s for s in scope if s.endswith("/.default")), None)
    if resource is None:
        return _aad_error(400, "invalid_scope", "AADSTS1002012", "The provided value for scope is not valid.")
    now = int(time.time())
    claims = {
        "aud": resource.removesuffix("/.default"),
        "iss": f"{_authority(call, TENANT_ID)}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_SECONDS,
        "oid": record["object_id"],
        "sub": record["object_id"],
        "tid": TENANT_ID,
        "appid": record["client_id"],
        "azp": record["client_id"],
        "idtyp": "app",
        "ver": "2.0",
    }
    return Reply(
        200,
        {
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "ext_expires_in": TOKEN_SECONDS,
            "access_token": svc.signer.sign(claims),
        },
    )
