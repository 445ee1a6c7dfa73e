"""The harness keeps a stack's state as the Pulumi CLI does: a deployment of version 3 (``pulumi stack export``).

Each state file is validated against the deployment schema published in the pulumi/pulumi repository
(vendored in ``pulumi_schema/``); older harness state files (``version: 1``) still load, and ``aoai-ft
--stack`` reads the outputs of either.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pulumi_aoai_finetuning.cli.connection import CliError, stack_outputs
from pulumi_aoai_finetuning.testing import checkpoint
from tests.harness.schema import schema_errors
from tests.test_program_harness import ARM_TOKEN, TYPES, Stack

PROVIDERS = {"pulumi:providers:pulumi-python", "pulumi:providers:azure-native"}


def test_an_up_writes_a_deployment_that_validates_against_pulumis_schema(tiny: Stack) -> None:
    """The state after `up`: the stack, one default provider per package, each resource pointing at its provider."""
    tiny.run("up")
    document = json.loads(tiny.state.read_text())
    assert schema_errors(document) == []
    assert document["version"] == 3
    resources = document["deployment"]["resources"]
    stack, *rest = resources
    assert stack["urn"] == "urn:pulumi:dev::tiny-finetune::pulumi:pulumi:Stack::tiny-finetune-dev"
    assert stack["custom"] is False
    assert set(stack["outputs"]) >= MODEL_KEYS
    providers = {f"{r['urn']}::{r['id']}": r for r in rest if r["type"] in PROVIDERS}
    assert {r["type"] for r in providers.values()} == PROVIDERS
    program = [r for r in rest if r["type"] not in PROVIDERS]
    assert sorted(r["urn"].rsplit("::", 1)[1] for r in program) == sorted(TYPES)
    position = {r["urn"]: i for i, r in enumerate(resources)}
    for res in program:
        assert res["custom"] is True
        assert res["id"]
        assert res["type"] == TYPES[res["urn"].rsplit("::", 1)[1]]
        assert res["parent"] == stack["urn"]
        provider = providers[res["provider"]]
        assert provider["type"].rsplit(":", 1)[1] == res["type"].split(":", 1)[0]
        # The engine writes a provider, and each dependency, before the resources that use them.
        assert position[provider["urn"]] < position[res["urn"]]
        assert all(position[dep] < position[res["urn"]] for dep in res.get("dependencies", []))
    assert "pending_operations" not in document["deployment"]


MODEL_KEYS = {"endpoint", "fine_tuned_model"}


def test_the_schema_check_rejects_what_the_cli_would_reject(tiny: Stack) -> None:
    """The validation can fail: an unknown pending-operation type, and a secret without its ciphertext."""
    tiny.run("up")
    document = json.loads(tiny.state.read_text())
    job = next(r for r in document["deployment"]["resources"] if r["type"] == TYPES["job"])
    broken = json.loads(json.dumps(document))
    broken["deployment"]["pending_operations"] = [{"type": "frobbing", "resource": job}]
    assert any("frobbing" in e for e in schema_errors(broken))
    broken = json.loads(json.dumps(document))
    broken["deployment"]["resources"][-1]["outputs"]["x"] = {checkpoint.SIG_KEY: checkpoint.SECRET_SIG}
    assert schema_errors(broken)


def test_secrets_are_engine_secret_objects_and_never_plaintext(tiny: Stack, tmp_path: Path) -> None:
    """A secret input and a secret stack output are the engine's secret objects; their values appear nowhere."""
    program = tmp_path / "program"
    shutil.copytree(tiny.program, program)
    main = program / "__main__.py"
    source = main.read_text().replace('path="train.jsonl")', 'path=pulumi.Output.secret("train.jsonl"))')
    main.write_text(source + 'pulumi.export("note", pulumi.Output.secret("a-secret-note-value"))\n')
    tiny.program = program
    tiny.run("up")
    text = tiny.state.read_text()
    assert ARM_TOKEN not in text
    assert "a-secret-note-value" not in text
    document = json.loads(text)
    assert schema_errors(document) == []
    resources = {r["urn"].rsplit("::", 1)[1]: r for r in document["deployment"]["resources"]}
    for value in (resources["train"]["inputs"]["path"], resources["tiny-finetune-dev"]["outputs"]["note"]):
        assert set(value) == {checkpoint.SIG_KEY, "ciphertext"}
        assert value[checkpoint.SIG_KEY] == checkpoint.SECRET_SIG
        assert "train.jsonl" not in value["ciphertext"]
    assert checkpoint.load(tiny.state).secret_outputs == ["note"]


def _as_version_1(state: checkpoint.StackState) -> dict[str, Any]:
    """The state file an older harness wrote for the same stack."""
    return {
        "version": 1,
        "project": state.project,
        "stack": state.stack,
        "resources": state.resources,
        "outputs": state.outputs,
        "secret_outputs": state.secret_outputs,
    }


def test_an_older_harness_state_file_is_read_and_rewritten_as_a_deployment(tiny: Stack) -> None:
    """A `version: 1` state file: the next `up` finds every resource unchanged, calls nothing, writes version 3."""
    first = tiny.run("up")
    before = checkpoint.load(tiny.state)
    tiny.state.write_text(json.dumps(_as_version_1(before)))
    assert checkpoint.load(tiny.state).resources == before.resources
    mark = tiny.mark()
    again = tiny.run("up")
    assert set(again.ops().values()) == {"same"}
    assert tiny.mutations(mark) == []
    assert again.outputs == first.outputs
    document = json.loads(tiny.state.read_text())
    assert document["version"] == 3
    assert schema_errors(document) == []


def test_a_state_file_of_another_stack_is_refused_naming_both(tiny: Stack) -> None:
    """The stack and project come from the URNs: a state file of `prod` does not serve `dev`."""
    tiny.run("up")
    prod = Stack(tiny.emulator, tiny.url, tiny.program, tiny.state, name="prod")
    with pytest.raises(Exception, match=r"holds the state of tiny-finetune/dev, not tiny-finetune/prod"):
        prod.run("preview")


def test_a_deployment_round_trips_through_the_harness_records() -> None:
    """A deployment as the CLI exports it (stack, provider, resource, pending create) reads and writes back."""
    root = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
    provider_urn, provider_id = checkpoint.provider_reference("dev", "proj", "pulumi-python")
    res_type = "pulumi-python:dynamic/azure-openai:TrainingFile"
    urn = f"urn:pulumi:dev::proj::{res_type}::train"
    secret = {checkpoint.SIG_KEY: checkpoint.SECRET_SIG, "ciphertext": checkpoint.SEALED_PREFIX + "ab" * 32}
    resource = {
        "urn": urn,
        "custom": True,
        "id": "file-1",
        "type": res_type,
        "inputs": {"path": "a.jsonl", "token": secret},
        "outputs": {"file_id": "file-1", "token": secret},
        "parent": root,
        "protect": True,
        "provider": f"{provider_urn}::{provider_id}",
    }
    # A pending create has no id yet: the CLI leaves the field out (omitempty).
    pending = {k: v for k, v in resource.items() if k != "id"} | {
        "urn": urn.replace("::train", "::other"),
        "outputs": {},
    }
    exported = {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-01-01T00:00:00+00:00", "magic": "", "version": "v3.200.0"},
            "resources": [
                {"urn": root, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": {"file": "file-1"}},
                {"urn": provider_urn, "custom": True, "id": provider_id, "type": "pulumi:providers:pulumi-python"},
                resource,
            ],
            "pending_operations": [{"resource": pending, "type": "creating"}],
        },
    }
    assert schema_errors(exported) == []
    state = checkpoint.from_deployment(exported)
    assert (state.project, state.stack, state.outputs) == ("proj", "dev", {"file": "file-1"})
    (record,) = state.resources
    assert record["secret_keys"] == ["token"]
    assert record["inputs"]["token"] == {checkpoint.SEAL_KEY: "ab" * 32}
    assert state.pending_operations[0]["type"] == "creating"
    written = checkpoint.to_deployment(state)
    assert schema_errors(written) == []
    assert written["deployment"]["resources"][1:] == exported["deployment"]["resources"][1:]
    assert written["deployment"]["pending_operations"] == exported["deployment"]["pending_operations"]


def test_aoai_ft_stack_reads_a_harness_state_file_or_its_directory(tiny: Stack, tmp_path: Path) -> None:
    """`aoai-ft --stack FILE|DIR` takes the endpoint and job id from the state, with no pulumi CLI."""
    result = tiny.run("up")
    assert stack_outputs(str(tiny.state))["endpoint"] == result.outputs["endpoint"]
    assert stack_outputs(str(tiny.state.parent)) == stack_outputs(str(tiny.state))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CliError, match=r"exactly one stack state file"):
        stack_outputs(str(empty))
    (empty / "x.json").write_text('{"hello": 1}')
    with pytest.raises(CliError, match=r"neither a Pulumi deployment"):
        stack_outputs(str(empty / "x.json"))
