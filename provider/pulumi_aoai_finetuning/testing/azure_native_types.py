"""The azure-native resource types beyond the group and the account that the program harness serves over ARM.

``azure-native:managedidentity:UserAssignedIdentity`` and ``azure-native:authorization:RoleAssignment`` are
served by the ARM endpoint as pulumi-azure-native 3.x serves them: the REST API version its SDK names
(2023-01-31 and 2022-04-01), the body it sends (inputs other than the path parameters go under
``properties``), and the outputs its SDK reads, with the resource's ``properties`` flattened to the top level
as azure-native flattens them (``principalId``, ``clientId``, ``tenantId``; ``roleDefinitionId``, ``scope``, ...).
The Python SDK ships no resource metadata (path, flattening, auto-naming live in the provider binary), so each
type is described here by hand from its SDK module, one small table each.

Auto-naming follows azure-native: an identity without ``resource_name`` gets the logical name plus a random
suffix; a role assignment without ``role_assignment_name`` gets a random GUID (ARM requires the name to be a
GUID). Either is chosen once and kept in the inputs, so the next ``up`` does not replace the resource.

``random:index/randomString:RandomString`` (pulumi-random) is served locally, as its provider does: the string
is made at create and kept in the state; any input change replaces it. The examples use it to give each
incarnation of a stack account names that never collide with a soft-deleted account.
"""

from __future__ import annotations

import secrets as random_source
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..inputs import is_unknown, plain

IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
RANDOM_STRING = "random:index/randomString:RandomString"
IDENTITY_API = "2023-01-31"  # what pulumi-azure-native 3.x uses for user-assigned identities
ROLE_ASSIGNMENT_API = "2022-04-01"  # ... and for role assignments


def random_suffix(logical: str) -> str:
    """azure-native's default name: the logical name and 8 random lowercase letters and digits."""
    alphabet = string.ascii_lowercase + string.digits
    return logical + "".join(random_source.choice(alphabet) for _ in range(8))


def random_guid(_logical: str) -> str:
    """A role assignment's default name: a random GUID, as azure-native makes it."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class ArmType:
    """How one azure-native resource type maps to ARM: path, body, outputs, names and replacements."""

    token: str
    api_version: str
    name_key: str  # the input holding the resource name (auto-named when missing)
    path: Callable[[str, Mapping[str, Any]], str]  # (subscription, checked inputs) -> ARM id
    top_level: tuple[str, ...]  # inputs sent at the top of the body; every other non-path input goes in properties
    path_inputs: tuple[str, ...]  # inputs that are path parameters, not part of the body
    outputs: tuple[str, ...]  # top-level keys of the ARM response the SDK reads
    computed: tuple[str, ...]  # outputs only ARM knows: unknown in a preview until created
    replace_on: tuple[str, ...]
    autoname: Callable[[str], str] = random_suffix
    required: tuple[tuple[str, str], ...] = ()  # (input, the fix) the type cannot do without
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def body(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The PUT body azure-native sends for these inputs."""
        body: dict[str, Any] = {}
        properties: dict[str, Any] = {}
        for key, value in inputs.items():
            if value is None or key in self.path_inputs or key == self.name_key:
                continue
            (body if key in self.top_level else properties)[key] = plain(value)
        if properties:
            body["properties"] = properties
        return body

    def shape(self, response: Mapping[str, Any]) -> dict[str, Any]:
        """The ARM response as the SDK expects the outputs: ``properties`` flattened, then the top-level keys."""
        out: dict[str, Any] = {k: v for k, v in (response.get("properties") or {}).items() if v is not None}
        out.update({k: response[k] for k in self.outputs if response.get(k) is not None})
        out["azureApiVersion"] = self.api_version
        return out

    def check(self, checked: dict[str, Any], location: Any) -> list[tuple[str, str]]:
        """Fill defaults (the location from stack config for located types); the failures, as the SDK names them."""
        for key, value in self.defaults.items():
            checked.setdefault(key, value)
        if "location" in self.top_level and checked.get("location") is None and location is not None:
            checked["location"] = location
        return [(key, fix) for key, fix in self.required if checked.get(key) is None]

    def preview(
        self, checked: Mapping[str, Any], old_outputs: Mapping[str, Any] | None, unknown: Any
    ) -> dict[str, Any]:
        """A preview's outputs: the inputs the SDK reads back, old outputs where kept, computed ones unknown."""
        out: dict[str, Any] = dict(old_outputs) if old_outputs else {"azureApiVersion": self.api_version}
        out["name"] = checked[self.name_key]
        for key, value in checked.items():
            if key not in ("resourceGroupName", self.name_key):  # what the SDK reads back as outputs
                out[key] = value
        if not old_outputs:
            for key in self.computed:
                out[key] = unknown
        return out


def _group(sub: str, inputs: Mapping[str, Any]) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{inputs['resourceGroupName']}"


TYPES: dict[str, ArmType] = {
    IDENTITY: ArmType(
        IDENTITY,
        IDENTITY_API,
        "resourceName",
        lambda sub, i: (
            f"{_group(sub, i)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{i['resourceName']}"
        ),
        top_level=("location", "tags"),
        path_inputs=("resourceGroupName",),
        outputs=("location", "name", "systemData", "tags", "type"),
        computed=("clientId", "principalId", "tenantId", "type", "systemData"),
        replace_on=("resourceName", "resourceGroupName", "location"),
        required=(("resourceGroupName", "resource_group_name is required"),),
    ),
    ROLE_ASSIGNMENT: ArmType(
        ROLE_ASSIGNMENT,
        ROLE_ASSIGNMENT_API,
        "roleAssignmentName",
        lambda _sub, i: (
            f"{str(i['scope']).rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{i['roleAssignmentName']}"
        ),
        top_level=(),
        path_inputs=("scope",),  # a path parameter; ARM reports it back as properties.scope
        outputs=("name", "systemData", "type"),
        computed=("createdBy", "createdOn", "updatedBy", "updatedOn", "type", "systemData"),
        # Azure refuses to change an assignment's principal, role or scope in place (RoleAssignmentUpdateNotPermitted).
        replace_on=(
            "roleAssignmentName",
            "scope",
            "principalId",
            "principalType",
            "roleDefinitionId",
            "condition",
            "conditionVersion",
            "delegatedManagedIdentityResourceId",
        ),
        autoname=random_guid,
        required=(
            ("principalId", "principal_id is required: the object id of the user, group or service principal"),
            (
                "roleDefinitionId",
                "role_definition_id is required: /subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<role guid>",
            ),
            ("scope", "scope is required: the ARM id the role applies to"),
        ),
        defaults={"principalType": "User"},  # the SDK's own default when principal_type is not given
    ),
}


def arm_identity(identity: Any) -> Any:
    """An Account's ``identity`` input as ARM takes it: azure-native lists user-assigned ids, ARM keys them."""
    if not isinstance(identity, Mapping) or is_unknown(identity):
        return identity
    users = identity.get("userAssignedIdentities")
    if isinstance(users, list):
        return {**identity, "userAssignedIdentities": {str(rid): {} for rid in users}}
    return identity


# --- random:index/randomString:RandomString ------------------------------------------------------------------

RANDOM_REPLACE_ON = (
    "length",
    "keepers",
    "lower",
    "upper",
    "numeric",
    "number",
    "special",
    "minLower",
    "minUpper",
    "minNumeric",
    "minSpecial",
    "overrideSpecial",
)
_SPECIAL = "!@#$%&*()-_=+[]{}<>:?"


def random_string(inputs: Mapping[str, Any]) -> str:
    """A string as pulumi-random's RandomString makes it from these inputs (each character class enabled by default)."""
    length = int(inputs["length"])
    classes: list[tuple[str, int]] = []
    numeric = inputs.get("numeric", inputs.get("number", True))
    for enabled, chars, minimum in (
        (inputs.get("lower", True), string.ascii_lowercase, inputs.get("minLower", 0)),
        (inputs.get("upper", True), string.ascii_uppercase, inputs.get("minUpper", 0)),
        (numeric, string.digits, inputs.get("minNumeric", 0)),
        (inputs.get("special", True), inputs.get("overrideSpecial") or _SPECIAL, inputs.get("minSpecial", 0)),
    ):
        if enabled:
            classes.append((str(chars), int(minimum or 0)))
    if not classes:
        raise ValueError("RandomString: every character class is disabled; enable lower, upper, numeric or special")
    chosen = [random_source.choice(chars) for chars, minimum in classes for _ in range(minimum)]
    pool = "".join(chars for chars, _ in classes)
    chosen += [random_source.choice(pool) for _ in range(max(0, length - len(chosen)))]
    # Shuffle so the required characters are not always first (SystemRandom: no predictable order either).
    random_source.SystemRandom().shuffle(chosen)
    return "".join(chosen)


def random_check(news: Mapping[str, Any]) -> list[tuple[str, str]]:
    """RandomString's check failures."""
    length = news.get("length")
    if length is None:
        return [("length", "length is required: the number of characters, at least 1")]
    if not is_unknown(length) and int(length) < 1:
        return [("length", f"length must be at least 1, not {length}")]
    return []


def random_outputs(inputs: Mapping[str, Any], result: Any) -> dict[str, Any]:
    """RandomString's outputs: its inputs and the ``result``."""
    return {**{k: plain(v) for k, v in inputs.items()}, "result": result}


# --- what the harness's azure-native provider asks of this module ------------------------------------------

SERVED = frozenset({*TYPES, RANDOM_STRING})
NAME_KEY = {token: spec.name_key for token, spec in TYPES.items()}
REPLACE_ON: dict[str, tuple[str, ...]] = {
    **{token: spec.replace_on for token, spec in TYPES.items()},
    RANDOM_STRING: RANDOM_REPLACE_ON,
}


def check(
    token: str,
    logical: str,
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    *,
    config: Callable[[str], str | None],
    group_location: Callable[[Any], Any],
) -> dict[str, Any]:
    """Check one of these types: defaults and auto-names filled (an earlier run's name kept); raise on failures.

    A located type without ``location`` takes ``azure-native:location``, else its resource group's, as
    azure-native does.
    """
    from .engine import CheckFailed  # noqa: PLC0415 - engine starts grpc; imported where a check runs

    checked = dict(news)
    if token == RANDOM_STRING:
        failures = random_check(checked)
    else:
        spec = TYPES[token]
        if checked.get(spec.name_key) is None:
            checked[spec.name_key] = olds.get(spec.name_key) or spec.autoname(logical)
        location = None
        if "location" in spec.top_level and checked.get("location") is None:
            location = config("azure-native:location") or group_location(checked.get("resourceGroupName"))
        failures = spec.check(checked, location)
    if failures:
        raise CheckFailed(failures)
    return checked


def arm_body(body: dict[str, Any]) -> dict[str, Any]:
    """A resource group's or account's PUT body with azure-native's input shapes turned into ARM's."""
    if "identity" in body:
        body["identity"] = arm_identity(body["identity"])
    return body


def random_put(checked: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Create a RandomString: its id is the string itself, as pulumi-random's is."""
    result = random_string(checked)
    return result, random_outputs(checked, result)


def preview(
    token: str, checked: Mapping[str, Any], old_outputs: Mapping[str, Any] | None, unknown: Any
) -> dict[str, Any]:
    """A preview's outputs for one of these types."""
    if token == RANDOM_STRING:
        return random_outputs(checked, old_outputs["result"] if old_outputs else unknown)
    return TYPES[token].preview(checked, old_outputs, unknown)


def local_auth_disabled(account_outputs: Mapping[str, Any]) -> bool:
    """True for an account whose keys Azure refuses (``disableLocalAuth``): no key to list, Entra ID only."""
    props = account_outputs.get("properties")
    return isinstance(props, Mapping) and props.get("disableLocalAuth") is True
