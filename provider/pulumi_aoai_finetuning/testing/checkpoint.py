"""The program harness's state file in the Pulumi CLI's own format: ``pulumi stack export``'s deployment v3.

The file is what ``pulumi stack export`` prints and ``pulumi stack import --file`` reads: ``{"version": 3,
"deployment": {"manifest", "secrets_providers", "resources", "pending_operations"}}``. Its resources are the
root stack (holding the stack outputs), one default provider per package (``pulumi:providers:pulumi-python``,
``pulumi:providers:azure-native``) and the program's resources, each referring to its provider as
``<provider urn>::<provider id>``, as the engine writes them.

The harness itself works on flat *records* (the format its state files had before, ``version: 1``):
:func:`to_deployment` and :func:`from_deployment` convert between the two, and :func:`load` reads either
format, so a state file written by an older harness keeps working (it is rewritten in this format on the
next save).

Secret values. A record holds a secret either in plaintext (when a :class:`Crypter` can encrypt it) or as its
SHA-256 only (``{"[secret sha256]": ...}``, the harness's seal). In the deployment both become the engine's
secret objects (``{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": ...}``):
real ciphertext from the crypter, or :data:`SEALED_PREFIX` and the hash, which no secrets manager can decrypt
(so such a state moves to the CLI only once its secrets were written with a passphrase).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import msgspec

DEPLOYMENT_VERSION = 3
SIG_KEY = "4dabf18193072939515e22adb298388d"  # the engine's special-object signature key
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105  # the signature of a secret, not one
SEAL_KEY = "[secret sha256]"  # a record's sealed secret: its hash only
SEALED_PREFIX = "aoai-harness-sha256:"  # ciphertext of a sealed secret: not decryptable, by design
STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_TYPE_PREFIX = "pulumi:providers:"
DYNAMIC_PACKAGE = "pulumi-python"
HARNESS_VERSION = "aoai-harness"  # the manifest's engine version: the CLI checks only its magic against it
PENDING_TYPES = ("creating", "updating", "deleting", "reading")


class Crypter(Protocol):
    """Encrypts and decrypts the JSON text of secret values, as a Pulumi secrets manager does."""

    def encrypt(self, plaintext: str) -> str:
        """The ciphertext of ``plaintext``."""
        ...

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext of ``ciphertext``."""
        ...


class _Opaque:
    """A crypter for readers that only look: secrets it cannot decrypt read as sealed, never as an error."""

    def encrypt(self, plaintext: str) -> str:
        """Refused: a reader never writes."""
        raise ValueError("the opaque crypter only reads")

    def decrypt(self, ciphertext: str) -> str:
        """The sealed form: the value is secret and unknown to this reader."""
        return json.dumps({SEAL_KEY: "encrypted"})


OPAQUE: Crypter = _Opaque()  # pass to load() to read a state without its passphrase (secrets come back sealed)


class StateFormatError(Exception):
    """A state file that is neither a deployment v3 nor an older harness state file."""


@dataclass
class StackState:
    """A stack's state as the harness uses it: flat resource records, stack outputs, pending operations."""

    project: str | None
    stack: str | None
    resources: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: list[str] = field(default_factory=list)
    pending_operations: list[dict[str, Any]] = field(default_factory=list)  # {"type": ..., "resource": record}
    secrets_provider: dict[str, Any] | None = None


def secrets_provider(crypter: Crypter) -> dict[str, Any]:
    """The deployment's ``secrets_providers`` for a passphrase crypter: the CLI's ``{"salt": <encryptionsalt>}``."""
    state = getattr(crypter, "state", None)
    if state is None:
        raise ValueError("only a passphrase crypter (with a salt state) can be recorded as the secrets provider")
    return {"type": "passphrase", "state": {"salt": state()}}


def stack_urn(stack: str, project: str) -> str:
    """The root stack resource's URN, as the engine names it."""
    return f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"


def package_of(res_type: str) -> str:
    """The package (provider plugin) a resource type belongs to: ``pulumi-python`` for dynamic resources."""
    return res_type.split(":", 1)[0]


def provider_reference(stack: str, project: str, package: str) -> tuple[str, str]:
    """The default provider's URN and id; the id is derived from them, so every save writes the same one."""
    urn = f"urn:pulumi:{stack}::{project}::{PROVIDER_TYPE_PREFIX}{package}::default"
    return urn, str(uuid.uuid5(uuid.NAMESPACE_URL, urn))


def _parse_urn(urn: str) -> tuple[str, str]:
    """The stack and project a URN names."""
    parts = urn.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        raise StateFormatError(f"{urn!r} is not a Pulumi URN (urn:pulumi:STACK::PROJECT::TYPE::NAME)")
    return parts[0][len("urn:pulumi:") :], parts[1]


def _secret_object(value: Any, crypter: Crypter | None) -> dict[str, str]:
    if isinstance(value, dict) and set(value) == {SEAL_KEY}:
        ciphertext = SEALED_PREFIX + str(value[SEAL_KEY])
    elif crypter is None:
        raise ValueError("a plaintext secret needs a crypter to be written")  # the caller seals first
    else:
        ciphertext = crypter.encrypt(json.dumps(value))
    return {SIG_KEY: SECRET_SIG, "ciphertext": ciphertext}


def _is_secret_object(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def _open_secret(value: Mapping[str, Any], crypter: Crypter | None, where: str) -> Any:
    if "plaintext" in value:
        return json.loads(value["plaintext"])
    ciphertext = str(value.get("ciphertext", ""))
    if ciphertext.startswith(SEALED_PREFIX):
        return {SEAL_KEY: ciphertext[len(SEALED_PREFIX) :]}
    if crypter is None:
        raise StateFormatError(
            f"{where} is encrypted by a secrets manager: set PULUMI_CONFIG_PASSPHRASE (or "
            "PULUMI_CONFIG_PASSPHRASE_FILE) to the stack's passphrase"
        )
    return json.loads(crypter.decrypt(ciphertext))


def _properties_out(values: Mapping[str, Any], secret: set[str], crypter: Crypter | None) -> dict[str, Any]:
    return {k: _secret_object(v, crypter) if k in secret else v for k, v in values.items()}


def _properties_in(
    values: Mapping[str, Any] | None, crypter: Crypter | None, where: str
) -> tuple[dict[str, Any], set[str]]:
    out: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in (values or {}).items():
        if _is_secret_object(value):
            out[key] = _open_secret(value, crypter, f"{where}.{key}")
            secret.add(key)
        else:
            out[key] = value
    return out, secret


def resource_v3(record: Mapping[str, Any], provider: str | None, crypter: Crypter | None) -> dict[str, Any]:
    """One harness record as the engine's ``ResourceV3`` (optional fields left out when unset, as the CLI does)."""
    secret = set(record.get("secret_keys") or []) - {"__provider"}
    res: dict[str, Any] = {"urn": record["urn"], "custom": bool(record.get("custom"))}
    if record.get("pending_delete"):
        res["delete"] = True
    if record.get("id"):
        res["id"] = record["id"]
    res["type"] = record["type"]
    res["inputs"] = _properties_out(record.get("inputs") or {}, secret, crypter)
    res["outputs"] = _properties_out(record.get("outputs") or {}, secret, crypter)
    if record.get("parent"):
        res["parent"] = record["parent"]
    if record.get("protect"):
        res["protect"] = True
    if record.get("dependencies"):
        res["dependencies"] = list(record["dependencies"])
    if provider is not None:
        res["provider"] = provider
    if record.get("pending_replacement"):
        res["pendingReplacement"] = True
    extra = sorted(set(record.get("additional_secret_outputs") or []))
    if extra:
        res["additionalSecretOutputs"] = extra
    if record.get("aliases"):
        res["aliases"] = list(record["aliases"])
    if record.get("custom_timeouts"):
        res["customTimeouts"] = dict(record["custom_timeouts"])
    if record.get("retain_on_delete"):
        res["retainOnDelete"] = True  # the Go ResourceV3 has it, though the published schema does not list it
    return res


def record_of(res: Mapping[str, Any], crypter: Crypter | None) -> dict[str, Any]:
    """One ``ResourceV3`` as a harness record; secret objects become plaintext (with a crypter) or seals."""
    urn = str(res.get("urn", ""))
    inputs, secret_in = _properties_in(res.get("inputs"), crypter, f"{urn} inputs")
    outputs, secret_out = _properties_in(res.get("outputs"), crypter, f"{urn} outputs")
    record: dict[str, Any] = {
        "urn": urn,
        "type": res.get("type", ""),
        "custom": bool(res.get("custom")),
        "id": res.get("id", ""),
        "inputs": inputs,
        "outputs": outputs,
        "parent": res.get("parent", ""),
        "dependencies": list(res.get("dependencies") or []),
        "secret_keys": sorted(secret_in | secret_out),
        "protect": bool(res.get("protect")),
        "retain_on_delete": bool(res.get("retainOnDelete")),
        "pending_delete": bool(res.get("delete")),
        "pending_replacement": bool(res.get("pendingReplacement")),
        "additional_secret_outputs": list(res.get("additionalSecretOutputs") or []),
        "aliases": list(res.get("aliases") or []),
        "custom_timeouts": dict(res.get("customTimeouts") or {}),
    }
    return record


def to_deployment(state: StackState, crypter: Crypter | None = None) -> dict[str, Any]:
    """The stack as ``pulumi stack export`` prints it (an ``UntypedDeployment`` of version 3)."""
    if state.project is None or state.stack is None:
        raise ValueError("a deployment needs the stack's project and name")
    stack, project = state.stack, state.project
    root = stack_urn(stack, project)
    resources: list[dict[str, Any]] = []
    providers: dict[str, str] = {}

    def provider_for(res_type: str) -> str:
        package = package_of(res_type)
        if package not in providers:
            urn, pid = provider_reference(stack, project, package)
            providers[package] = f"{urn}::{pid}"
            resources.append({"urn": urn, "custom": True, "id": pid, "type": f"{PROVIDER_TYPE_PREFIX}{package}"})
        return providers[package]

    if state.resources or state.outputs:
        secret = set(state.secret_outputs)
        resources.append(
            {
                "urn": root,
                "custom": False,
                "type": STACK_TYPE,
                "outputs": _properties_out(state.outputs, secret, crypter),
            }
        )
    for record in state.resources:
        provider = provider_for(record["type"]) if record.get("custom") else None
        resources.append(resource_v3(record, provider, crypter))
    pending = []
    for op in state.pending_operations:
        record = op["resource"]
        provider = provider_for(record["type"]) if record.get("custom") else None
        pending.append({"resource": resource_v3(record, provider, crypter), "type": op["type"]})
    deployment: dict[str, Any] = {
        "manifest": {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            # The CLI's integrity check: the magic is the SHA-256 of the version (deploy.Manifest.NewMagic).
            "magic": hashlib.sha256(HARNESS_VERSION.encode()).hexdigest(),
            "version": HARNESS_VERSION,
        },
    }
    if state.secrets_provider is not None:
        deployment["secrets_providers"] = state.secrets_provider
    deployment["resources"] = resources
    if pending:
        deployment["pending_operations"] = pending
    return {"version": DEPLOYMENT_VERSION, "deployment": deployment}


def from_deployment(data: Mapping[str, Any], crypter: Crypter | None = None) -> StackState:
    """A deployment v3 (``pulumi stack export``) as the harness's records: stack and providers left out."""
    if data.get("version") != DEPLOYMENT_VERSION or not isinstance(data.get("deployment"), Mapping):
        raise StateFormatError(
            f"a deployment of version {DEPLOYMENT_VERSION} is needed, not version {data.get('version')!r}: "
            "export it with a Pulumi CLI of 3.x (`pulumi stack export`)"
        )
    deployment = data["deployment"]
    state = StackState(None, None, secrets_provider=deployment.get("secrets_providers"))
    for res in deployment.get("resources") or []:
        res_type = str(res.get("type", ""))
        if state.stack is None and res.get("urn"):
            state.stack, state.project = _parse_urn(str(res["urn"]))
        if res_type == STACK_TYPE and not res.get("parent"):
            state.outputs, secret = _properties_in(res.get("outputs"), crypter, f"{res['urn']} outputs")
            state.secret_outputs = sorted(secret)
        elif not res_type.startswith(PROVIDER_TYPE_PREFIX):
            state.resources.append(record_of(res, crypter))
    for op in deployment.get("pending_operations") or []:
        if op.get("type") not in PENDING_TYPES:
            raise StateFormatError(f"pending operation of type {op.get('type')!r}: one of {PENDING_TYPES} expected")
        state.pending_operations.append({"type": op["type"], "resource": record_of(op["resource"], crypter)})
        if state.stack is None:
            state.stack, state.project = _parse_urn(str(op["resource"]["urn"]))
    return state


def _from_version_1(data: Mapping[str, Any]) -> StackState:
    """A state file of the harness before it wrote deployments (``version: 1``): records already."""
    return StackState(
        data.get("project"),
        data.get("stack"),
        [dict(r) for r in data.get("resources") or []],
        dict(data.get("outputs") or {}),
        list(data.get("secret_outputs") or []),
    )


def parse(data: Mapping[str, Any], crypter: Crypter | None = None, where: str = "state") -> StackState:
    """A state file's JSON in either format: a deployment v3, or the harness's older ``version: 1`` records."""
    if "deployment" in data:
        return from_deployment(data, crypter)
    if data.get("version") == 1 and "resources" in data:
        return _from_version_1(data)
    raise StateFormatError(
        f"{where}: neither a Pulumi deployment (`pulumi stack export`) nor a harness state file "
        f"(found keys {sorted(data)[:6]})"
    )


def load(path: Path, crypter: Crypter | None = None) -> StackState:
    """Read a state file of either format; a missing file is an empty stack."""
    if not path.is_file():
        return StackState(None, None)
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise StateFormatError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise StateFormatError(f"{path}: a JSON object is needed")
    return parse(data, crypter, str(path))


def save(path: Path, state: StackState, crypter: Crypter | None = None) -> None:
    """Write the deployment atomically: a crash never leaves half a state file."""
    # msgspec's C encoder: the stdlib's is pure Python as soon as it indents (a whole-state write per ``up``).
    text = msgspec.json.format(msgspec.json.encode(to_deployment(state, crypter), enc_hook=str), indent=4) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(text)
    tmp.replace(path)


def records_by_urn(records: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Records keyed by URN, for tests and tools that look resources up."""
    return {str(r["urn"]): r for r in records}
