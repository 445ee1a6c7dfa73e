"""Stacks on Microsoft Entra ID through the harness: azure-identity's real credentials against the emulator.

The emulator's Entra ID issues signed tokens over https; the providers get them through an unmodified
``DefaultAzureCredential`` (``AZURE_*`` variables), the harness through ``ClientSecretCredential``. Nothing here
fakes a credential: a token the emulator did not sign, or a principal without the role, is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aoai_emulator import Emulator, create_emulator
from pulumi_aoai_finetuning.client.auth import ARM_SCOPE, DATA_PLANE_SCOPE, EntraAuth, credential_options
from pulumi_aoai_finetuning.testing import checkpoint
from pulumi_aoai_finetuning.testing.entra import EntraLogin, deployer_login, register_principal, serve_token_service
from pulumi_aoai_finetuning.testing.program import PREVIEW_UNKNOWN, HarnessError, run_program
from tests.test_program_harness import harness_cli

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"
SUB = "00000000-0000-0000-0000-000000000000"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


@pytest.fixture
def entra() -> Iterator[tuple[Emulator, str, EntraLogin]]:
    """An emulator on http (data plane, ARM) and https (its token service), and a deployer with Owner."""
    emulator = create_emulator(seed=1212)
    url = emulator.serve().url
    try:
        token_server = serve_token_service(emulator)
        yield emulator, url, deployer_login(url, token_server, [SUB])
    finally:
        emulator.close()


# --- the provider's credential: DefaultAzureCredential unchanged -----------------------------------------


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("https://127.0.0.1:8443", {"disable_instance_discovery": True}),
        ("https://localhost:8443", {"disable_instance_discovery": True}),
        ("https://[::1]:8443", {"disable_instance_discovery": True}),
        ("https://login.microsoftonline.com", {}),
        ("login.microsoftonline.us", {}),
        ("", {}),
    ],
)
def test_instance_discovery_is_skipped_only_for_a_loopback_authority(authority: str, expected: dict[str, Any]) -> None:
    """MSAL validates unknown authorities at login.microsoftonline.com; only a token service on this machine skips it."""
    assert credential_options({"AZURE_AUTHORITY_HOST": authority}) == expected


def test_entra_auth_gets_a_token_the_emulator_signed_through_default_azure_credential(
    entra: tuple[Emulator, str, EntraLogin], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the AZURE_* variables a plugin gets, EntraAuth's DefaultAzureCredential signs in offline; ARM accepts it.

    The same principal's token is refused by ARM for an action its role lacks once it holds only Reader (checked
    roles prove the token is the emulator's own, carrying the principal's object id).
    """
    _, url, login = entra
    for name, value in login.plugin_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(EntraAuth, "_credential", None)  # the process-wide credential, made afresh from these
    try:
        arm = EntraAuth(ARM_SCOPE).headers()
        data = EntraAuth(DATA_PLANE_SCOPE).headers()
    finally:
        monkeypatch.setattr(EntraAuth, "_credential", None)
    assert arm["Authorization"].startswith("Bearer ey")
    assert arm != data  # one token per audience
    group = f"/subscriptions/{SUB}/resourcegroups/rg-entra"
    made = httpx2.put(f"{url}{group}", params={"api-version": "2024-03-01"}, json={"location": "eastus2"}, headers=arm)
    assert made.status_code == 201, made.text

    stranger = register_principal(url, "stranger")
    monkeypatch.setenv("AZURE_CLIENT_ID", stranger["client_id"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", stranger["client_secret"])
    monkeypatch.setattr(EntraAuth, "_credential", None)
    try:
        refused = httpx2.put(
            f"{url}{group}2",
            params={"api-version": "2024-03-01"},
            json={"location": "eastus2"},
            headers=EntraAuth(ARM_SCOPE).headers(),
        )
    finally:
        monkeypatch.setattr(EntraAuth, "_credential", None)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "AuthorizationFailed"
    assert stranger["object_id"] in refused.json()["error"]["message"]


# --- the harness serves identities and role assignments -------------------------------------------------

PROGRAM = """\
import pulumi
import pulumi_azure_native as azure_native

config = pulumi.Config()
group = azure_native.resources.ResourceGroup("rg", location="eastus2")
identity = azure_native.managedidentity.UserAssignedIdentity("who", resource_group_name=group.name)
grant = azure_native.authorization.RoleAssignment(
    "grant",
    scope=group.id,
    principal_id=identity.principal_id,
    principal_type="ServicePrincipal",
    role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{config.require('role')}",
)
account = azure_native.cognitiveservices.Account(
    "aoai",
    resource_group_name=group.name,
    kind="OpenAI",
    sku=azure_native.cognitiveservices.SkuArgs(name="S0"),
    identity=azure_native.cognitiveservices.IdentityArgs(type="SystemAssigned"),
    properties=azure_native.cognitiveservices.AccountPropertiesArgs(custom_sub_domain_name="identityacct"),
)
pulumi.export("account_principal_id", account.identity.apply(lambda i: i.principal_id))
pulumi.export("account_tenant_id", account.identity.apply(lambda i: i.tenant_id))
pulumi.export("principal_id", identity.principal_id)
pulumi.export("client_id", identity.client_id)
pulumi.export("assignment", grant.name)
pulumi.export("assigned_to", grant.principal_id)
pulumi.export("scope", grant.scope)
"""


def identity_program(tmp_path: Path) -> Path:
    """A program with a user-assigned identity and a role for it on its resource group."""
    program = tmp_path / "identity"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: identity\nruntime: python\n")
    (program / "__main__.py").write_text(PROGRAM.replace("{SUB}", SUB))
    return program


def held_assignments(emulator: Emulator, principal: str) -> list[dict[str, Any]]:
    """The emulator's role assignments for one principal."""
    return [
        a["properties"]
        for a in emulator.state().get("role_assignments", {}).values()
        if a["properties"]["principalId"] == principal
    ]


def test_identity_and_role_assignment_are_served_with_azure_natives_outputs(
    entra: tuple[Emulator, str, EntraLogin], tmp_path: Path
) -> None:
    """Identities' ids come back as azure-native's outputs; an assignment gets a GUID name; a new role replaces it.

    The user-assigned identity's ids are flattened to the top level; the account's system-assigned identity
    comes back under ``identity`` with its principal and tenant ids (unknown in the preview, made by ARM).
    """
    emulator, url, login = entra
    program, state = identity_program(tmp_path), tmp_path / "dev.json"
    config = {"azure-openai:armEndpoint": url, "role": READER}
    planned = run_program("preview", program, state, config=config, entra=login)
    assert planned.outputs["account_principal_id"] == PREVIEW_UNKNOWN
    assert planned.outputs["principal_id"] == PREVIEW_UNKNOWN
    up = run_program("up", program, state, config=config, entra=login)
    out = up.outputs
    assert GUID.fullmatch(out["account_principal_id"])
    assert out["account_principal_id"] != out["principal_id"]
    assert out["account_tenant_id"] == login.tenant_id
    assert GUID.fullmatch(out["principal_id"])
    assert GUID.fullmatch(out["client_id"])
    assert GUID.fullmatch(out["assignment"])
    assert out["assigned_to"] == out["principal_id"]
    group_id = next(r["id"] for r in checkpoint.load(state).resources if r["type"].endswith("ResourceGroup"))
    assert out["scope"].lower() == group_id.lower()
    (held,) = held_assignments(emulator, out["principal_id"])
    assert held["roleDefinitionId"].endswith(READER)

    again = run_program("up", program, state, config=config, entra=login)
    assert {s.op for s in again.steps} == {"same"}

    changed = run_program("up", program, state, config={**config, "role": OWNER}, entra=login)
    assert [(s.name, s.op) for s in changed.steps if s.op != "same"] == [
        ("grant", "replace"),
        ("grant", "delete-replaced"),
    ]
    assert changed.outputs["assignment"] != out["assignment"]
    (held,) = held_assignments(emulator, out["principal_id"])
    assert held["roleDefinitionId"].endswith(OWNER)

    run_program("destroy", program, state, config=config, entra=login)
    assert held_assignments(emulator, out["principal_id"]) == []
    assert emulator.state().get("identities") == {}


def test_a_deployer_without_a_role_cannot_create_the_stack(
    entra: tuple[Emulator, str, EntraLogin], tmp_path: Path
) -> None:
    """ARM checks the harness's own calls too: a signed-in principal with no role is refused at the first PUT."""
    emulator, url, login = entra
    stranger = register_principal(url, "stranger")
    nobody = EntraLogin(
        stranger["tenant_id"],
        stranger["client_id"],
        stranger["client_secret"],
        stranger["object_id"],
        login.authority_host,
        login.ca_file,
    )
    with pytest.raises(HarnessError, match=rf"403 AuthorizationFailed: The client '{stranger['object_id']}'"):
        run_program(
            "up",
            identity_program(tmp_path),
            tmp_path / "dev.json",
            config={"azure-openai:armEndpoint": url, "role": READER},
            entra=nobody,
        )
    assert emulator.state()["resource_groups"] == {}


# --- --emulator: a keyless stack end to end, twice -------------------------------------------------------


def test_emulator_flag_runs_the_keyless_quickstart_and_an_up_after_destroy(tmp_path: Path) -> None:
    """`up --emulator` runs the keyless quickstart as a signed-in deployer; destroy then up succeeds.

    The deployer persists across commands (the stack's role assignment names a principal that still exists), and
    the up after the destroy makes a new account despite the soft-deleted one.
    """
    state = tmp_path / "dev.json"
    common = ("--state", str(state), "--emulator", "--config", "deployerPrincipalType=ServicePrincipal")
    first = harness_cli("up", str(QUICKSTART), *common)
    assert first.returncode == 0, first.stderr
    login = json.loads((tmp_path / "dev.json.emulator" / "deployer.json").read_text())
    held = json.loads((tmp_path / "dev.json.emulator" / "state.json").read_text())
    (account,) = held["accounts"].values()
    assert account["properties"]["disableLocalAuth"] is True
    contributor = [
        a["properties"]
        for a in held["role_assignments"].values()
        if a["properties"]["principalId"] == login["object_id"]
        and a["properties"]["roleDefinitionId"].endswith("a001fd3d-188f-4b5d-821b-7da978bf7442")
    ]
    assert [a["scope"].rsplit("/", 1)[1] for a in contributor] == [account["name"]]
    assert login["client_secret"] not in state.read_text()
    model = checkpoint.load(state).outputs["fine_tuned_model"]

    destroy = harness_cli("destroy", str(QUICKSTART), *common)
    assert destroy.returncode == 0, destroy.stderr
    second = harness_cli("up", str(QUICKSTART), *common)
    assert second.returncode == 0, second.stderr
    assert json.loads((tmp_path / "dev.json.emulator" / "deployer.json").read_text()) == login
    held = json.loads((tmp_path / "dev.json.emulator" / "state.json").read_text())
    assert account["name"].lower() in held["deleted_accounts"]
    (again,) = held["accounts"].values()
    assert again["name"] != account["name"]
    assert checkpoint.load(state).outputs["fine_tuned_model"] != model
