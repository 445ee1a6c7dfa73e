"""Who may call: per-account API keys on the data plane, bearer tokens on both planes.

A bearer token that is a JWT has its audience and expiry checked; any other opaque bearer token is
accepted (the emulator does not run Entra ID), except one shaped like an API key that matches no key,
which is a key mistake and is refused as Azure refuses a wrong key.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

from . import errors
from .signing import Signer
from .state import Obj

DATA_AUDIENCES = frozenset(
    {"https://cognitiveservices.azure.com", "https://ai.azure.com", "https://cognitiveservices.azure.com/"}
)
ARM_AUDIENCES = frozenset(
    {"https://management.azure.com", "https://management.azure.com/", "https://management.core.windows.net/"}
)
_KEY_SHAPE = re.compile(r"^[0-9a-fA-F]{32}$")


def _jwt_claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def bearer(headers: dict[str, str]) -> str | None:
    """The bearer token of an ``Authorization`` header, if there is one."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check_jwt(claims: dict[str, Any], audiences: frozenset[str]) -> str | None:
    aud = claims.get("aud")
    if aud not in audiences:
        return f"the token's audience {aud!r} is not one of {sorted(audiences)}"
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp < time.time():
        return "the token has expired"
    return None


def check_data_plane(account: Obj, headers: dict[str, str], signer: Signer | None = None) -> str | None:
    """Raise the 401 (or 403) Azure answers unless the request carries a key or token for ``account``.

    Returns the principal (``oid``) of a token the emulator's own Entra ID signed, for the role check; None otherwise.
    """
    keys = set(account["keys"])
    api_key = headers.get("api-key")
    if api_key is not None:
        if account.get("properties", {}).get("disableLocalAuth"):
            raise errors.local_auth_disabled()
        if api_key not in keys:
            raise errors.access_denied()
        return None
    token = bearer(headers)
    if token is None:
        raise errors.access_denied()
    if token in keys:
        if account.get("properties", {}).get("disableLocalAuth"):
            raise errors.local_auth_disabled()
        return None
    signed = signer.verify(token) if signer is not None else None
    claims = signed if signed is not None else _jwt_claims(token)
    if claims is not None:
        if _check_jwt(claims, DATA_AUDIENCES):
            raise errors.access_denied()
        return str(claims["oid"]) if signed is not None and "oid" in claims else None
    if _KEY_SHAPE.match(token):
        raise errors.access_denied()
    return None


def check_arm(headers: dict[str, str], signer: Signer | None = None) -> str | None:
    """Raise ARM's 401 unless the request carries a bearer token for the management audience.

    Returns the principal (``oid``) of a token the emulator's own Entra ID signed, for the role check; None otherwise.
    """
    if "authorization" not in headers:
        raise errors.arm_auth_missing()
    token = bearer(headers)
    if token is None:
        raise errors.arm_auth_invalid("The access token is missing or malformed; send 'Authorization: Bearer <token>'.")
    try:
        signed = signer.verify(token) if signer is not None else None
    except errors.ServiceError:
        raise errors.arm_auth_invalid(
            "The access token has an invalid signature.", "InvalidAuthenticationToken"
        ) from None
    claims = signed if signed is not None else _jwt_claims(token)
    if claims is not None:
        problem = _check_jwt(claims, ARM_AUDIENCES)
        if problem:
            code = "ExpiredAuthenticationToken" if "expired" in problem else "InvalidAuthenticationTokenAudience"
            raise errors.arm_auth_invalid(f"The access token is not valid for Azure Resource Manager: {problem}.", code)
        if signed is not None and "oid" in signed:
            return str(signed["oid"])
    return None
