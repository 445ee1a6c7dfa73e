"""Test-wide setup: the secrets ledger watches every run of the session for leaked keys and tokens."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests import secrets_ledger


def pytest_configure(config: pytest.Config) -> None:
    """Install the ledger before any test creates an emulator, a plugin or a harness state."""
    secrets_ledger.install()


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_artifact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the session, scan every artifact for every secret used: any hit is a failure."""
    yield
    tally = secrets_ledger.LEDGER.scan(tmp_path_factory.getbasetemp())
    report = os.environ.get("AOAI_SECRETS_REPORT")
    if report:
        with open(report, "w") as out:
            json.dump(tally, out, indent=1)
    assert tally["hits"] == [], f"secrets found in artifacts: {tally['hits']}"
