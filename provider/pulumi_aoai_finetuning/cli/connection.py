"""Which account and job a command talks to: ``--endpoint`` and credentials (as the providers resolve them), or a stack."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config
from ..client import DataPlaneClient
from ..client.security import insecure_reason

DEFAULT_KEY_ENV = "AZURE_OPENAI_API_KEY"
PULUMI_TIMEOUT_S = 120.0  # `pulumi stack output` may log in to a backend first; never hang a CI job forever


class CliError(Exception):
    """A problem the user can fix (a missing option, an unusable value); printed without a traceback."""


@dataclass(frozen=True)
class Target:
    """An account endpoint, the job in it (when the command takes one) and the resolved settings."""

    endpoint: str
    job_id: str | None
    settings: config.Settings
    stack: str | None = None
    api_version_arg: str | None = None

    def client(self) -> DataPlaneClient:
        """A data-plane client built as the providers build theirs, with its own connections (one command)."""
        return self.settings.data_client(self.endpoint, pooled=False)

    def command(self, name: str) -> str:
        """The command line that runs ``aoai-ft <name>`` against the same job again (resume hints)."""
        parts = ["aoai-ft", name]
        if self.stack:
            parts += ["--stack", self.stack]
        else:
            parts += [self.job_id or "", "--endpoint", self.endpoint]
        if self.api_version_arg:
            parts += ["--api-version", self.api_version_arg]
        return shlex.join(p for p in parts if p)


def add_arguments(parser: argparse.ArgumentParser, *, job: bool, polling: bool = False) -> None:
    """The options every command that calls the service takes."""
    if job:
        parser.add_argument("job_id", nargs="?", metavar="JOB_ID", help="the fine-tuning job (ftjob-...)")
    parser.add_argument("--endpoint", metavar="URL", help="the account's endpoint, https://<account>.openai.azure.com/")
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        default=DEFAULT_KEY_ENV,
        help=f"environment variable holding the account key (default {DEFAULT_KEY_ENV}); "
        "when it is unset, Microsoft Entra ID (DefaultAzureCredential) signs the requests",
    )
    parser.add_argument(
        "--api-version",
        metavar="VERSION",
        help="v1 or a dated version such as 2025-04-01-preview (default: $AZURE_OPENAI_API_VERSION, else v1)",
    )
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="take the endpoint" + (" and the job id" if job else "") + " from this Pulumi stack's outputs "
        "(needs the pulumi CLI, run from the project directory), or from a stack state file (or its directory) "
        "as `pulumi stack export` or the program harness writes it",
    )
    if job:
        parser.add_argument(
            "--job-output", metavar="KEY", default="job_id", help="the stack output holding the job id (default job_id)"
        )
    parser.add_argument(
        "--endpoint-output",
        metavar="KEY",
        default="endpoint",
        help="the stack output holding the endpoint (default endpoint)",
    )
    if polling:
        parser.add_argument(
            "--poll-interval",
            type=float,
            metavar="SECONDS",
            help="first wait between polls (default 2, as the provider); it grows 1.5x per poll",
        )
        parser.add_argument(
            "--poll-max", type=float, metavar="SECONDS", help="the cap of that wait (default 45, as the provider)"
        )


def settings_from(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> config.Settings:
    """Settings resolved by the provider's own rules, with the key read from ``--api-key-env``."""
    environ = os.environ if environ is None else environ
    cli_config = {
        "azure-openai:apiVersion": args.api_version,
        "azure-openai:pollIntervalSeconds": _number(getattr(args, "poll_interval", None)),
        "azure-openai:pollMaxSeconds": _number(getattr(args, "poll_max", None)),
    }
    # The provider reads the key from AZURE_OPENAI_API_KEY; --api-key-env points that lookup at another variable,
    # and an unset variable means Entra ID, as it does for the provider.
    env = {**environ, "AZURE_OPENAI_API_KEY": environ.get(args.api_key_env, "")}
    try:
        return config.resolve(cli_config.get, env)
    except config.ConfigError as e:
        raise CliError(str(e).replace("azure-openai:apiVersion", "--api-version")) from None


def _number(value: float | None) -> str | None:
    return None if value is None else repr(value)


def resolve(args: argparse.Namespace, *, job: bool) -> Target:
    """The endpoint and job of a command, from its options or from ``--stack``."""
    endpoint: str | None = args.endpoint
    job_id: str | None = getattr(args, "job_id", None) if job else None
    if args.stack and (endpoint is None or (job and job_id is None)):
        outputs = stack_outputs(args.stack)
        if endpoint is None:
            endpoint = _output(
                outputs,
                args.endpoint_output,
                args.stack,
                value_of="account.properties.endpoint",
                option="--endpoint-output",
                direct="--endpoint URL",
            )
        if job and job_id is None:
            job_id = _job_output(outputs, args.job_output, args.stack)
    if job and not job_id:
        raise CliError("give a JOB_ID (ftjob-...) or --stack NAME to read it from a stack's outputs")
    if not endpoint:
        raise CliError("give --endpoint https://<account>.openai.azure.com/ or --stack NAME to read it from a stack")
    if not endpoint.startswith(("https://", "http://")):
        raise CliError(
            f"--endpoint must be an https:// URL such as https://<account>.openai.azure.com/, not {endpoint!r}"
        )
    reason = insecure_reason(endpoint)
    if reason is not None:
        raise CliError(f"--endpoint {endpoint!r}: {reason}")
    return Target(endpoint, job_id, settings_from(args), args.stack, args.api_version)


def stack_outputs(stack: str) -> dict[str, Any]:
    """A stack's outputs: from a state file (or a directory holding one), else ``pulumi stack output --json``."""
    if os.path.exists(stack):
        return harness_outputs(Path(stack))
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise CliError(
            "--stack needs the pulumi CLI on PATH (https://www.pulumi.com/docs/iac/download-install/); "
            "without it, pass JOB_ID and --endpoint"
        )
    try:
        done = subprocess.run(  # noqa: S603 - a fixed argv; the stack name is passed as one argument
            [pulumi, "stack", "output", "--json", "--stack", stack],
            capture_output=True,
            text=True,
            timeout=PULUMI_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CliError(f"`pulumi stack output --stack {stack}` did not answer within {PULUMI_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        detail = done.stderr.strip() or done.stdout.strip()
        raise CliError(f"`pulumi stack output --json --stack {stack}` failed: {detail}")
    try:
        outputs = json.loads(done.stdout or "{}")
    except ValueError:
        raise CliError(f"`pulumi stack output --json --stack {stack}` did not print JSON") from None
    if not isinstance(outputs, dict):
        raise CliError(f"`pulumi stack output --json --stack {stack}` did not print an object of outputs")
    return outputs


def harness_outputs(path: Path) -> dict[str, Any]:
    """The outputs of a stack state file (``pulumi stack export``'s format, or the program harness's older one).

    A directory must hold exactly one such ``*.json`` file, as the harness's ``--state`` directory of one stack.
    """
    from ..testing import checkpoint  # noqa: PLC0415 - the Pulumi SDK (testing/ needs it) loads for --stack FILE only

    if path.is_dir():
        found = sorted(p for p in path.glob("*.json") if _is_state(p))
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise CliError(
                f"--stack {path}: a directory must hold exactly one stack state file (*.json), found {names}"
            )
        path = found[0]
    try:
        return checkpoint.load(path, checkpoint.OPAQUE).outputs
    except checkpoint.StateFormatError as exc:
        raise CliError(f"--stack {path}: {exc}") from None


def _is_state(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and ("deployment" in data or data.get("version") == 1)


def _output(outputs: Mapping[str, Any], key: str, stack: str, *, value_of: str, option: str, direct: str) -> str:
    value = outputs.get(key)
    if not isinstance(value, str) or not value:
        raise CliError(
            f'stack {stack} has no string output {key!r}; export it (pulumi.export("{key}", {value_of})), '
            f"name another output with {option}, or pass {direct}"
        )
    return value


def _job_output(outputs: Mapping[str, Any], key: str, stack: str) -> str:
    if key in outputs:
        return _output(outputs, key, stack, value_of="job.job_id", option="--job-output", direct="JOB_ID")
    # A stack that exports exactly one job id under another name is unambiguous: use it.
    ids = [v for v in outputs.values() if isinstance(v, str) and v.startswith("ftjob-")]
    if len(ids) == 1:
        return ids[0]
    return _output(outputs, key, stack, value_of="job.job_id", option="--job-output", direct="JOB_ID")
