"""Identifiers in Azure's formats (``file-<32 hex>``, ``ftjob-<32 hex>``, ...), reproducible from a seed."""

from __future__ import annotations

import hashlib
import secrets


class IdFactory:
    """Makes ids from a seed and a counter, so a seeded emulator gives the same ids run after run."""

    def __init__(self, seed: int | None = None, counter: int = 0) -> None:
        self.seed = secrets.randbits(64) if seed is None else seed
        self.counter = counter

    def hex32(self) -> str:
        """A fresh 32-character lowercase hex string."""
        self.counter += 1
        return hashlib.sha256(f"{self.seed}:{self.counter}".encode()).hexdigest()[:32]

    def new(self, prefix: str) -> str:
        """A fresh id such as ``file-<32 hex>``, as Azure makes them."""
        return f"{prefix}-{self.hex32()}"


def derived(prefix: str, *parts: object) -> str:
    """A stable id derived from other ids (events and checkpoints of a job), the same on every read."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"{prefix}-{digest}"


def new_api_key() -> str:
    """A new account key: 32 hex characters like Azure's, never derived from the seed."""
    return secrets.token_hex(16)
