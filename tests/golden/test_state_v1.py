"""The state contract: a stack deployed by release 0.1.0 still refreshes, diffs, updates and destroys.

Every deployed stack holds ``__provider``, a dill pickle of ``pulumi_aoai_finetuning.resources.<module>.
<Class>Provider`` by reference; ``refresh`` and ``destroy`` unpickle it from the state without running the
program. ``state_v1.json`` was written by that release (see ``make_state_v1.py``) and is never regenerated:
these four import paths stay valid for good.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import pickletools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dill
import pytest

from aoai_emulator import create_emulator
from pulumi_aoai_finetuning import CheckpointCopy, Deployment, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.testing import FAST_POLLING, SECRET_CONFIG, DynamicPlugin, EngineReplay
from pulumi_aoai_finetuning.testing.engine import ResourceState

GOLDEN = json.loads(Path(__file__).with_name("state_v1.json").read_text())
BASE_URL = "{{emulator}}"
PROVIDER_PATHS = {
    "pulumi-python:dynamic/azure-openai:TrainingFile": "pulumi_aoai_finetuning.resources.training_file.TrainingFileProvider",
    "pulumi-python:dynamic/azure-openai:FineTuningJob": "pulumi_aoai_finetuning.resources.fine_tuning_job.FineTuningJobProvider",
    "pulumi-python:dynamic/azure-openai:CheckpointCopy": "pulumi_aoai_finetuning.resources.checkpoint_copy.CheckpointCopyProvider",
    "pulumi-python:dynamic/azure-openai:Deployment": "pulumi_aoai_finetuning.resources.deployment.DeploymentProvider",
}
CLASSES = {"file": TrainingFile, "job": FineTuningJob, "copy": CheckpointCopy, "dep": Deployment}
# What the program declared (the state's inputs also hold what check computed, such as the dataset's hash).
DECLARED = {
    "file": ("endpoint", "path"),
    "job": (
        "endpoint",
        "model",
        "training_file",
        "suffix",
        "hyperparameters",
        "quality_gate",
        "delete_model_on_destroy",
    ),
    "copy": ("endpoint", "job_id", "destination_account_id"),
    "dep": ("account_id", "deployment_name", "model", "capacity"),
}


def _pickled_global(blob: str) -> str:
    """The ``module.Class`` a ``__provider`` pickle refers to, read from its opcodes without importing it."""
    strings: list[str] = []
    for op, arg, _pos in pickletools.genops(base64.b64decode(blob)):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(str(arg))
        elif op.name == "STACK_GLOBAL":
            return ".".join(strings[-2:])
        elif op.name == "GLOBAL":
            return str(arg).replace(" ", ".")
    raise AssertionError("no class reference in the pickle: the provider was pickled by value")


def test_golden_state_pins_the_four_provider_import_paths() -> None:
    """Each ``__provider`` of the golden state names its class's import path, and that path still imports."""
    seen = {}
    for resource in GOLDEN["resources"]:
        blob = resource["outputs"]["__provider"]
        assert resource["inputs"]["__provider"] == blob
        seen[resource["type"]] = _pickled_global(blob)
    assert seen == PROVIDER_PATHS
    for path in PROVIDER_PATHS.values():
        module, _, name = path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        blob = next(r["outputs"]["__provider"] for r in GOLDEN["resources"] if PROVIDER_PATHS[r["type"]] == path)
        assert type(dill.loads(base64.b64decode(blob))) is cls  # noqa: S301 - our own fixture


@dataclass
class Golden:
    """The golden stack loaded onto a fresh emulator that holds the same remote objects."""

    engine: EngineReplay
    emulator: Any
    declared: dict[str, dict[str, Any]]


def _substitute(value: Any, url: str) -> Any:
    return json.loads(json.dumps(value).replace(BASE_URL, url))


@pytest.fixture
def golden(tmp_path: Path) -> Iterator[Golden]:
    # The emulator's own state file holds its accounts' keys: it lives outside the session's scanned artifacts.
    with tempfile.TemporaryDirectory(prefix="golden-emulator-") as emulator_dir:
        state_file = Path(emulator_dir) / "state.json"
        state_file.write_text(json.dumps(GOLDEN["emulator_state"]))
        blobs = Path(f"{state_file}.blobs")
        blobs.mkdir()
        for name, text in GOLDEN["emulator_blobs"].items():
            (blobs / name).write_text(text)
        for name, text in GOLDEN["project_files"].items():
            (tmp_path / name).write_text(text)
        emulator = create_emulator(state_file=state_file)
        try:
            url = emulator.serve().url
            account = emulator.state()["accounts"][GOLDEN["accounts"]["source"]]
            config = {
                "azure-openai:apiKey": account["keys"][0],
                "azure-openai:armEndpoint": url,
                "azure-openai:armToken": "emulator-arm-token",
                "azure-openai:apiVersion": GOLDEN["api_version"],
                **FAST_POLLING,
            }
            plugin = DynamicPlugin(config, secrets=set(SECRET_CONFIG), cwd=tmp_path)
            try:
                engine = EngineReplay(plugin)
                declared = {}
                for resource in _substitute(GOLDEN["resources"], url):
                    name = resource["name"]
                    engine.state[name] = ResourceState(
                        resource["type"], resource["id"], resource["inputs"], resource["outputs"]
                    )
                    declared[name] = {k: resource["inputs"][k] for k in DECLARED[name] if k in resource["inputs"]}
                yield Golden(engine, emulator, declared)
            finally:
                plugin.close()
        finally:
            emulator.close()


def test_golden_state_refreshes_with_todays_code(golden: Golden) -> None:
    """``pulumi refresh`` of every resource: Read unpickles the stored ``__provider`` and finds each object."""
    before = copy.deepcopy({n: s.outputs for n, s in golden.engine.state.items()})
    for name in CLASSES:
        assert golden.engine.refresh(name).op == "refresh", name
    after = {n: s.outputs for n, s in golden.engine.state.items()}
    assert after["file"]["status"] == "processed"
    assert after["job"]["status"] == "succeeded"
    assert after["job"]["fine_tuned_model"] == before["job"]["fine_tuned_model"]
    assert after["copy"]["status"] == "Completed"
    assert after["dep"]["provisioning_state"] == "Succeeded"
    for name in CLASSES:
        assert after[name]["__provider"] == before[name]["__provider"]


def test_golden_state_diffs_and_updates_with_todays_code(golden: Golden) -> None:
    """The same program is a no-op; a changed setting of each resource updates it in place."""
    engine = golden.engine
    for name, cls in CLASSES.items():
        assert engine.plan(name, cls, golden.declared[name]).op == "same", name
    assert engine.up("file", TrainingFile, {**golden.declared["file"], "timeout_minutes": 5}).op == "update"
    job = engine.up("job", FineTuningJob, {**golden.declared["job"], "quality_gate": {"max_train_loss": 4.0}})
    assert job.op == "update"
    assert job.state is not None
    assert job.state.outputs["status"] == "succeeded"
    assert engine.up("copy", CheckpointCopy, {**golden.declared["copy"], "timeout_minutes": 30}).op == "update"
    dep = engine.up("dep", Deployment, {**golden.declared["dep"], "capacity": 3})
    assert dep.op == "update"
    assert golden.emulator.state()["accounts"]["golden"]["deployments"]["golden"]["sku"]["capacity"] == 3


def test_golden_state_destroys_with_todays_code(golden: Golden) -> None:
    """``pulumi destroy`` from the stored state alone: the deployment, the job's model and the file go."""
    engine = golden.engine
    model = engine.state["job"].outputs["fine_tuned_model"]
    file_id = engine.state["file"].id
    for name in ("dep", "copy", "job", "file"):
        assert engine.destroy(name).op == "delete"
    account = golden.emulator.state()["accounts"]["golden"]
    assert account["deployments"] == {}
    assert file_id not in account["files"]
    assert model in account["deleted_models"]
