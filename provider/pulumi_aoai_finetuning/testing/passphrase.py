"""The Pulumi CLI's passphrase secrets manager: AES-256-GCM under a key derived from a passphrase.

As ``sdk/go/common/resource/config/crypt.go`` and ``pkg/secrets/passphrase/manager.go`` in pulumi/pulumi do:
the key is PBKDF2-HMAC-SHA256 of the passphrase over the stack's 8-byte salt, 1,000,000 rounds, 32 bytes; a
value encrypts to ``v1:<base64 nonce>:<base64 ciphertext and tag>`` with a random 12-byte nonce; the stack's
``encryptionsalt`` is ``v1:<base64 salt>:`` followed by the encryption of ``pulumi``, which tells a wrong
passphrase from a right one. The passphrase comes from ``PULUMI_CONFIG_PASSPHRASE``, else from the file
``PULUMI_CONFIG_PASSPHRASE_FILE`` names (surrounding whitespace trimmed); an empty passphrase is valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets as random_source
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROUNDS = 1_000_000
KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 8
CHECK_MESSAGE = "pulumi"  # what the salt state's ciphertext must decrypt to under the right passphrase
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"  # noqa: S105 - the variable's name, not a passphrase
PASSPHRASE_FILE_ENV = "PULUMI_CONFIG_PASSPHRASE_FILE"  # noqa: S105 - a variable name


class PassphraseError(Exception):
    """No passphrase, a wrong one, or a value or salt state that is not the secrets manager's format."""


def passphrase_from(environ: Mapping[str, str] | None = None) -> str | None:
    """The passphrase as the CLI finds it without a terminal; None when neither variable is set."""
    environ = os.environ if environ is None else environ
    if PASSPHRASE_ENV in environ:
        return environ[PASSPHRASE_ENV]
    name = environ.get(PASSPHRASE_FILE_ENV)
    if name:
        try:
            return Path(name).resolve().read_text().strip()
        except OSError as exc:
            raise PassphraseError(f"unable to read {PASSPHRASE_FILE_ENV} ({name}): {exc.strerror}") from None
    return None


def require_passphrase(environ: Mapping[str, str] | None = None) -> str:
    """The passphrase, or the CLI's error when none is set."""
    phrase = passphrase_from(environ)
    if phrase is None:
        raise PassphraseError(
            f"passphrase must be set with {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV} environment variables"
        )
    return phrase


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PassphraseError(f"bad value: {what} is not base64") from None


class PassphraseCrypter:
    """Encrypts and decrypts stack secrets (config values, state secrets) as the CLI's passphrase manager does."""

    def __init__(self, passphrase: str, salt: bytes) -> None:
        self.salt = salt
        self._aead = AESGCM(hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, ROUNDS, KEY_BYTES))
        self._state: str | None = None

    def encrypt(self, plaintext: str) -> str:
        """``v1:<nonce>:<ciphertext>``, a fresh random nonce each time."""
        nonce = random_source.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), None)
        return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext of a ``v1:...`` value; PassphraseError when it is malformed or was not made with this key."""
        parts = ciphertext.split(":")
        if len(parts) != 3:
            raise PassphraseError("bad value: expected v1:<nonce>:<ciphertext>")
        if parts[0] != "v1":
            raise PassphraseError("unknown value version")
        nonce, sealed = _b64(parts[1], "the nonce"), _b64(parts[2], "the ciphertext")
        if len(nonce) != NONCE_BYTES:
            raise PassphraseError("bad value: nonce size is incorrect")
        try:
            return self._aead.decrypt(nonce, sealed, None).decode()
        except InvalidTag:
            raise PassphraseError("incorrect passphrase") from None

    def state(self) -> str:
        """The ``encryptionsalt`` that lets the CLI (and the harness) check a passphrase for this key (made once)."""
        if self._state is None:
            self._state = f"v1:{base64.b64encode(self.salt).decode()}:{self.encrypt(CHECK_MESSAGE)}"
        return self._state

    @classmethod
    def create(cls, passphrase: str) -> PassphraseCrypter:
        """A crypter with a new random salt, as ``pulumi stack init`` makes for a passphrase stack."""
        return cls(passphrase, random_source.token_bytes(SALT_BYTES))

    @classmethod
    def from_state(cls, state: str, passphrase: str) -> PassphraseCrypter:
        """The crypter of an ``encryptionsalt``; PassphraseError("incorrect passphrase") for the wrong one."""
        version, sep, rest = state.partition(":")
        salt_text, sep2, check = rest.partition(":")
        if version != "v1" or not sep or not sep2:
            raise PassphraseError("bad salt state: expected v1:<salt>:v1:<nonce>:<ciphertext>")
        crypter = cls(passphrase, _b64(salt_text, "the salt"))
        try:
            message = crypter.decrypt(check)
        except PassphraseError:
            message = None
        if message != CHECK_MESSAGE:
            raise PassphraseError(
                f"incorrect passphrase, please set {PASSPHRASE_ENV} to the correct passphrase or set "
                f"{PASSPHRASE_FILE_ENV} to a file containing the passphrase"
            )
        crypter._state = state
        return crypter
