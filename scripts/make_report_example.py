"""Draw ``docs/report-example.png``: the ``aoai-ft report`` of a fine-tuning job trained on the local emulator.

The emulator runs in this process on a clock 600 times faster than real time, so its 20-minute job on the
example datasets of ``examples/data/`` trains in about two seconds; then ``aoai-ft report`` downloads the job's
``results.csv`` and checkpoints exactly as it would from Azure, prints its tables and draws the curves.

    .venv/bin/python scripts/make_report_example.py [--out docs/report-example.png]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from pulumi_aoai_finetuning.cli.main import main as aoai_ft
from pulumi_aoai_finetuning.client import ApiKeyAuth, DataPlaneClient
from pulumi_aoai_finetuning.testing import emulated_account

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data"
BASE_MODEL = "gpt-4o-mini-2024-07-18"
SEED = 20250131  # fixed ids and metrics: the picture changes only when the code that draws it does
TIME_SCALE = 600.0
TIMEOUT_S = 60.0


def wait(what: str, fetch: Callable[[], dict[str, Any]], status: str, timeout: float = TIMEOUT_S) -> None:
    """Poll ``fetch()`` until the object it returns has ``status``."""
    deadline = time.monotonic() + timeout
    while fetch()["status"] != status:
        if time.monotonic() > deadline:
            raise SystemExit(f"make_report_example: {what} did not happen within {timeout:g} s")
        time.sleep(0.05)


def main() -> int:
    """Train a job on the emulator and run ``aoai-ft report --out`` on it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report-example.png", help="where to draw")
    args = parser.parse_args()
    with emulated_account("aoai-ft-example", seed=SEED, clock="time", time_scale=TIME_SCALE) as account:
        client = DataPlaneClient(account.endpoint, ApiKeyAuth(account.key))
        try:
            files = {}
            for role, name in (("training_file", "training.jsonl"), ("validation_file", "validation.jsonl")):
                file_id = client.upload_file(DATA / name, name, "fine-tune")["id"]
                wait(f"processing of {name}", functools.partial(client.get_file, file_id), "processed")
                files[role] = file_id
            job = client.create_job(
                {"model": BASE_MODEL, **files, "suffix": "support", "seed": 7, "hyperparameters": {"n_epochs": 3}}
            )
            print(f"job {job['id']} training on the emulator ...")
            wait("training", functools.partial(client.get_job, job["id"]), "succeeded")
        finally:
            client.close()
        # The CLI reads the key from the environment, as it does for a real account.
        os.environ["AZURE_OPENAI_API_KEY"] = account.key
        return aoai_ft(
            ["report", job["id"], "--endpoint", account.endpoint, "--out", str(args.out)],
            console=Console(width=120),
        )


if __name__ == "__main__":
    sys.exit(main())
