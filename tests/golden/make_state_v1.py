"""How ``state_v1.json`` was written: a stack deployed by release 0.1.0 (commit 6fdb5ba), frozen for good.

Run once, with the code of that commit, never again: the file is the record of what stacks deployed by that
release hold (the ``__provider`` pickles, the inputs and outputs, the emulator's own state with the remote
objects they name). ``test_state_v1.py`` loads it with today's code. Kept so a reader can see how it was made;
a later state (``state_v2.json``) gets its own script and its own file, and this one stays.

    .venv/bin/python -m tests.golden.make_state_v1 tests/golden/state_v1.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aoai_emulator import create_emulator
from pulumi_aoai_finetuning import CheckpointCopy, Deployment, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.client import ApiKeyAuth, DataPlaneClient
from pulumi_aoai_finetuning.testing import SECRET_CONFIG, DynamicPlugin, EngineReplay
from pulumi_aoai_finetuning.testing.emulator import EmulatedAccount
from tests.emulator.support import chat_dataset

BASE_URL = "{{emulator}}"  # the emulator's URL, different on every run; substituted when the state is loaded
API_VERSION = "2025-04-01-preview"
MODEL = "gpt-4o-mini-2024-07-18"


def _account(emulator: Any, url: str, name: str, location: str) -> EmulatedAccount:
    info = emulator.seed_account(name, location)
    return EmulatedAccount(emulator, name, info["endpoint"], info["keys"][0], info["id"], location, url)


def main(out: Path) -> None:
    """Deploy one resource of each kind on the emulator and write the stack's state and the emulator's."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as work:
        workdir = Path(work)
        state_file = workdir / "emulator.state.json"
        emulator = create_emulator(state_file=state_file, seed=2026)
        try:
            url = emulator.serve().url
            source = _account(emulator, url, "golden", "eastus2")
            dest = _account(emulator, url, "goldendest", "swedencentral")
            dataset = chat_dataset(workdir / "train.jsonl", 12)
            dataset_text = dataset.read_text()
            # A copy needs a destination that has run a fine-tuning job of its own.
            client = DataPlaneClient(dest.endpoint, ApiKeyAuth(dest.key), api_version=API_VERSION)
            uploaded = client.upload_file(dataset, "dest.jsonl", "fine-tune")
            while client.get_file(uploaded["id"])["status"] != "processed":
                time.sleep(0.01)
            client.create_job({"model": MODEL, "training_file": uploaded["id"]})
            client.close()
            plugin = DynamicPlugin(
                source.stack_config(**{"azure-openai:apiVersion": API_VERSION}), secrets=set(SECRET_CONFIG), cwd=workdir
            )
            try:
                engine = EngineReplay(plugin)
                file = engine.up("file", TrainingFile, {"endpoint": source.endpoint, "path": "train.jsonl"})
                assert file.state is not None
                job_inputs = {
                    "endpoint": source.endpoint,
                    "model": MODEL,
                    "training_file": file.state.id,
                    "suffix": "golden",
                    "hyperparameters": {"n_epochs": 2},
                    "quality_gate": {"max_train_loss": 5.0},
                    "delete_model_on_destroy": True,
                }
                job = engine.up("job", FineTuningJob, job_inputs)
                assert job.state is not None
                model = job.state.outputs["fine_tuned_model"]
                copy_inputs = {"endpoint": source.endpoint, "job_id": job.state.id, "destination_account_id": dest.id}
                engine.up("copy", CheckpointCopy, copy_inputs)
                dep_inputs = {"account_id": source.id, "deployment_name": "golden", "model": model, "capacity": 2}
                engine.up("dep", Deployment, dep_inputs)
                resources = [
                    {"name": name, "type": s.type, "id": s.id, "inputs": s.inputs, "outputs": s.outputs}
                    for name, s in engine.state.items()
                ]
            finally:
                plugin.close()
            emulator.service.store.save(emulator.service.now())
            blobs = {p.name: p.read_text() for p in sorted(Path(f"{state_file}.blobs").iterdir())}
            emulator_state = json.loads(state_file.read_text())
        finally:
            emulator.close()
    text = json.dumps(
        {
            "written_by": f"pulumi-aoai-finetuning 0.1.0, commit {commit}",
            "api_version": API_VERSION,
            "accounts": {"source": "golden", "destination": "goldendest"},
            "resources": resources,
            "emulator_state": emulator_state,
            "emulator_blobs": blobs,
            "project_files": {"train.jsonl": dataset_text},
        },
        indent=1,
        sort_keys=True,
    )
    out.write_text(text.replace(url, BASE_URL) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
