"""The emulator as a test fixture: a served account and the stack config that points providers at it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aoai_emulator import Emulator, create_emulator

FAST_POLLING = {"azure-openai:pollIntervalSeconds": "0.01", "azure-openai:pollMaxSeconds": "0.05"}
ARM_TOKEN = "emulator-arm-token"  # noqa: S105 - not a secret: the emulator accepts any opaque bearer token
SECRET_CONFIG = frozenset({"azure-openai:apiKey", "azure-openai:apiKeys", "azure-openai:armToken"})


@dataclass
class EmulatedAccount:
    """An account on a running emulator, with the stack config and secret keys a plugin needs."""

    emulator: Emulator
    name: str
    endpoint: str
    key: str
    id: str
    location: str
    arm_endpoint: str

    def stack_config(self, **extra: str) -> dict[str, str]:
        """Stack config (namespaced, as the engine sends it) for providers talking to this account and ARM."""
        return {
            "azure-openai:apiKey": self.key,
            "azure-openai:armEndpoint": self.arm_endpoint,
            "azure-openai:armToken": ARM_TOKEN,
            **FAST_POLLING,
            **extra,
        }

    def another(self, name: str, location: str) -> EmulatedAccount:
        """A second ready account on the same emulator (another region, for copies and cross-account deploys)."""
        info = self.emulator.seed_account(name, location)
        return EmulatedAccount(
            self.emulator, name, info["endpoint"], info["keys"][0], info["id"], location, self.arm_endpoint
        )

    def requests(self, mutating: bool = False) -> list[dict[str, Any]]:
        """The requests the emulator served (only POST/PUT/PATCH/DELETE if ``mutating``)."""
        reqs = self.emulator.requests()
        return [r for r in reqs if r["method"] in ("POST", "PUT", "PATCH", "DELETE")] if mutating else reqs

    def objects(self, kind: str) -> dict[str, Any]:
        """The account's ``files``, ``jobs`` or ``deployments`` as the emulator holds them."""
        found: dict[str, Any] = self.emulator.state()["accounts"][self.name.lower()][kind]
        return found


@contextmanager
def emulated_account(name: str = "aoai", location: str = "eastus2", **options: Any) -> Iterator[EmulatedAccount]:
    """Serve an emulator on loopback with one ready account; ``options`` go to ``create_emulator``."""
    emulator = create_emulator(**options)
    try:
        server = emulator.serve()
        info = emulator.seed_account(name, location)
        yield EmulatedAccount(emulator, name, info["endpoint"], info["keys"][0], info["id"], location, server.url)
    finally:
        emulator.close()


@contextmanager
def private_emulator(directory: Path) -> Iterator[str]:
    """Serve an emulator for one harness command, its state kept in ``directory``; yields its URL.

    The next command on the same stack gets the same accounts, files and jobs back, on the same port:
    endpoints in the stack's state embed the port, so it is remembered and asked for again.
    """
    with served_private_emulator(directory) as (url, _emulator):
        yield url


@contextmanager
def served_private_emulator(directory: Path) -> Iterator[tuple[str, Emulator]]:
    """:func:`private_emulator`, yielding the emulator too (its Entra ID signs the deployer in)."""
    directory.mkdir(parents=True, exist_ok=True)
    port_file = directory / "port.json"
    port = int(json.loads(port_file.read_text())["port"]) if port_file.is_file() else 0
    emulator = create_emulator(state_file=directory / "state.json")
    try:
        try:
            server = emulator.serve(port=port)
        except OSError as exc:
            raise OSError(
                f"the private emulator of this stack cannot listen on port {port} again ({exc}); "
                f"stop what uses it, or delete {directory} to start from an empty emulator"
            ) from None
        port_file.write_text(json.dumps({"port": int(server.url.rsplit(":", 1)[1])}) + "\n")
        yield server.url, emulator
    finally:
        emulator.close()
