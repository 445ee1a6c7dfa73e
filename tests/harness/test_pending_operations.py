"""Pending operations: a run killed in the middle of a provider call leaves one in the state, as the engine does.

The harness runs `up` as a separate process; the emulator holds back its answer to the job's POST (the job
exists, the provider has not heard back), and the test kills the whole process group then. The next `up`
warns with the CLI's words and calls Create again: the FineTuningJob provider adopts the job it submitted, so
the account still has one job. `refresh --clear-pending-creates` and `--import-pending-creates` resolve it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from pulumi_aoai_finetuning.testing import checkpoint
from pulumi_aoai_finetuning.testing.command_line import main as harness_main
from tests.harness.schema import schema_errors
from tests.test_program_harness import ARM_TOKEN, TINY, Stack

JOB_URN = "urn:pulumi:dev::tiny-finetune::pulumi-python:dynamic/azure-openai:FineTuningJob::job"
WAIT_S = 180.0


def jobs(stack: Stack) -> dict[str, Any]:
    """The fine-tuning jobs of the stack's account, as the emulator holds them."""
    (account,) = stack.accounts()
    return stack.objects_of(account["name"], "jobs")


def _pending(stack: Stack) -> list[tuple[str, str]]:
    try:
        state = checkpoint.load(stack.state)
    except (checkpoint.StateFormatError, OSError):
        return []  # the file is being replaced this very moment
    return [(op["type"], op["resource"]["urn"]) for op in state.pending_operations]


def interrupted_up(stack: Stack) -> str:
    """Run `up` in a process of its own and kill it while the job's create is in flight; the job's id."""
    # The job is created, then its POST's answer waits 10 minutes: the create call is in flight meanwhile.
    stack.emulator.add_fault(
        {"method": "POST", "path": "/fine_tuning/jobs$", "kind": "latency", "latency_ms": 600_000, "when": "after"}
    )
    argv = [sys.executable, "-m", "pulumi_aoai_finetuning.testing", "up", str(stack.program), "--state"]
    argv += [str(stack.state), "--config", f"azure-openai:armEndpoint={stack.url}"]
    argv += ["--config", "azure-openai:pollIntervalSeconds=0.01", "--config", "azure-openai:pollMaxSeconds=0.05"]
    argv += ["--secret", f"azure-openai:armToken={ARM_TOKEN}"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + WAIT_S
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if ("creating", JOB_URN) in _pending(stack) and stack.accounts() and jobs(stack):
                break
            time.sleep(0.2)
        else:
            output = process.stdout.read().decode() if process.stdout and process.poll() is not None else ""
            pytest.fail(f"the job's create was never seen in flight (exit {process.poll()}):\n{output}")
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the harness and its plugin: nothing gets to clean up
        process.wait(timeout=60)
        if process.stdout:
            process.stdout.close()
    stack.emulator.clear_faults()
    (job_id,) = jobs(stack)
    return job_id


def test_a_killed_up_leaves_a_pending_create_and_the_next_up_adopts_the_job(tiny: Stack) -> None:
    """Killed mid-create: the state keeps the pending create; `up` warns, creates once more, adopts the one job."""
    job_id = interrupted_up(tiny)
    document = json.loads(tiny.state.read_text())
    assert schema_errors(document) == []
    (pending,) = document["deployment"]["pending_operations"]
    assert pending["type"] == "creating"
    assert pending["resource"]["urn"] == JOB_URN
    assert pending["resource"]["inputs"]["suffix"] == "tiny"
    assert JOB_URN not in {r["urn"] for r in document["deployment"]["resources"]}

    again = tiny.run("up")
    (warning,) = again.warnings
    assert warning.startswith("Attempting to deploy or update resources with 1 pending operations from previous")
    assert f"* {JOB_URN}, interrupted while creating" in warning
    assert again.ops()["job"] == "create"
    assert list(jobs(tiny)) == [job_id]  # adopted: no second paid training run
    job = next(r for r in tiny.resources() if r["urn"] == JOB_URN)
    assert job["id"] == job_id
    # The engine never clears a pending create on its own: it needs `refresh --clear-pending-creates`.
    assert again.pending_operations == [("creating", JOB_URN)]
    cleared = tiny.run("refresh", clear_pending_creates=True)
    assert cleared.pending_operations == []
    assert "pending_operations" not in json.loads(tiny.state.read_text())["deployment"]
    quiet = tiny.run("up")
    assert quiet.warnings == []
    assert set(quiet.ops().values()) == {"same"}
    assert list(jobs(tiny)) == [job_id]


def test_refresh_imports_a_pending_create_by_its_id(tiny: Stack) -> None:
    """`refresh --import-pending-creates URN ID` reads the job into the state; `up` then leaves it as it is."""
    job_id = interrupted_up(tiny)
    argv = ["refresh", str(TINY), "--state", str(tiny.state), "--config", f"azure-openai:armEndpoint={tiny.url}"]
    argv += ["--secret", f"azure-openai:armToken={ARM_TOKEN}", "--import-pending-creates", JOB_URN, job_id]
    code = harness_main(argv)
    assert code == 0
    state = checkpoint.load(tiny.state)
    assert state.pending_operations == []
    job = next(r for r in state.resources if r["urn"] == JOB_URN)
    assert job["id"] == job_id
    assert job["outputs"]["job_id"] == job_id
    mark = tiny.mark()
    up = tiny.run("up")
    assert up.ops()["job"] != "create"
    assert ("POST", "/openai/v1/fine_tuning/jobs") not in tiny.mutations(mark)
    assert list(jobs(tiny)) == [job_id]


def test_refresh_clears_pending_creates_and_refuses_contradictory_flags(tiny: Stack) -> None:
    """`--clear-pending-creates` drops the pending create (the job stays in Azure); with `--skip-...` it is refused."""
    interrupted_up(tiny)
    with pytest.raises(Exception, match=r"cannot set both --skip-pending-creates and --clear-pending-creates"):
        tiny.run("refresh", clear_pending_creates=True, skip_pending_creates=True)
    kept = tiny.run("refresh", skip_pending_creates=True)
    assert kept.pending_operations == [("creating", JOB_URN)]
    unused = tiny.run("refresh", import_pending_creates={JOB_URN + "x": "ftjob-x"})
    assert unused.warnings == [f'"{JOB_URN}x" did not correspond to a pending create']
    cleared = tiny.run("refresh", clear_pending_creates=True)
    assert cleared.pending_operations == []
    assert JOB_URN not in {r["urn"] for r in tiny.resources()}
