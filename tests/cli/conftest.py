"""Fixtures of the ``aoai-ft`` tests: emulated accounts served on loopback, jobs on them, the CLI as a process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pulumi_aoai_finetuning import datasets
from pulumi_aoai_finetuning.client import ApiKeyAuth, DataPlaneClient
from pulumi_aoai_finetuning.testing import EmulatedAccount, emulated_account
from tests.emulator.support import chat_dataset

AOAI_FT = Path(sys.executable).parent / "aoai-ft"
BASE_MODEL = "gpt-4o-mini-2024-07-18"
WIDTH = 100
# 12 examples, batch 1, 3 epochs: 36 steps, a metrics event every 3 steps, checkpoints at steps 12, 24 and 36.
HYPERPARAMETERS = {"n_epochs": 3, "batch_size": 1}
TOTAL_STEPS = 36
# The `time` clock at 100x: 300 emulator seconds of training end in 3 wall seconds.
FAST = {
    "clock": "time",
    "time_scale": 100.0,
    "timings": {"file_processing": 0, "job_validation": 5, "job_training": 300},
}
# Real time and an hour of training: a job that is still running whenever a test looks.
SLOW = {
    "clock": "time",
    "time_scale": 1.0,
    "timings": {"file_processing": 0, "job_validation": 0, "job_training": 3600},
}
POLLING = ["--poll-interval", "0.1", "--poll-max", "0.3"]


@pytest.fixture(autouse=True)
def dataset_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private verdict cache, so no test reads or writes the user's (in this process or a child)."""
    cache = tmp_path / "verdict-cache"
    monkeypatch.setenv("AOAI_FT_CACHE_DIR", str(cache))
    datasets._MEMORY.clear()
    yield cache
    datasets._MEMORY.clear()


@contextmanager
def client_for(account: EmulatedAccount) -> Iterator[DataPlaneClient]:
    """A data-plane client for the account, keyed, closed on exit."""
    client = DataPlaneClient(account.endpoint, ApiKeyAuth(account.key))
    try:
        yield client
    finally:
        client.close()


def start_job(account: EmulatedAccount, folder: Path, *, validation: bool = True, seed: int = 7) -> str:
    """Upload a training (and validation) file, wait until processed, submit a job; returns its id."""
    folder.mkdir(parents=True, exist_ok=True)
    with client_for(account) as client:
        uploaded = []
        for name in ("train.jsonl", "valid.jsonl") if validation else ("train.jsonl",):
            path = chat_dataset(folder / name, 12)
            file = client.upload_file(path, name, "fine-tune")
            deadline = time.monotonic() + 10
            while file["status"] != "processed":
                assert time.monotonic() < deadline, f"file {file['id']} not processed: {file}"
                time.sleep(0.02)
                file = client.get_file(file["id"])
            uploaded.append(file["id"])
        body: dict[str, Any] = {
            "model": BASE_MODEL,
            "training_file": uploaded[0],
            "suffix": "cli",
            "seed": seed,
            "hyperparameters": HYPERPARAMETERS,
        }
        if validation:
            body["validation_file"] = uploaded[1]
        return str(client.create_job(body)["id"])


def wait_for_status(account: EmulatedAccount, job_id: str, statuses: set[str], timeout: float = 20) -> dict[str, Any]:
    """Poll the job until its status is one of ``statuses``."""
    with client_for(account) as client:
        deadline = time.monotonic() + timeout
        while True:
            job = client.get_job(job_id)
            if job["status"] in statuses:
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout} s"
            time.sleep(0.05)


def cli_env(account: EmulatedAccount | None = None, **extra: str) -> dict[str, str]:
    """The environment of an ``aoai-ft`` process: the account's key, a fixed terminal width, no colours."""
    env = {k: v for k, v in os.environ.items() if k not in ("AZURE_OPENAI_API_KEY", "FORCE_COLOR", "NO_COLOR")}
    env["COLUMNS"] = str(WIDTH)
    env["TERM"] = "dumb"
    if account is not None:
        env["AZURE_OPENAI_API_KEY"] = account.key
    env.update(extra)
    return env


def run_cli(
    *args: str, env: Mapping[str, str], timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``aoai-ft`` to completion and capture its output."""
    return subprocess.run(
        [str(AOAI_FT), *args], env=dict(env), capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd
    )


@pytest.fixture
def fast_account() -> Iterator[EmulatedAccount]:
    """An account whose jobs train in about three wall seconds."""
    with emulated_account("clifast", seed=61, **FAST) as account:
        yield account


@pytest.fixture
def slow_account() -> Iterator[EmulatedAccount]:
    """An account whose jobs run for an hour: they are still running whenever a test looks."""
    with emulated_account("clislow", seed=62, **SLOW) as account:
        yield account


@pytest.fixture(scope="session")
def finished_job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatedAccount, str]]:
    """A job that has succeeded, with validation data, on an account served for the whole session."""
    with emulated_account("clidone", seed=63, **FAST) as account:
        job_id = start_job(account, tmp_path_factory.mktemp("finished-job"))
        wait_for_status(account, job_id, {"succeeded"})
        yield account, job_id
