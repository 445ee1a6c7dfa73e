"""Fixtures of the program-harness tests: a served emulator and a harness stack of ``tests/programs/tiny``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aoai_emulator import Emulator, create_emulator
from tests.test_program_harness import TINY, Stack


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    """A fresh emulator on loopback and its URL."""
    emulator = create_emulator(seed=4343)
    server = emulator.serve()
    try:
        yield emulator, server.url
    finally:
        emulator.close()


@pytest.fixture
def tiny(served: tuple[Emulator, str], tmp_path: Path) -> Stack:
    """The tiny program's `dev` stack against the served emulator, its state in ``state/dev.json``."""
    return Stack(served[0], served[1], TINY, tmp_path / "state" / "dev.json")
