"""A stack's config file, ``Pulumi.<stack>.yaml``, read and written as ``pulumi config`` does.

Plain values are stored as given; ``pulumi config set --secret`` values as ``{secure: v1:...}``, encrypted
by the passphrase secrets manager (:mod:`~pulumi_aoai_finetuning.testing.passphrase`) whose salt state is the
file's ``encryptionsalt``. So one file serves the harness and the CLI: either can read what the other wrote,
given the same ``PULUMI_CONFIG_PASSPHRASE``. Comments in the file are not kept when the harness writes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from .passphrase import PassphraseCrypter, PassphraseError, passphrase_from, require_passphrase


class StackConfigError(Exception):
    """A config file that cannot be read, or a secret that cannot be decrypted; the message names the file."""


@dataclass
class StackConfig:
    """The contents of one ``Pulumi.<stack>.yaml``: its ``encryptionsalt`` and its ``config`` map."""

    path: Path
    encryptionsalt: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    other: dict[str, Any] = field(default_factory=dict)  # other top-level keys (environment, ...), kept as read

    @classmethod
    def load(cls, path: Path) -> StackConfig:
        """Read the file; a missing one is an empty config."""
        if not path.is_file():
            return cls(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise StackConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("config") or {}, dict):
            raise StackConfigError(f"{path}: expected a mapping with a `config:` mapping, as `pulumi config` writes")
        salt = data.pop("encryptionsalt", None)
        config = dict(data.pop("config", None) or {})
        return cls(path, salt, config, data)

    def crypter(self, environ: Mapping[str, str] | None = None, *, create: bool = False) -> PassphraseCrypter | None:
        """The stack's crypter from the passphrase in the environment; None when there is no passphrase to use.

        ``create`` makes a salt for a file that has none (the first ``config set --secret``), and then a
        passphrase is required.
        """
        try:
            phrase = require_passphrase(environ) if create else passphrase_from(environ)
            if phrase is None:
                return None
            if self.encryptionsalt is None:
                if not create:
                    return None
                crypter = PassphraseCrypter.create(phrase)
                self.encryptionsalt = crypter.state()
                return crypter
            return PassphraseCrypter.from_state(self.encryptionsalt, phrase)
        except PassphraseError as exc:
            raise StackConfigError(f"{self.path}: {exc}") from None

    def values(
        self, qualify: Callable[[str], str], crypter: PassphraseCrypter | None
    ) -> tuple[dict[str, str], set[str]]:
        """The values as the engine hands them over (strings; objects as JSON) and the keys stored ``secure``.

        Secure values are decrypted when there is a crypter, and left out otherwise.
        """
        values: dict[str, str] = {}
        secure: set[str] = set()
        for key, value in self.config.items():
            name = qualify(str(key))
            if isinstance(value, dict) and set(value) == {"secure"}:
                secure.add(name)
                if crypter is not None:
                    try:
                        values[name] = crypter.decrypt(str(value["secure"]))
                    except PassphraseError as exc:
                        raise StackConfigError(f"{self.path}: {key}: {exc}") from None
            elif isinstance(value, str):
                values[name] = value
            else:
                values[name] = json.dumps(value)  # the engine hands structured config over as JSON text
        return values, secure

    def set(self, key: str, value: str, *, secret: bool = False, environ: Mapping[str, str] | None = None) -> None:
        """``pulumi config set [--secret] KEY VALUE``: a secret is stored encrypted, never in plaintext."""
        if secret:
            crypter = self.crypter(environ, create=True)
            assert crypter is not None  # create=True either makes one or raises
            self.config[key] = {"secure": crypter.encrypt(value)}
        else:
            self.config[key] = value

    def save(self) -> None:
        """Write the file: ``encryptionsalt`` first, then ``config``, as the CLI orders them."""
        data: dict[str, Any] = {}
        if self.encryptionsalt is not None:
            data["encryptionsalt"] = self.encryptionsalt
        data.update(self.other)
        data["config"] = self.config
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
