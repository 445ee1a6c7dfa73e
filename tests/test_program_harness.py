"""The program harness runs a whole Pulumi program as the CLI would: up, preview, refresh, destroy.

Each test serves a fresh emulator on loopback and runs ``tests/programs/tiny`` (a resource group, an Azure
OpenAI account, a training file and a fine-tuning job) through
:func:`pulumi_aoai_finetuning.testing.program.run_program`: the dynamic resources run in the real
``python -m pulumi.dynamic`` plugin, the azure-native ones against the emulator's ARM.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aoai_emulator import Emulator, create_emulator
from pulumi_aoai_finetuning.testing import checkpoint
from pulumi_aoai_finetuning.testing.program import (
    PREVIEW_UNKNOWN,
    HarnessError,
    ProgramResult,
    run_program,
)
from tests.emulator.support import chat_dataset

TINY = Path(__file__).parent / "programs" / "tiny"
MODEL_RE = re.compile(r"gpt-4o-mini-2024-07-18\.ft-[0-9a-f]{32}-tiny")
ARM_TOKEN = "arm-token-that-must-never-be-stored"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
TYPES = {
    "tiny": "azure-native:resources:ResourceGroup",
    "tinyaoai": "azure-native:cognitiveservices:Account",
    "train": "pulumi-python:dynamic/azure-openai:TrainingFile",
    "job": "pulumi-python:dynamic/azure-openai:FineTuningJob",
}


@dataclass
class Stack:
    """A harness stack of one program against one served emulator."""

    emulator: Emulator
    url: str
    program: Path
    state: Path
    name: str = "dev"
    extra_secrets: dict[str, str] = field(default_factory=dict)

    def run(self, command: str, **kwargs: Any) -> ProgramResult:
        """One command, with the stack config a user would set for the emulator."""
        config = {
            "azure-openai:armEndpoint": self.url,
            "azure-openai:pollIntervalSeconds": "0.01",
            "azure-openai:pollMaxSeconds": "0.05",
            **kwargs.pop("config", {}),
        }
        secrets = {"azure-openai:armToken": ARM_TOKEN, **self.extra_secrets, **kwargs.pop("secrets", {})}
        return run_program(command, self.program, self.state, config=config, secrets=secrets, stack=self.name, **kwargs)

    def mark(self) -> int:
        """Where the emulator's request log is now."""
        return len(self.emulator.requests())

    def mutations(self, since: int) -> list[tuple[str, str]]:
        """The POST/PUT/PATCH/DELETE requests served since ``since``."""
        return [(r["method"], r["path"]) for r in self.emulator.requests()[since:] if r["method"] in MUTATING]

    def accounts(self) -> list[dict[str, Any]]:
        """The emulator's accounts, keys included, from its admin API (as `az ... keys list` would give them)."""
        response = httpx2.get(f"{self.url}/_emulator/accounts", timeout=30)
        response.raise_for_status()
        accounts: list[dict[str, Any]] = response.json()["accounts"]
        return accounts

    def objects_of(self, account: str, kind: str) -> dict[str, Any]:
        """An account's ``files``, ``jobs`` or ``deployments`` as the emulator holds them."""
        found: dict[str, Any] = self.emulator.state()["accounts"][account.lower()][kind]
        return found

    def resources(self) -> list[dict[str, Any]]:
        """The state file's resources."""
        return checkpoint.load(self.state).resources


@pytest.fixture
def emulator() -> Iterator[tuple[Emulator, str]]:
    emulator = create_emulator(seed=4242)
    server = emulator.serve()
    try:
        yield emulator, server.url
    finally:
        emulator.close()


@pytest.fixture
def stack(emulator: tuple[Emulator, str], tmp_path: Path) -> Stack:
    return Stack(emulator[0], emulator[1], TINY, tmp_path / "state" / "dev.json")


@pytest.fixture
def deployed(stack: Stack) -> tuple[Stack, ProgramResult]:
    return stack, stack.run("up")


def user_key_config(stack: Stack) -> dict[str, str]:
    """What a user sets with `pulumi config set --secret azure-openai:apiKey ...` for the stack's account."""
    (account,) = stack.accounts()
    return {"azure-openai:apiKey": account["keys"][0]}


def training_files(stack: Stack, account: dict[str, Any]) -> list[str]:
    """The ids of the account's uploaded datasets (the job's results files left out)."""
    files = stack.emulator.state()["accounts"][account["name"].lower()]["files"]
    return [file_id for file_id, file in files.items() if file["purpose"] == "fine-tune"]


def test_up_creates_everything_and_exports_the_fine_tuned_model(deployed: tuple[Stack, ProgramResult]) -> None:
    """A first up creates the four resources in program order; the outputs are the emulator's real values."""
    stack, result = deployed
    assert [(s.name, s.op, s.type) for s in result.steps] == [(n, "create", t) for n, t in TYPES.items()]
    (account,) = stack.accounts()
    assert result.outputs["endpoint"] == account["endpoint"]  # account.properties.endpoint, from ARM
    assert result.outputs["account_name"] == account["name"]
    assert re.fullmatch(r"tinyaoai[a-z0-9]{8}", account["name"])  # azure-native auto-naming
    assert MODEL_RE.fullmatch(result.outputs["fine_tuned_model"])
    held = stack.emulator.state()["accounts"][account["name"].lower()]
    assert training_files(stack, account) == [result.outputs["training_file_id"]]
    (job,) = held["jobs"].values()
    assert job["status"] == "succeeded"
    assert job["fine_tuned_model"] == result.outputs["fine_tuned_model"]
    recorded = {r["urn"].rsplit("::", 1)[1]: r for r in stack.resources()}
    assert recorded["tinyaoai"]["id"] == account["id"]
    assert recorded["job"]["dependencies"] == sorted([recorded["tinyaoai"]["urn"], recorded["train"]["urn"]])


def test_second_up_is_a_no_op_without_any_mutating_request(deployed: tuple[Stack, ProgramResult]) -> None:
    """Unchanged program, unchanged state: every step is `same` and nothing is POSTed, PUT or DELETEd."""
    stack, first = deployed
    since = stack.mark()
    second = stack.run("up")
    assert {s.op for s in second.steps} == {"same"}
    assert stack.mutations(since) == []
    assert second.outputs == first.outputs


def test_preview_after_up_changes_nothing(deployed: tuple[Stack, ProgramResult]) -> None:
    """A preview of the deployed stack plans no change, calls nothing that changes anything, writes no state."""
    stack, first = deployed
    before = stack.state.read_bytes()
    since = stack.mark()
    preview = stack.run("preview")
    assert {s.op for s in preview.steps} == {"same"}
    assert stack.mutations(since) == []
    assert stack.state.read_bytes() == before
    assert preview.outputs == first.outputs


def test_preview_of_a_new_stack_creates_nothing_and_leaves_computed_outputs_unknown(stack: Stack) -> None:
    """Preview runs Check only: no create, no state file, and outputs that only Create computes are unknown."""
    since = stack.mark()
    preview = stack.run("preview")
    assert [(s.name, s.op) for s in preview.steps] == [(n, "create") for n in TYPES]
    assert stack.mutations(since) == []
    assert stack.accounts() == []
    assert not stack.state.exists()
    assert preview.outputs["endpoint"] == PREVIEW_UNKNOWN
    assert preview.outputs["fine_tuned_model"] == PREVIEW_UNKNOWN
    assert preview.outputs["account_name"].startswith("tinyaoai")  # the auto-name is chosen at Check


def test_refresh_of_an_unchanged_stack_changes_nothing(deployed: tuple[Stack, ProgramResult]) -> None:
    """Refresh reads every resource, finds no drift, keeps the state as it was and sends no mutating request."""
    stack, _ = deployed
    before = stack.resources()
    since = stack.mark()
    refresh = stack.run("refresh", secrets=user_key_config(stack))
    assert [(s.name, s.op) for s in refresh.steps] == [(n, "refresh") for n in TYPES]
    assert refresh.drift == []
    assert stack.mutations(since) == []
    assert stack.resources() == before


def test_refresh_and_up_recreate_a_training_file_deleted_out_of_band(deployed: tuple[Stack, ProgramResult]) -> None:
    """Refresh drops a file deleted behind Pulumi's back; the next up uploads it again and converges."""
    stack, first = deployed
    (account,) = stack.accounts()
    old_file = first.outputs["training_file_id"]
    deleted = httpx2.delete(
        f"{account['endpoint']}openai/v1/files/{old_file}", headers={"api-key": account["keys"][0]}, timeout=30
    )
    assert deleted.status_code == 200
    refresh = stack.run("refresh")
    assert refresh.ops()["train"] == "refresh-deleted"
    assert refresh.ops()["job"] == "refresh"  # the job and its model outlive the file
    assert "train" not in {r["urn"].rsplit("::", 1)[1] for r in stack.resources()}

    up = stack.run("up")
    assert up.ops()["train"] == "create"
    new_file = up.outputs["training_file_id"]
    assert new_file != old_file
    assert training_files(stack, account) == [new_file]
    assert MODEL_RE.fullmatch(up.outputs["fine_tuned_model"])
    since = stack.mark()
    assert {s.op for s in stack.run("up").steps} == {"same"}
    assert stack.mutations(since) == []


def test_changed_program_updates_in_place_and_deletes_what_it_no_longer_declares(stack: Stack, tmp_path: Path) -> None:
    """An input that touches nothing remote is an update; a resource dropped from the program is deleted."""
    program = tmp_path / "program"
    shutil.copytree(TINY, program)
    stack.program = program
    first = stack.run("up")
    main = program / "__main__.py"
    source = main.read_text()
    source = source.replace('path="train.jsonl")', 'path="train.jsonl", timeout_minutes=45)')
    job_start = source.index("job = FineTuningJob(")
    source = source[:job_start] + 'pulumi.export("kept", training.file_id)\n'  # the job and the exports go
    main.write_text(source)

    since = stack.mark()
    result = stack.run("up", secrets=user_key_config(stack))
    assert result.ops() == {"tiny": "same", "tinyaoai": "same", "train": "update", "job": "delete"}
    assert [s.name for s in result.steps][-1] == "job"  # deletions come after the program's steps
    # A local setting changed, and the finished job's record and model are kept: only its results file goes.
    mutations = stack.mutations(since)
    assert len(mutations) == 1
    assert mutations[0][0] == "DELETE"
    assert "/files/file-" in mutations[0][1]
    assert [r["urn"].rsplit("::", 1)[1] for r in stack.resources()] == ["tiny", "tinyaoai", "train"]
    assert result.outputs == {"kept": first.outputs["training_file_id"]}  # the program's exports, no others


def test_replacement_creates_the_new_resources_before_deleting_the_old(stack: Stack, tmp_path: Path) -> None:
    """A new location replaces the group and, through the new endpoint, everything on it: creates first, then deletes."""
    program = tmp_path / "program"
    shutil.copytree(TINY, program)
    stack.program = program
    first = stack.run("up")
    main = program / "__main__.py"
    main.write_text(main.read_text().replace('location="eastus2"', 'location="swedencentral"'))

    since = stack.mark()
    result = stack.run("up")
    assert [(s.name, s.op) for s in result.steps] == [
        *((n, "replace") for n in TYPES),
        *((n, "delete-replaced") for n in reversed(TYPES)),
    ]
    methods = [method for method, _ in stack.mutations(since)]
    assert "DELETE" in methods
    assert "PUT" not in methods[methods.index("DELETE") :]  # nothing is deleted before its successor exists
    (account,) = stack.accounts()
    assert account["location"] == "swedencentral"
    assert result.outputs["account_name"] not in (first.outputs["account_name"], None)  # auto-named afresh
    assert [r["urn"].rsplit("::", 1)[1] for r in stack.resources()] == list(TYPES)


def test_a_failed_step_keeps_what_was_done_and_the_next_up_resumes(stack: Stack, tmp_path: Path) -> None:
    """A job that misses its quality gate fails the up; the state keeps the rest; the next up adopts the job."""
    program = tmp_path / "program"
    shutil.copytree(TINY, program)
    stack.program = program
    main = program / "__main__.py"
    passing = main.read_text()
    main.write_text(passing.replace('suffix="tiny",', 'suffix="tiny", quality_gate={"max_train_loss": 0.0001},'))
    with pytest.raises(HarnessError, match=r"FineTuningJob::job: Create failed:(.|\n)*missed its quality_gate"):
        stack.run("up")
    assert [r["urn"].rsplit("::", 1)[1] for r in stack.resources()] == ["tiny", "tinyaoai", "train"]

    main.write_text(passing)
    since = stack.mark()
    result = stack.run("up")
    assert result.ops() == {"tiny": "same", "tinyaoai": "same", "train": "same", "job": "create"}
    assert not any(path.endswith("/fine_tuning/jobs") for _, path in stack.mutations(since))  # adopted, not resubmitted
    assert MODEL_RE.fullmatch(result.outputs["fine_tuned_model"])


def test_destroy_leaves_the_emulator_empty(deployed: tuple[Stack, ProgramResult]) -> None:
    """Destroy deletes dependents first; no account, group, file or running job is left."""
    stack, _ = deployed
    destroy = stack.run("destroy")
    assert [(s.name, s.op) for s in destroy.steps] == [(n, "delete") for n in reversed(TYPES)]
    held = stack.emulator.state()
    assert held["accounts"] == {}
    assert held["resource_groups"] == {}
    assert stack.resources() == []
    assert destroy.outputs == {}


def test_state_file_never_holds_a_key_or_token(deployed: tuple[Stack, ProgramResult]) -> None:
    """Neither the account keys (listed by the harness, or given as secret config) nor the ARM token are stored."""
    stack, _ = deployed
    (account,) = stack.accounts()
    stack.run("refresh")  # keys listed through ARM
    stack.run("refresh", secrets=user_key_config(stack))  # a key from secret stack config
    text = stack.state.read_text()
    assert account["endpoint"] in text  # the state is there, just without secrets
    for secret in (*account["keys"], ARM_TOKEN):
        assert secret not in text


def test_a_stack_reference_reads_another_stacks_outputs(deployed: tuple[Stack, ProgramResult], tmp_path: Path) -> None:
    """A second stack reads the first one's fine-tuned model through pulumi.StackReference."""
    stack, first = deployed
    program = tmp_path / "promote"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: promote\nruntime: python\n")
    (program / "__main__.py").write_text(
        "import pulumi\n"
        "dev = pulumi.StackReference('organization/tiny-finetune/dev')\n"
        "pulumi.export('model', dev.get_output('fine_tuned_model'))\n"
    )
    result = run_program(
        "up",
        program,
        tmp_path / "prod.json",
        stack="prod",
        stack_references={"dev": stack.state},
        config={"azure-openai:armEndpoint": stack.url},
    )
    assert result.outputs == {"model": first.outputs["fine_tuned_model"]}


def test_unmodelled_resource_type_fails_naming_the_type(emulator: tuple[Emulator, str], tmp_path: Path) -> None:
    """A type the harness cannot run is refused by name, in-process and from the CLI (non-zero exit)."""
    program = tmp_path / "pets"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: pets\nruntime: python\n")
    (program / "__main__.py").write_text(
        "import pulumi\npulumi.CustomResource('random:index/randomPet:RandomPet', 'pet', {})\n"
    )
    url = emulator[1]
    with pytest.raises(HarnessError, match=r"random:index/randomPet:RandomPet is not modelled"):
        run_program("up", program, tmp_path / "pets.json", config={"azure-openai:armEndpoint": url})

    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "pulumi_aoai_finetuning.testing.program",  # the module's own name still runs it, without a warning
            "up",
            str(program),
            "--state",
            str(tmp_path / "cli.json"),
            "--config",
            f"azure-openai:armEndpoint={url}",
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1
    assert "random:index/randomPet:RandomPet is not modelled" in cli.stderr
    assert "Warning" not in cli.stderr, cli.stderr


def test_cli_runs_up_and_prints_steps_and_outputs(stack: Stack) -> None:
    """The CLI, one process per command like `pulumi up`, prints each step and then the stack outputs."""
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "pulumi_aoai_finetuning.testing",
            "up",
            str(stack.program),
            "--state",
            str(stack.state),
            "--config",
            f"azure-openai:armEndpoint={stack.url}",
            "--config",
            "azure-openai:pollIntervalSeconds=0.01",
            "--config",
            "azure-openai:pollMaxSeconds=0.05",
            "--secret",
            f"azure-openai:armToken={ARM_TOKEN}",
        ],
        capture_output=True,
        check=False,
        text=True,
        timeout=180,
    )
    assert cli.returncode == 0, cli.stderr
    for name, typ in TYPES.items():
        assert re.search(rf"\+ create\s+{re.escape(typ)}\s+{name}(  <- .*)?$", cli.stdout, re.M), cli.stdout
    assert cli.stdout.index("Previewing update (dev):") < cli.stdout.index("Updating (dev):")
    paid = [line.split() for line in cli.stdout.splitlines() if "paid training run" in line]
    assert [" ".join(words[3:]) for words in paid] == [
        "job <- would start a new paid training run",  # the preview's job line
        "job <- started a new paid training run",  # the update's
    ], cli.stdout
    model = re.search(r'^\s+fine_tuned_model: "(\S+)"$', cli.stdout, re.M)
    assert model is not None, cli.stdout
    assert MODEL_RE.fullmatch(model[1])
    assert ARM_TOKEN not in cli.stdout + cli.stderr
    assert "Warning" not in cli.stderr, cli.stderr


# --- safe by default ----------------------------------------------------------------------------------------


def harness_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The harness's command line, one process per command as the CLI runs."""
    return subprocess.run(
        [sys.executable, "-m", "pulumi_aoai_finetuning.testing", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
    )


def test_an_arm_endpoint_off_this_machine_is_refused_before_any_request(stack: Stack) -> None:
    """A non-loopback ARM endpoint is refused without a request; with --allow-azure, plain http to it still is."""
    off_machine = stack.url.replace("127.0.0.1", "0.0.0.0")  # noqa: S104 - Linux delivers it to the local emulator
    config = {"azure-openai:armEndpoint": off_machine}
    with pytest.raises(HarnessError) as refused:
        run_program("up", TINY, stack.state, config=config, secrets={"azure-openai:armToken": ARM_TOKEN})
    assert f"azure-openai:armEndpoint is {off_machine}" in str(refused.value)
    assert "--allow-azure" in str(refused.value)
    assert stack.emulator.requests() == []
    assert not stack.state.exists()

    # --allow-azure lets the harness through; the client's own rule still refuses plain http off this machine.
    with pytest.raises(HarnessError, match=r"plain http to 0\.0\.0\.0 would send the key in cleartext"):
        run_program(
            "up",
            TINY,
            stack.state,
            config=config,
            secrets={"azure-openai:armToken": ARM_TOKEN},
            allow_azure=True,
        )
    assert stack.emulator.requests() == []


def test_a_stack_without_an_arm_endpoint_is_refused_naming_the_key_and_the_flags(tmp_path: Path) -> None:
    """No armEndpoint means Azure's own ARM: refused, from the API and the command line, before any state is made."""
    with pytest.raises(HarnessError, match=r"azure-openai:armEndpoint is not set(.|\n)*--emulator(.|\n)*--allow-azure"):
        run_program("up", TINY, tmp_path / "dev.json")
    cli = harness_cli("preview", str(TINY), "--state", str(tmp_path / "cli.json"))
    assert cli.returncode == 1
    assert "azure-openai:armEndpoint is not set" in cli.stderr
    assert "Warning" not in cli.stderr, cli.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_data_plane_endpoint_off_this_machine_is_refused_before_any_request(stack: Stack, tmp_path: Path) -> None:
    """A training file whose endpoint is not on this machine fails the preview of `up`: nothing is uploaded."""
    account = stack.emulator.seed_account("remote", "eastus2")
    program = tmp_path / "remote"
    program.mkdir()
    shutil.copy(TINY / "train.jsonl", program / "train.jsonl")
    (program / "Pulumi.yaml").write_text("name: remote\nruntime: python\n")
    (program / "__main__.py").write_text(
        "import pulumi\n"
        "from pulumi_aoai_finetuning import TrainingFile\n"
        "TrainingFile('train', endpoint=pulumi.Config().require('endpoint'), path='train.jsonl')\n"
    )
    stack.program = program
    since = stack.mark()
    remote = account["endpoint"].replace("127.0.0.1", "0.0.0.0")  # noqa: S104 - the emulator, by another address
    with pytest.raises(HarnessError, match=r"TrainingFile::train(.|\n)*endpoint(.|\n)*0\.0\.0\.0"):
        stack.run("up", config={"endpoint": remote}, secrets={"azure-openai:apiKey": account["keys"][0]})
    assert stack.emulator.requests()[since:] == []
    assert stack.objects_of("remote", "files") == {}


def test_emulator_flag_serves_the_stack_from_a_private_emulator_across_commands(tmp_path: Path) -> None:
    """`up --emulator` then `destroy --emulator`: one private emulator's state, kept beside the stack's state."""
    state = tmp_path / "dev.json"
    up = harness_cli("up", str(TINY), "--state", str(state), "--emulator")
    assert up.returncode == 0, up.stderr
    assert "Warning" not in up.stderr, up.stderr
    model = re.search(r'^\s+fine_tuned_model: "(\S+)"$', up.stdout, re.M)
    assert model is not None, up.stdout
    assert MODEL_RE.fullmatch(model[1])
    endpoint = checkpoint.load(state).outputs["endpoint"]
    assert endpoint.startswith("http://127.0.0.1:")
    held = json.loads((tmp_path / "dev.json.emulator" / "state.json").read_text())
    assert len(held["accounts"]) == 1

    destroy = harness_cli("destroy", str(TINY), "--state", str(state), "--emulator")
    assert destroy.returncode == 0, destroy.stderr
    assert checkpoint.load(state).resources == []
    held = json.loads((tmp_path / "dev.json.emulator" / "state.json").read_text())
    assert held["accounts"] == {}


# --- up previews first ----------------------------------------------------------------------------------


def with_deployment(stack: Stack, tmp_path: Path, capacity: int) -> Path:
    """The tiny program with a Deployment of its fine-tuned model appended as the program's last resource."""
    program = tmp_path / "program"
    shutil.copytree(TINY, program)
    main = program / "__main__.py"
    main.write_text(
        main.read_text().replace("import FineTuningJob, TrainingFile", "import Deployment, FineTuningJob, TrainingFile")
        + "Deployment('serve', account_id=account.id, deployment_name='tiny', model=job.fine_tuned_model, "
        f"capacity={capacity})\n"
    )
    stack.program = program
    return program


def test_up_stops_at_the_preview_when_the_last_resource_fails_check(stack: Stack, tmp_path: Path) -> None:
    """A Deployment with capacity -1, last in the program: up fails in its preview; nothing is created or stored."""
    with_deployment(stack, tmp_path, capacity=-1)
    with pytest.raises(HarnessError, match=r"Deployment::serve: the inputs failed Check:\n\s+capacity: "):
        stack.run("up")
    assert stack.mutations(0) == []  # the emulator's request log: no POST, PUT, PATCH or DELETE at all
    assert stack.accounts() == []
    assert stack.emulator.state()["resource_groups"] == {}
    assert not stack.state.exists()


def test_skip_preview_creates_until_the_failing_check_as_the_cli_does(stack: Stack, tmp_path: Path) -> None:
    """With skip_preview (the CLI's --skip-preview) the same program creates everything before the Deployment."""
    with_deployment(stack, tmp_path, capacity=-1)
    with pytest.raises(HarnessError, match=r"Deployment::serve: the inputs failed Check"):
        stack.run("up", skip_preview=True)
    (account,) = stack.accounts()
    assert len(training_files(stack, account)) == 1
    assert [r["urn"].rsplit("::", 1)[1] for r in stack.resources()] == list(TYPES)


def test_up_reports_its_preview_then_carries_it_out(stack: Stack, tmp_path: Path) -> None:
    """The preview of `up` plans five creates, carrying out none; the update then does those five."""
    with_deployment(stack, tmp_path, capacity=1)
    seen: list[tuple[str, str, bool]] = []
    result = stack.run("up", on_step=lambda step: seen.append((step.name, step.op, step.preview)))
    names = [*TYPES, "serve"]
    assert [(s.name, s.op, s.preview) for s in result.preview] == [(n, "create", True) for n in names]
    assert [(s.name, s.op, s.preview) for s in result.steps] == [(n, "create", False) for n in names]
    assert seen == [(n, "create", True) for n in names] + [(n, "create", False) for n in names]


# --- steps run in parallel, as the engine runs them -------------------------------------------------------

EIGHT_FILES = (
    "import pulumi\n"
    "from pulumi_aoai_finetuning import TrainingFile\n"
    "endpoint = pulumi.Config().require('endpoint')\n"
    "for i in range(8):\n"
    "    TrainingFile(f'train{i}', endpoint=endpoint, path=f'train{i}.jsonl')\n"
)


def eight_files(stack: Stack, tmp_path: Path) -> dict[str, Any]:
    """A program of 8 independent TrainingFiles on a seeded account; uploads and deletions take 300 ms each."""
    account = stack.emulator.seed_account("eight", "eastus2")
    program = tmp_path / "eight"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: eight\nruntime: python\n")
    (program / "__main__.py").write_text(EIGHT_FILES)
    for i in range(8):
        chat_dataset(program / f"train{i}.jsonl", 10 + i)  # distinct contents: no upload adopts another's file
    stack.program = program
    for method, path in (("POST", r"/openai/v1/files$"), ("DELETE", r"/openai/v1/files/[^/]+$")):
        stack.emulator.add_fault({"method": method, "path": path, "kind": "latency", "latency_ms": 300})
    return account


def spans(stack: Stack, since: int, method: str) -> list[tuple[float, float]]:
    """(start, end) of each upload (POST) or file deletion (DELETE) the emulator served since ``since``."""
    return [
        (r["time"] - r["ms"] / 1000, r["time"])
        for r in stack.emulator.requests()[since:]
        if r["method"] == method and re.search(r"/openai/v1/files(/[^/]+)?$", r["path"])
    ]


def overlap(intervals: list[tuple[float, float]]) -> bool:
    """Whether one request began before another one ended."""
    ordered = sorted(intervals)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(ordered))


def test_independent_resources_upload_concurrently_and_delete_concurrently(stack: Stack, tmp_path: Path) -> None:
    """8 independent TrainingFiles: their uploads overlap in the emulator's log, and so do their deletions."""
    account = eight_files(stack, tmp_path)
    settings = {"config": {"endpoint": account["endpoint"]}, "secrets": {"azure-openai:apiKey": account["keys"][0]}}
    since = stack.mark()
    up = stack.run("up", **settings)
    assert sorted(s.name for s in up.steps) == [f"train{i}" for i in range(8)]
    uploads = spans(stack, since, "POST")
    assert len(uploads) == 8
    assert overlap(uploads), uploads

    since = stack.mark()
    stack.run("destroy", **settings)
    deletions = spans(stack, since, "DELETE")
    assert len(deletions) == 8
    assert overlap(deletions), deletions
    assert stack.objects_of("eight", "files") == {}


def test_parallel_one_runs_one_step_at_a_time(stack: Stack, tmp_path: Path) -> None:
    """parallel=1 (the CLI's --parallel 1): the same 8 uploads, and deletions, never overlap."""
    account = eight_files(stack, tmp_path)
    settings = {"config": {"endpoint": account["endpoint"]}, "secrets": {"azure-openai:apiKey": account["keys"][0]}}
    since = stack.mark()
    stack.run("up", parallel=1, **settings)
    uploads = spans(stack, since, "POST")
    assert len(uploads) == 8
    assert not overlap(uploads), uploads
    since = stack.mark()
    stack.run("destroy", parallel=1, **settings)
    deletions = spans(stack, since, "DELETE")
    assert len(deletions) == 8
    assert not overlap(deletions), deletions


# --- what each step changes, and why -------------------------------------------------------------------------


def test_preview_names_the_property_that_forces_a_paid_retrain(deployed: tuple[Stack, ProgramResult]) -> None:
    """New hyperparameters: the preview replaces the job because of them, flags a paid run, shows old and new."""
    stack, _ = deployed
    program = stack.state.parent / "edited"
    shutil.copytree(TINY, program)
    main = program / "__main__.py"
    main.write_text(main.read_text().replace('{"n_epochs": 1}', '{"n_epochs": 2}'))
    stack.program = program
    preview = stack.run("preview")
    job = next(s for s in preview.steps if s.name == "job")
    assert (job.op, job.replaces, job.paid_training) == ("replace", ("hyperparameters",), True)
    assert ("hyperparameters", '{"n_epochs": 1}', '{"n_epochs": 2}') in job.changed
    assert [s.paid_training for s in preview.steps if s.name != "job"] == [False, False, False]

    cli = harness_cli(
        "preview",
        str(program),
        "--state",
        str(stack.state),
        "--diff",
        "--config",
        f"azure-openai:armEndpoint={stack.url}",
        "--secret",
        f"azure-openai:armToken={ARM_TOKEN}",
    )
    assert cli.returncode == 0, cli.stderr
    line = next(x for x in cli.stdout.splitlines() if x.rstrip().endswith("training run") or " job " in x)
    assert "[replace because of: hyperparameters]" in line, cli.stdout
    assert "would start a new paid training run" in line, cli.stdout
    assert 'hyperparameters: {"n_epochs": 1} => {"n_epochs": 2} (forces replacement)' in cli.stdout


def test_a_secret_input_is_masked_in_the_diff(stack: Stack, tmp_path: Path) -> None:
    """A changed secret input is named as changed, never shown: the step holds the mask, not the value."""
    program = tmp_path / "program"
    shutil.copytree(TINY, program)
    shutil.copy(TINY / "train.jsonl", program / "moved.jsonl")
    main = program / "__main__.py"
    source = main.read_text().replace('path="train.jsonl")', 'path=pulumi.Output.secret("train.jsonl"))')
    main.write_text(source)
    stack.program = program
    stack.run("up")
    main.write_text(source.replace('secret("train.jsonl")', 'secret("moved.jsonl")'))
    preview = stack.run("preview")
    train = next(s for s in preview.steps if s.name == "train")
    assert train.changed, preview.steps
    # Masked by key, as the engine marks secrets: `path` is secret (a `filename` derived from it is not).
    assert [c for c in train.changed if c.name == "path"] == [("path", "[secret]", "[secret]")]


def test_refresh_names_the_property_that_drifted(stack: Stack, tmp_path: Path) -> None:
    """A deployment's capacity changed out of band: refresh reports that property of that resource, old and new."""
    with_deployment(stack, tmp_path, capacity=1)
    stack.run("up")
    deployment_id = next(r["id"] for r in stack.resources() if r["urn"].endswith("::serve"))
    changed = httpx2.patch(
        f"{stack.url}{deployment_id}",
        params={"api-version": "2025-06-01"},
        headers={"Authorization": "Bearer x"},
        json={"sku": {"name": "Standard", "capacity": 5}},
        timeout=30,
    )
    assert changed.status_code in (200, 202), changed.text
    refresh = stack.run("refresh")
    drifted = {s.name: s.changed for s in refresh.steps if s.changed}
    assert list(drifted) == ["serve"], refresh.steps
    assert ("capacity", "1", "5") in drifted["serve"]


# --- what an in-place update keeps (DiffResult.stables) --------------------------------------------------------


def _serve_exports(program: Path) -> None:
    """Export the Deployment's id (kept by an in-place update) and its provisioning state (not kept)."""
    main = program / "__main__.py"
    source = main.read_text().replace("Deployment('serve'", "serve = Deployment('serve'")
    main.write_text(
        source + "pulumi.export('deployment_id', serve.deployment_id)\n"
        "pulumi.export('provisioning_state', serve.provisioning_state)\n"
    )


def test_moving_an_unchanged_dataset_previews_only_an_update_of_the_file(stack: Stack, tmp_path: Path) -> None:
    """Same content at another path: only `~ update train`; its file_id stays known, so nothing downstream moves."""
    program = with_deployment(stack, tmp_path, capacity=1)
    first = stack.run("up")
    (program / "data").mkdir()
    (program / "train.jsonl").rename(program / "data" / "train.jsonl")
    main = program / "__main__.py"
    main.write_text(main.read_text().replace('path="train.jsonl"', 'path="data/train.jsonl"'))
    since = stack.mark()
    preview = stack.run("preview")
    assert preview.ops() == {"tiny": "same", "tinyaoai": "same", "train": "update", "job": "same", "serve": "same"}
    (train,) = preview.changes()
    assert ("path", '"train.jsonl"', '"data/train.jsonl"') in train.changed
    assert [c.name for c in train.changed] == ["path"]  # the content (sha256) is the same
    assert not any(s.replaces or s.paid_training for s in preview.steps)
    assert preview.outputs["training_file_id"] == first.outputs["training_file_id"]
    assert preview.outputs["fine_tuned_model"] == first.outputs["fine_tuned_model"]

    up = stack.run("up")
    assert up.ops() == preview.ops()
    # No upload, no job, no deployment PUT (listing the account's keys, a POST, changes nothing): as previewed.
    assert [m for m in stack.mutations(since) if not m[1].endswith("/listKeys")] == []
    (account,) = stack.accounts()
    assert len(stack.objects_of(account["name"], "jobs")) == 1
    assert up.outputs["training_file_id"] == first.outputs["training_file_id"]


def test_an_update_keeps_only_what_its_provider_declares_stable(stack: Stack, tmp_path: Path) -> None:
    """A capacity change: the deployment's id stays known in preview, its provisioning state is unknown."""
    program = with_deployment(stack, tmp_path, capacity=1)
    _serve_exports(program)
    first = stack.run("up")
    main = program / "__main__.py"
    main.write_text(main.read_text().replace("capacity=1)", "capacity=2)"))
    preview = stack.run("preview")
    assert [(s.name, s.op) for s in preview.changes()] == [("serve", "update")]
    assert preview.outputs["deployment_id"] == first.outputs["deployment_id"]
    assert first.outputs["provisioning_state"] == "Succeeded"
    assert preview.outputs["provisioning_state"] == PREVIEW_UNKNOWN


def test_changing_the_data_previews_the_paid_retrain_and_names_the_content(stack: Stack, tmp_path: Path) -> None:
    """New data at a new path: the file is replaced because of its sha256, and the job's retrain is flagged."""
    program = with_deployment(stack, tmp_path, capacity=1)
    stack.run("up")
    (program / "data").mkdir()
    chat_dataset(program / "data" / "train.jsonl", 15)
    main = program / "__main__.py"
    main.write_text(main.read_text().replace('path="train.jsonl"', 'path="data/train.jsonl"'))
    since = stack.mark()
    preview = stack.run("preview")
    steps = {s.name: s for s in preview.changes() if s.op != "delete-replaced"}
    assert {name: s.op for name, s in steps.items()} == {"train": "replace", "job": "replace", "serve": "replace"}
    assert "sha256" in steps["train"].replaces
    assert {"path", "sha256"} <= {c.name for c in steps["train"].changed}
    assert (steps["job"].replaces, steps["job"].paid_training) == (("training_file",), True)
    assert steps["serve"].replaces == ("model",)
    assert [s.name for s in preview.steps if s.paid_training] == ["job"]
    assert stack.mutations(since) == []
