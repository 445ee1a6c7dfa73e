"""``make demo``: the quickstart as a ``pulumi up`` against the local emulator, then ``pulumi destroy``.

It starts the emulator on a clock 100 times faster than real time (the 20-minute training job takes
about 12 seconds), then runs ``examples/quickstart``: with the real ``pulumi`` CLI and a local ``file://``
backend when ``pulumi`` is on PATH, otherwise through this package's program harness (the real
dynamic-provider server, with azure-native's resources served by the emulator's ARM, signed in to the
emulator's Microsoft Entra ID as a deployer: the quickstart's account refuses keys).
It shows every step, the stack outputs and the training metrics, destroys the stack, stops the emulator,
and ends by naming the model it deployed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from aoai_emulator import create_emulator
from pulumi_aoai_finetuning.testing import ProgramStep, run_program
from pulumi_aoai_finetuning.testing.entra import EntraLogin, deployer_login, serve_token_service

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
TIME_SCALE = 100.0
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ARM_TOKEN = "demo-token"  # noqa: S105 - not a secret: the emulator accepts any opaque bearer token
SYMBOLS = {"create": "+", "same": " ", "update": "~", "replace": "+-", "delete": "-", "delete-replaced": "-"}


@contextmanager
def emulator() -> Iterator[tuple[str, EntraLogin]]:
    """Run the emulator for the length of the demo; yields its URL and a deployer signed in to its Entra ID."""
    served = create_emulator(clock="time", time_scale=TIME_SCALE, seed=2026)
    try:
        url = served.serve().url
        yield url, deployer_login(url, serve_token_service(served), [SUBSCRIPTION])
    finally:
        served.close()


def show_step(step: ProgramStep) -> None:
    """One line per resource step, as ``pulumi up`` prints them (the preview ``up`` runs first is summed up after)."""
    if step.preview:
        return
    print(f"  {SYMBOLS.get(step.op, '~'):>2} {step.type:<55} {step.name:<22} {step.op}", flush=True)


def show_metrics(metrics: dict[str, Any] | None) -> None:
    """The final training metrics of the job."""
    if not metrics:
        return
    print("\nTraining metrics (final values of results.csv):")
    for key, value in sorted(metrics.items()):
        print(f"  {key:<32} {value:g}")


def with_harness(url: str, login: EntraLogin, workdir: Path) -> dict[str, Any]:
    """The quickstart through the program harness."""
    print(
        "No `pulumi` CLI on PATH: running the quickstart through the program harness "
        "(the real dynamic-provider server; azure-native resources served by the emulator's ARM).\n"
    )
    config = {
        "azure-openai:armEndpoint": url,
        "azure-openai:pollIntervalSeconds": "0.5",
        "azure-openai:pollMaxSeconds": "2",
        "azure-native:location": "eastus2",
        "quickstart:deployerPrincipalType": "ServicePrincipal",  # the emulator's deployer is a service principal
    }
    state = workdir / "demo.json"
    secrets: dict[str, str] = {}  # no key, no operator token: the deployer's Entra ID tokens
    print("$ pulumi up   (stack: demo)")
    started = time.monotonic()
    result = run_program(
        "up", QUICKSTART, state, config=config, secrets=secrets, stack="demo", on_step=show_step, entra=login
    )
    print(f"  done in {time.monotonic() - started:.1f} s, after a preview that planned {len(result.preview)} steps")
    outputs = dict(result.outputs)
    print("\nOutputs:")
    for key, value in outputs.items():
        if key != "metrics":
            print(f"  {key:<18} {value}")
    show_metrics(outputs.get("metrics"))
    print("\n$ pulumi destroy")
    run_program(
        "destroy", QUICKSTART, state, config=config, secrets=secrets, stack="demo", on_step=show_step, entra=login
    )
    return outputs


def with_cli(pulumi: str, url: str, workdir: Path) -> dict[str, Any]:
    """The quickstart through the real ``pulumi`` CLI, with a local backend; the account is the emulator's."""
    print(f"Running the quickstart with the pulumi CLI ({pulumi}) and a local file:// backend.\n")
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{workdir}",
        "PULUMI_CONFIG_PASSPHRASE": "demo",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    account = httpx2.post(f"{url}/_emulator/accounts", json={"name": "demoaccount"}).json()

    def run(*args: str, capture: bool = False) -> str:
        done = subprocess.run(
            [pulumi, *args, "--cwd", str(QUICKSTART), "--stack", "demo", "--non-interactive"],
            env=env,
            text=True,
            check=True,
            capture_output=capture,
        )
        return done.stdout or ""

    subprocess.run(
        [pulumi, "stack", "init", "demo", "--cwd", str(QUICKSTART), "--non-interactive"], env=env, check=True
    )
    settings = {
        "azure-openai:armEndpoint": url,
        "azure-openai:pollIntervalSeconds": "0.5",
        "azure-openai:pollMaxSeconds": "2",
        "quickstart:existingAccount": json.dumps({"id": account["id"], "endpoint": account["endpoint"]}),
    }
    for key, value in settings.items():
        run("config", "set", key, value)
    run("config", "set", "--secret", "azure-openai:apiKey", account["keys"][0])
    run("config", "set", "--secret", "azure-openai:armToken", ARM_TOKEN)
    run("up", "--yes")
    outputs: dict[str, Any] = json.loads(run("stack", "output", "--json", capture=True))
    show_metrics(outputs.get("metrics"))
    run("destroy", "--yes")
    run("stack", "rm", "--yes")
    return outputs


def main() -> int:
    """Run the demo; the last line names the deployed model."""
    with tempfile.TemporaryDirectory(prefix="aoai-demo-") as tmp, emulator() as (url, login):
        print(f"Emulator: {url} (clock x{TIME_SCALE:g})\n")
        pulumi = shutil.which("pulumi")
        outputs = with_cli(pulumi, url, Path(tmp)) if pulumi else with_harness(url, login, Path(tmp))
    print("\nEmulator stopped; the stack was destroyed.")
    print(f"Deployed model: {outputs['fine_tuned_model']} as deployment '{outputs['deployment_name']}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
