"""Two TrainingFiles of the same content in one account are two files: each resource uploads, keeps and deletes its own."""

from __future__ import annotations

from pathlib import Path

from aoai_emulator import Emulator
from pulumi_aoai_finetuning.testing import checkpoint
from pulumi_aoai_finetuning.testing.program import run_program
from tests.emulator.support import chat_dataset

TRAINING_FILE = "pulumi-python:dynamic/azure-openai:TrainingFile"
PROGRAM = """
import pulumi
from pulumi_azure_native import cognitiveservices, resources

from pulumi_aoai_finetuning import TrainingFile

group = resources.ResourceGroup("twins", location="eastus2")
account = cognitiveservices.Account(
    "twinsaoai",
    resource_group_name=group.name,
    location=group.location,
    kind="OpenAI",
    sku=cognitiveservices.SkuArgs(name="S0"),
    properties=cognitiveservices.AccountPropertiesArgs(public_network_access="Enabled"),
)
# The same dataset twice: the engine creates both at once, in one plugin.
first = TrainingFile("first", endpoint=account.properties.endpoint, path="train.jsonl")
second = TrainingFile("second", endpoint=account.properties.endpoint, path="train.jsonl")
"""


def test_two_resources_of_the_same_content_upload_two_files_in_parts_at_once(
    served: tuple[Emulator, str], tmp_path: Path
) -> None:
    """Both uploads go in parts, concurrently; each resource ends with its own file id, and destroy deletes both."""
    emulator, url = served
    program = tmp_path / "twins"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: twins\nruntime: python\n")
    (program / "__main__.py").write_text(PROGRAM)
    chat_dataset(program / "train.jsonl", 40)  # several parts of 1 KiB
    state = tmp_path / "dev.json"
    config = {"azure-openai:armEndpoint": url, "azure-openai:uploadPartSize": "1024"}

    run_program("up", program, state, config=config, secrets={"azure-openai:armToken": "arm-token"})

    files = {r["urn"].rsplit("::", 1)[1]: r for r in checkpoint.load(state).resources if r["type"] == TRAINING_FILE}
    ids = {name: r["outputs"]["file_id"] for name, r in files.items()}
    assert ids["first"] != ids["second"], ids
    (account,) = emulator.state()["accounts"].values()
    held = {f["id"]: f["filename"] for f in account["files"].values()}
    assert held == {ids[n]: files[n]["outputs"]["remote_filename"] for n in ids}
    assert len([r for r in emulator.requests() if r["method"] == "POST" and r["path"].endswith("/uploads")]) == 2

    run_program("destroy", program, state, config=config, secrets={"azure-openai:armToken": "arm-token"})
    deleted = {
        r["path"].rsplit("/", 1)[1] for r in emulator.requests() if r["method"] == "DELETE" and r["status"] == 200
    }
    assert set(ids.values()) <= deleted, "each resource deletes its own file"
