"""The emulator's token-signing key: RS256 JWTs it issues as Entra ID and verifies wherever a token arrives."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from . import errors


def b64(data: bytes) -> str:
    """Base64url without padding, as JWTs use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    """The bytes of a base64url text with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """The emulator's token-signing key (RSA 2048, made on first use)."""

    def __init__(self) -> None:
        self._key: rsa.RSAPrivateKey | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> rsa.RSAPrivateKey:
        """The private key."""
        with self._lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    @property
    def kid(self) -> str:
        """The key id tokens name in their header."""
        numbers = self.key.public_key().public_numbers()
        return hashlib.sha256(str(numbers.n).encode()).hexdigest()[:16]

    def jwk(self) -> dict[str, str]:
        """The public key as a JWK."""
        numbers = self.key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64(numbers.e.to_bytes(3, "big")),
        }

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact RS256 JWT of ``claims``."""
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64(signature)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this signer made and that is untampered; None for any other token.

        A token that names this signer's key id but does not verify raises: it is a forgery, not a stranger.
        """
        parts = token.split(".")
        if len(parts) != 3 or self._key is None:
            return None
        try:
            header = json.loads(unb64(parts[0]))
        except ValueError:
            return None
        if not isinstance(header, dict) or header.get("kid") != self.kid:
            return None
        try:
            self.key.public_key().verify(
                unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            raise errors.access_denied() from None
        claims: dict[str, Any] = json.loads(unb64(parts[1]))
        return claims
