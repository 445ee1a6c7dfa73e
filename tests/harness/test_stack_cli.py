"""``aoai-stack``, the console script users run their own stack with, as a user would (a separate process)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pulumi_aoai_finetuning.testing import checkpoint
from tests.harness.schema import schema_errors
from tests.test_program_harness import ARM_TOKEN, TINY, Stack

SCRIPT = Path(sys.executable).parent / "aoai-stack"
PASSPHRASE = "stack-pass"


def aoai_stack(project: Path, *argv: str, passphrase: str | None = PASSPHRASE) -> subprocess.CompletedProcess[str]:
    """One ``aoai-stack -C PROJECT ...`` run; the passphrase in the environment unless None."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    if passphrase is not None:
        env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    return subprocess.run(
        [str(SCRIPT), "-C", str(project), *argv], capture_output=True, text=True, env=env, timeout=600, check=False
    )


def test_a_user_configures_deploys_reads_outputs_and_destroys_a_stack(tiny: Stack, tmp_path: Path) -> None:
    """Config set (--secret), up, stack output, config, destroy: each as the pulumi CLI's, with no warning noise."""
    project = tmp_path / "my-stack"
    shutil.copytree(TINY, project)
    for key, value in (
        ("azure-openai:armEndpoint", tiny.url),
        ("azure-openai:pollIntervalSeconds", "0.01"),
        ("azure-openai:pollMaxSeconds", "0.05"),
    ):
        assert aoai_stack(project, "config", "set", key, value).returncode == 0
    done = aoai_stack(project, "config", "set", "--secret", "azure-openai:armToken", ARM_TOKEN)
    assert done.returncode == 0, done.stderr
    assert ARM_TOKEN not in (project / "Pulumi.dev.yaml").read_text()

    up = aoai_stack(project, "up", "--yes")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Previewing update (dev):" in up.stdout
    assert "Updating (dev):" in up.stdout
    assert "<- started a new paid training run" in up.stdout
    assert "Warning" not in up.stderr
    assert up.stderr.strip() == ""

    state = project / ".aoai-stack" / "dev.json"
    assert schema_errors(json.loads(state.read_text())) == []
    assert ARM_TOKEN not in state.read_text()
    endpoint = checkpoint.load(state).outputs["endpoint"]
    output = aoai_stack(project, "stack", "output", "endpoint")
    assert output.stdout.strip() == endpoint
    outputs = json.loads(aoai_stack(project, "stack", "output", "--json").stdout)
    assert outputs["endpoint"] == endpoint
    assert set(outputs) == {"endpoint", "account_name", "training_file_id", "fine_tuned_model"}

    listed = aoai_stack(project, "config").stdout
    assert "azure-openai:armToken" in listed
    assert "[secret]" in listed
    assert ARM_TOKEN not in listed
    assert aoai_stack(project, "config", "get", "azure-openai:armToken").stdout.strip() == ARM_TOKEN
    locked = aoai_stack(project, "config", "get", "azure-openai:armToken", passphrase=None)
    assert locked.returncode == 1
    assert "PULUMI_CONFIG_PASSPHRASE" in locked.stderr

    destroy = aoai_stack(project, "destroy", "-y")
    assert destroy.returncode == 0, destroy.stdout + destroy.stderr
    assert checkpoint.load(state).resources == []
    assert tiny.emulator.state()["resource_groups"] == {}


def test_without_the_passphrase_the_stack_does_not_run_and_says_why(tmp_path: Path) -> None:
    """Encrypted config and no PULUMI_CONFIG_PASSPHRASE: exit 1 naming the key and the variable, nothing done."""
    project = tmp_path / "p"
    shutil.copytree(TINY, project)
    assert aoai_stack(project, "config", "set", "--secret", "azure-openai:armToken", "t").returncode == 0
    done = aoai_stack(project, "preview", passphrase=None)
    assert done.returncode == 1
    assert "encrypted values for azure-openai:armToken: set PULUMI_CONFIG_PASSPHRASE" in done.stderr
    assert not (project / ".aoai-stack").exists()
