"""The emulator as a separate process for benchmarks, so its work never counts against the client measured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

BIN = Path(sys.executable).parent / "aoai-emulator"


@contextmanager
def emulator_process(*args: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Start ``aoai-emulator`` with one account; yield its URL and the account (endpoint, keys)."""
    process = subprocess.Popen(
        [str(BIN), "--port", "0", "--account", "bench", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        account = httpx2.get(f"{url}/_emulator/accounts").json()["accounts"][0]
        yield url, account
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()
