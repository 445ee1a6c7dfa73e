"""Shared helpers of the emulator tests: datasets, the emulator as a real process, ARM calls and credentials."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aoai_emulator import Emulator, create_emulator

SUB = "11111111-2222-3333-4444-555555555555"
ARM_HEADERS = {"Authorization": "Bearer emulator-test-token"}
ACCOUNT_API = "2025-06-01"
GROUP_API = "2024-03-01"
AUTHORIZATION_API = "2022-04-01"
AZURE_AI_USER = "53ca6127-db72-4b80-b1b0-d745d6d5456d"  # built-in role id (learn.microsoft.com, "Azure built-in roles")
EMULATOR_BIN = Path(sys.executable).parent / "aoai-emulator"


def chat_dataset(path: Path, examples: int = 12) -> Path:
    """Write a valid chat-format JSONL file of ``examples`` examples."""
    with path.open("w") as out:
        for i in range(examples):
            messages = [
                {"role": "system", "content": "You answer arithmetic tersely."},
                {"role": "user", "content": f"What is {i} + 1?"},
                {"role": "assistant", "content": str(i + 1)},
            ]
            out.write(json.dumps({"messages": messages}) + "\n")
    return path


@dataclass
class RunningCli:
    """An ``aoai-emulator`` process and what it printed on start."""

    process: subprocess.Popen[str]
    url: str
    extra: list[str]

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        """Call the admin API."""
        verify = kwargs.pop("verify", True)
        with httpx2.Client(base_url=self.url, verify=verify, timeout=30) as client:
            return client.request(method, f"/_emulator{path}", **kwargs)


@contextmanager
def run_cli(*args: str, lines: int = 1) -> Iterator[RunningCli]:
    """Start ``aoai-emulator`` with ``args``; yields once its URL (and ``lines - 1`` more lines) are printed."""
    process = subprocess.Popen([str(EMULATOR_BIN), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline().strip() for _ in range(lines)]
        if not printed[0]:
            raise RuntimeError(
                f"aoai-emulator printed nothing; stderr: {process.stderr.read() if process.stderr else ''}"
            )
        yield RunningCli(process, printed[0], printed[1:])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def served_module_emulator(seed: int, group: str | None = None) -> tuple[Any, Any]:
    """The module-scoped fixtures ``emulator`` (served, immediate clock, ``seed``) and ``http`` (a client of it).

    Assign both in a test module (``emulator, http = served_module_emulator(41)``); ``group`` is created first.
    """

    @pytest.fixture(scope="module", name="emulator")
    def emulator_fixture() -> Iterator[Emulator]:
        emu = create_emulator(clock="immediate", seed=seed)
        emu.serve()
        try:
            yield emu
        finally:
            emu.close()

    @pytest.fixture(scope="module", name="http")
    def http_fixture(emulator: Emulator) -> Iterator[httpx2.Client]:
        with httpx2.Client(base_url=emulator._servers[0].url, timeout=30) as client:
            if group is not None:
                arm_group(client, group)
            yield client

    return emulator_fixture, http_fixture


def arm_group(client: httpx2.Client, group: str, location: str = "eastus2") -> None:
    """Create a resource group through ARM."""
    response = client.put(
        f"/subscriptions/{SUB}/resourcegroups/{group}",
        params={"api-version": GROUP_API},
        json={"location": location},
        headers=ARM_HEADERS,
    )
    assert response.status_code in (200, 201), response.text


def account_path(group: str, name: str) -> str:
    """The ARM path of an account."""
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{name}"


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class StaticTokenCredential:
    """A TokenCredential for ARM clients: the emulator accepts any opaque bearer token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """Return a token that expires in an hour."""
        from azure.core.credentials import AccessToken

        return AccessToken("emulator-opaque-token", int(time.time()) + 3600)


def grant_copy(client: httpx2.Client, source_id: str, dest_id: str, scope: str | None = None) -> str:
    """Let the account ``source_id`` copy checkpoints into ``dest_id``, as Azure requires, through ARM only.

    Gives the source a system-assigned identity (kept if it has one) and assigns that identity *Azure AI User* at
    ``scope`` (the destination account unless given, e.g. its resource group). Returns the identity's principal id.
    """
    sub = source_id.split("/")[2]
    patched = client.patch(
        source_id,
        params={"api-version": ACCOUNT_API},
        json={"identity": {"type": "SystemAssigned"}},
        headers=ARM_HEADERS,
    )
    assert patched.status_code == 200, patched.text
    principal = str(patched.json()["identity"]["principalId"])
    assigned = client.put(
        f"{scope or dest_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
        params={"api-version": AUTHORIZATION_API},
        json={
            "properties": {
                "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{AZURE_AI_USER}",
                "principalId": principal,
                "principalType": "ServicePrincipal",
            }
        },
        headers=ARM_HEADERS,
    )
    assert assigned.status_code in (200, 201), assigned.text
    return principal


def allow_copy(arm_url: str, source_id: str, dest_id: str) -> str:
    """:func:`grant_copy` through the emulator's ARM at ``arm_url`` (e.g. an ``EmulatedAccount``'s ``arm_endpoint``)."""
    with httpx2.Client(base_url=arm_url, timeout=30) as client:
        return grant_copy(client, source_id, dest_id)
