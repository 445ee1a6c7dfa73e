"""The quickstart through the real ``pulumi`` CLI (local file backend) against the emulator, when the CLI exists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pulumi_aoai_finetuning.testing import emulated_account

ROOT = Path(__file__).resolve().parent.parent
PULUMI = shutil.which("pulumi")


@pytest.mark.skipif(
    PULUMI is None, reason="the pulumi CLI is not on PATH; the program harness tests cover the examples"
)
def test_quickstart_up_and_destroy_with_the_real_cli(tmp_path: Path) -> None:
    """``pulumi up`` deploys the quickstart's fine-tuned model on the emulator; ``pulumi destroy`` removes it all."""
    assert PULUMI is not None
    env = {
        **os.environ,
        "PULUMI_CONFIG_PASSPHRASE": "emulator",
        "PULUMI_BACKEND_URL": f"file://{tmp_path}",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    project = ROOT / "examples" / "quickstart"

    def pulumi(*args: str) -> str:
        done = subprocess.run(
            [PULUMI, *args, "--cwd", str(project), "--non-interactive"],
            env=env,
            text=True,
            capture_output=True,
            check=False,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    with emulated_account("clistack", seed=7) as account:
        stack = "emulator-cli-test"
        pulumi("stack", "init", stack)
        try:
            for key, value in account.stack_config().items():
                secret = ["--secret"] if key in ("azure-openai:apiKey", "azure-openai:armToken") else []
                pulumi("config", "set", *secret, key, value, "--stack", stack)
            # azure-native talks to real ARM only: the CLI run uses the emulator's account as an existing one.
            existing = json.dumps({"id": account.id, "endpoint": account.endpoint})
            pulumi("config", "set", "quickstart:existingAccount", existing, "--stack", stack)
            pulumi("up", "--yes", "--stack", stack)
            outputs = json.loads(pulumi("stack", "output", "--json", "--stack", stack))
            assert ".ft-" in outputs["fine_tuned_model"]
            pulumi("destroy", "--yes", "--stack", stack)
            assert account.objects("deployments") == {}
        finally:
            pulumi("stack", "rm", "--yes", "--force", stack)
