"""What the harness keeps of a stack between commands: each resource's record and the state file.

Secret values never reach the file in plaintext: a secret property is sealed (kept as its SHA-256 only),
unless the stack has a passphrase, whose crypter then encrypts it as the CLI does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi.runtime import rpc

from ..inputs import plain
from . import checkpoint
from .results import HarnessError

PROVIDER_KEY = "__provider"
_SEALED = checkpoint.SEAL_KEY


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {_SEALED}


def _seal(value: Any) -> dict[str, str]:
    """What the state keeps of a secret value: its hash, enough to notice a change, useless to a reader."""
    return value if _is_sealed(value) else {_SEALED: _digest(plain(value))}


def _reveal(value: Any) -> tuple[Any, bool]:
    """Strip the SDK's secret wrappers, as the engine does for a provider that does not accept secrets."""
    if rpc.is_rpc_secret(value):
        return _reveal(value["value"])[0], True
    if isinstance(value, dict):
        items = {k: _reveal(v) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(s for _, s in items.values())
    if isinstance(value, list):
        pairs = [_reveal(v) for v in value]
        return [v for v, _ in pairs], any(s for _, s in pairs)
    return value, False


@dataclass
class _Res:
    """What the engine keeps of one resource."""

    urn: str
    type: str
    custom: bool
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    secret_keys: list[str] = field(default_factory=list)  # top-level properties that are secret
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    pending_delete: bool = False  # the old half of a replacement that a failed run did not delete yet
    custom_timeouts: dict[str, float] = field(default_factory=dict)  # seconds, as the engine stores them
    additional_secret_outputs: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The logical name."""
        return self.urn.rsplit("::", 1)[-1]

    def to_json(self, *, seal: bool = True) -> dict[str, Any]:
        """The state file's record; secret properties are sealed (``__provider`` holds none, by design).

        ``seal=False`` keeps them, for a state whose secrets the passphrase encrypts.
        """
        sealed = set(self.secret_keys) - {PROVIDER_KEY} if seal else set()
        return {
            "urn": self.urn,
            "type": self.type,
            "custom": self.custom,
            "id": self.id,
            "inputs": {k: _seal(v) if k in sealed else v for k, v in self.inputs.items()},
            "outputs": {k: _seal(v) if k in sealed else v for k, v in self.outputs.items()},
            "parent": self.parent,
            "dependencies": self.dependencies,
            "secret_keys": sorted(self.secret_keys),
            "protect": self.protect,
            "retain_on_delete": self.retain_on_delete,
            "delete_before_replace": self.delete_before_replace,
            "pending_delete": self.pending_delete,
            "custom_timeouts": self.custom_timeouts,
            "additional_secret_outputs": self.additional_secret_outputs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _Res:
        """Read a record back."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def unsealed(self, values: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with each sealed secret replaced by the new value when that value hashes the same."""
        out = dict(values)
        for key in self.secret_keys:
            if _is_sealed(out.get(key)) and key in news and _seal(news[key]) == out[key]:
                out[key] = news[key]
        return out


@dataclass
class _State:
    project: str
    stack: str
    resources: list[_Res] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: list[str] = field(default_factory=list)
    pending_operations: list[dict[str, Any]] = field(default_factory=list)  # {"type": ..., "resource": record}
    # The stack's passphrase crypter: secrets are then encrypted in the state, as the CLI's, instead of sealed.
    crypter: checkpoint.Crypter | None = None

    @classmethod
    def load(cls, path: Path, project: str, stack: str, crypter: checkpoint.Crypter | None = None) -> _State:
        """The stack's state file, in the CLI's deployment format or the harness's older one."""
        try:
            data = checkpoint.load(path, crypter)
        except checkpoint.StateFormatError as exc:
            raise HarnessError(str(exc)) from None
        if data.stack is not None and (data.project, data.stack) != (project, stack):
            raise HarnessError(f"{path} holds the state of {data.project}/{data.stack}, not {project}/{stack}")
        return cls(
            project,
            stack,
            [_Res.from_json(r) for r in data.resources],
            data.outputs,
            data.secret_outputs,
            data.pending_operations,
            crypter,
        )

    def save(self, path: Path) -> None:
        """Write the state as ``pulumi stack export`` would (secrets sealed)."""
        seal = self.crypter is None
        data = checkpoint.StackState(
            self.project,
            self.stack,
            [r.to_json(seal=seal) for r in self.resources],
            {k: _seal(v) if seal and k in self.secret_outputs else v for k, v in self.outputs.items()},
            sorted(self.secret_outputs),
            self.pending_operations,
            secrets_provider=None if self.crypter is None else checkpoint.secrets_provider(self.crypter),
        )
        checkpoint.save(path, data, self.crypter)
