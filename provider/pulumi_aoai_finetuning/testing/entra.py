"""A deployer signed in to the emulator's Microsoft Entra ID, as ``az login`` or a CI service principal would be.

The emulator's Entra ID (its OAuth2 client-credentials token endpoint, served over https as MSAL requires)
issues real signed tokens to a service principal registered through its admin API. A stack run on it needs
nothing faked: the dynamic-provider plugin gets ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``,
``AZURE_CLIENT_SECRET`` and ``AZURE_AUTHORITY_HOST`` (plus ``REQUESTS_CA_BUNDLE`` for the emulator's
self-signed certificate) and the providers authenticate through ``DefaultAzureCredential`` unchanged; the
harness, playing azure-native, calls ARM with azure-identity's own ``ClientSecretCredential`` for the same
principal. ARM then checks the principal's roles, and the data plane its data roles, as Azure does.

The deployer holds *Owner* on the stack's subscription (what creating role assignments needs); it holds no
data-plane role, so a stack that disables keys must assign one (the examples assign *Cognitive Services
OpenAI Contributor* on their account to ``get_client_config().object_id``).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from ..client.auth import ARM_SCOPE
from .emulator import ARM_TOKEN
from .project import Project
from .results import HarnessError

OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"  # Azure built-in role "Owner"
_ADMIN = "/_emulator/principals"
_ASSIGNMENT_API = "2022-04-01"
_LOGIN_FILE = "deployer.json"
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class EntraLogin:
    """A service principal of the emulator's Entra ID and where its tokens come from."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    object_id: str
    authority_host: str  # https://127.0.0.1:<port>, the emulator's token service
    ca_file: str  # the emulator's self-signed certificate, which clients verify its https with

    def plugin_env(self) -> dict[str, str]:
        """The environment ``EnvironmentCredential`` (first in ``DefaultAzureCredential``) signs in with."""
        return {
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_AUTHORITY_HOST": self.authority_host,
            "REQUESTS_CA_BUNDLE": self.ca_file,  # MSAL reaches the token endpoint through requests
        }

    def credential(self) -> Any:
        """azure-identity's own ``ClientSecretCredential`` for this principal, pointed at the emulator."""
        from azure.identity import ClientSecretCredential  # noqa: PLC0415 - heavy; only Entra runs need it

        return ClientSecretCredential(
            self.tenant_id,
            self.client_id,
            self.client_secret,
            authority=self.authority_host,
            disable_instance_discovery=True,  # a loopback authority: MSAL would ask login.microsoftonline.com
            connection_verify=self.ca_file,
        )

    def arm_auth(self) -> CredentialAuth:
        """Credentials for the harness's own ARM calls (the part azure-native plays)."""
        return CredentialAuth(self.credential(), ARM_SCOPE)

    def client_config(self, subscription: str) -> dict[str, str]:
        """What ``azure-native:authorization:getClientConfig`` answers for this principal."""
        return {
            "clientId": self.client_id,
            "objectId": self.object_id,
            "subscriptionId": subscription,
            "tenantId": self.tenant_id,
        }


class CredentialAuth:
    """Bearer tokens from an azure-identity credential for one scope, refreshed five minutes before expiry."""

    def __init__(self, credential: Any, scope: str) -> None:
        self.credential = credential
        self.scope = scope
        self._token: Any = None
        self._lock = threading.Lock()

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>``."""
        with self._lock:
            if self._token is None or self._token.expires_on - 300 < time.time():
                self._token = self.credential.get_token(self.scope)
            return {"Authorization": f"Bearer {self._token.token}"}

    def close(self) -> None:
        """Close the credential's connections."""
        self.credential.close()

    def secrets(self) -> tuple[str, ...]:
        """The current token, to redact."""
        return (self._token.token,) if self._token is not None else ()

    def __repr__(self) -> str:
        return f"CredentialAuth(scope={self.scope!r})"


def register_principal(admin_url: str, name: str) -> dict[str, str]:
    """A new app registration at the emulator (``POST /_emulator/principals``): ids and its client secret."""
    answer = httpx2.post(f"{admin_url.rstrip('/')}{_ADMIN}", json={"name": name, "roles": []}, timeout=30)
    if answer.status_code != 201:
        raise RuntimeError(
            f"the emulator at {admin_url} refused to register principal {name!r} ({answer.status_code} {answer.text}): "
            "point the harness at this package's emulator (aoai-emulator), whose admin API registers principals"
        )
    made: dict[str, str] = answer.json()
    return made


def grant(arm_url: str, scope: str, role_id: str, object_id: str) -> None:
    """Assign a built-in role to a principal at a scope, as an administrator outside the stack would.

    The assignment's name is derived from (principal, role, scope), so granting again is a no-op. The request
    carries the emulator's opaque operator token, which ARM does not check against roles.
    """
    name = uuid.uuid5(uuid.NAMESPACE_URL, f"{object_id}|{role_id}|{scope.lower()}")
    sub = scope.split("/")[2]
    answer = httpx2.put(
        f"{arm_url.rstrip('/')}{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        params={"api-version": _ASSIGNMENT_API},
        headers={"Authorization": f"Bearer {ARM_TOKEN}"},
        json={
            "properties": {
                "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role_id}",
                "principalId": object_id,
                "principalType": "ServicePrincipal",
            }
        },
        timeout=30,
    )
    if answer.status_code not in (200, 201):
        raise RuntimeError(
            f"the emulator at {arm_url} refused to assign role {role_id} at {scope} ({answer.status_code} "
            f"{answer.text}): the scope must be a subscription or resource id, the role one of its built-in roles"
        )


def serve_token_service(emulator: Any) -> Any:
    """Serve the emulator over https too, for its token endpoint; the data plane and ARM keep their URL.

    MSAL accepts only an https authority. Endpoints the emulator reports (``properties.endpoint``) stay on its
    first server, so a stack's state keeps the same endpoints whether or not it signs in with Entra ID.
    """
    base_url = emulator.service.base_url
    server = emulator.serve(tls=True)
    emulator.service.base_url = base_url  # serve() points reported endpoints at the newest server
    return server


def deployer_login(url: str, token_server: Any, subscriptions: list[str], name: str = "deployer") -> EntraLogin:
    """Register a deployer principal at a served emulator with *Owner* on each subscription."""
    made = register_principal(url, name)
    for sub in subscriptions:
        grant(url, f"/subscriptions/{sub}", OWNER_ROLE, made["object_id"])
    return EntraLogin(
        made["tenant_id"],
        made["client_id"],
        made["client_secret"],
        made["object_id"],
        token_server.url,
        str(token_server.ca_path),
    )


def private_login(directory: Path, url: str, emulator: Any, subscription: str) -> EntraLogin:
    """The deployer of a private emulator (``--emulator``): made once, kept in ``directory`` beside its state.

    The principal must outlive one command: role assignments in the stack name its object id. Its client
    secret is the emulator's own throw-away credential, kept (mode 0600) where the emulator keeps its keys.
    """
    token_server = serve_token_service(emulator)
    path = directory / _LOGIN_FILE
    known: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    principals = emulator.state().get("principals", {})
    if known.get("client_id") not in principals:
        known = register_principal(url, "deployer")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write(json.dumps(known) + "\n")
    grant(url, f"/subscriptions/{subscription}", OWNER_ROLE, known["object_id"])
    return EntraLogin(
        known["tenant_id"],
        known["client_id"],
        known["client_secret"],
        known["object_id"],
        token_server.url,
        str(token_server.ca_path),
    )


def stack_subscription(program_dir: str | os.PathLike[str], stack: str, config: Mapping[str, str] | None) -> str:
    """The subscription a stack deploys to: ``azure-native:subscriptionId`` from the command or the stack file."""
    key = "azure-native:subscriptionId"
    given = (config or {}).get(key)
    if given:
        return given
    try:
        values, _ = Project.load(program_dir).stack_config(stack)
    except HarnessError:  # the command itself reports a bad project; here the default will do
        values = {}
    return str(values.get(key) or DEFAULT_SUBSCRIPTION)
