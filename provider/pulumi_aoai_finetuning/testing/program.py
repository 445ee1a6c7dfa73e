"""Run a Pulumi program directory as ``up``, ``preview``, ``refresh`` or ``destroy`` without the Pulumi CLI.

The entry point of the program harness: :func:`run_program` resolves the stack config (the emulator's,
with ``emulator=True``), refuses an ARM endpoint off the machine unless ``allow_azure``, and runs the
command over the stack's state file, ``up`` after its preview. How the harness runs a program, and what it
does not model: ``docs/harness.md``. CLI: ``python -m pulumi_aoai_finetuning.testing`` (or ``aoai-stack``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .context import _Context
from .deployment import _Deployment
from .dynamic import _Dynamic
from .emulator import ARM_TOKEN, FAST_POLLING, served_private_emulator
from .entra import EntraLogin, private_login, stack_subscription
from .journal import pending_warning
from .program_run import run_once
from .project import Project
from .results import PREVIEW_UNKNOWN, REDACTED, HarnessError, ProgramResult, ProgramStep
from .safety import ARM_ENDPOINT_KEY, NotLoopbackError, require_loopback_arm
from .stack_config import StackConfigError
from .state import _State

__all__ = ["COMMANDS", "PREVIEW_UNKNOWN", "REDACTED", "HarnessError", "ProgramResult", "ProgramStep", "run_program"]

COMMANDS = ("up", "preview", "refresh", "destroy")


def run_program(
    command: str,
    program_dir: str | os.PathLike[str],
    state_file: str | os.PathLike[str],
    *,
    config: Mapping[str, str] | None = None,
    secrets: AbstractSet[str] | Mapping[str, str] | None = None,
    stack: str = "dev",
    stack_references: Mapping[str, str | os.PathLike[str]] | None = None,
    keys_from_arm: bool = True,
    on_step: Callable[[ProgramStep], None] | None = None,
    allow_azure: bool = False,
    emulator: bool = False,
    skip_preview: bool = False,
    parallel: int | None = None,
    clear_pending_creates: bool = False,
    import_pending_creates: Mapping[str, str] | None = None,
    skip_pending_creates: bool = False,
    entra: EntraLogin | None = None,
) -> ProgramResult:
    """Run ``up``, ``preview``, ``refresh`` or ``destroy`` of a Python Pulumi program; raise :class:`HarnessError`.

    ``config`` is the stack config (``pulumi config set``); ``secrets`` names the keys of ``config`` that are
    secret, or maps secret keys to their values (``pulumi config set --secret``). Bare keys belong to the
    project's namespace. ``Pulumi.<stack>.yaml`` in the project supplies plain values underneath.

    Only endpoints on this machine are called unless ``allow_azure``; ``emulator`` serves the run from a
    private emulator whose state is kept beside the state file (``<state>.emulator/``). ``up`` previews the
    program first unless ``skip_preview``; ``parallel`` caps the steps in flight (default: no cap).

    ``refresh`` resolves the pending creates an interrupted run left, as the CLI's flags do:
    ``clear_pending_creates`` drops them, ``import_pending_creates`` ({URN: id}) reads those into the state,
    ``skip_pending_creates`` keeps them (as any non-interactive refresh does).
    """
    if command not in COMMANDS:
        raise HarnessError(f"unknown command {command!r}; use one of {', '.join(COMMANDS)}")
    if skip_pending_creates and clear_pending_creates:
        raise HarnessError("cannot set both --skip-pending-creates and --clear-pending-creates")
    if command != "refresh" and (clear_pending_creates or import_pending_creates):
        raise HarnessError("--clear-pending-creates and --import-pending-creates are options of refresh")
    with ExitStack() as served:
        if emulator:
            directory = Path(f"{Path(state_file).resolve()}.emulator")
            try:
                url, private = served.enter_context(served_private_emulator(directory))
            except OSError as exc:
                raise HarnessError(str(exc)) from None
            # The deployer signs in to the emulator's Entra ID; ARM and keyless accounts then check its roles.
            subscription = stack_subscription(program_dir, stack, config)
            entra = private_login(directory, url, private, subscription)
            config, secrets = _emulator_config(url, config, secrets, arm_token=False)
        return _run_command(
            command,
            program_dir,
            state_file,
            config=config,
            secrets=secrets,
            stack=stack,
            stack_references=stack_references,
            keys_from_arm=keys_from_arm,
            on_step=on_step,
            allow_azure=allow_azure,
            emulator=emulator,
            skip_preview=skip_preview,
            parallel=parallel,
            pending_creates=(clear_pending_creates, dict(import_pending_creates or {})),
            entra=entra,
        )


def _emulator_config(
    url: str,
    config: Mapping[str, str] | None,
    secrets: AbstractSet[str] | Mapping[str, str] | None,
    *,
    arm_token: bool = True,
) -> tuple[dict[str, str], dict[str, str]]:
    """The stack config pointed at a private emulator: its ARM, a token it accepts, quick polling.

    Keys configured for real accounts are dropped: the harness lists the emulator's through its ARM.
    """
    dropped = ("azure-openai:apiKey", "azure-openai:apiKeys", "azure-openai:armToken")
    values = {**FAST_POLLING, **{k: v for k, v in (config or {}).items() if k not in dropped}, ARM_ENDPOINT_KEY: url}
    if isinstance(secrets, Mapping):
        secret_values = {k: str(v) for k, v in secrets.items()}
    else:
        secret_values = {k: values.pop(k) for k in secrets or () if k in values}
    secret_values = {k: v for k, v in secret_values.items() if k not in dropped}
    return values, {**secret_values, "azure-openai:armToken": ARM_TOKEN} if arm_token else secret_values


def _run_command(
    command: str,
    program_dir: str | os.PathLike[str],
    state_file: str | os.PathLike[str],
    *,
    config: Mapping[str, str] | None,
    secrets: AbstractSet[str] | Mapping[str, str] | None,
    stack: str,
    stack_references: Mapping[str, str | os.PathLike[str]] | None,
    keys_from_arm: bool,
    on_step: Callable[[ProgramStep], None] | None,
    allow_azure: bool,
    emulator: bool,
    skip_preview: bool,
    parallel: int | None,
    pending_creates: tuple[bool, dict[str, str]] = (False, {}),
    entra: EntraLogin | None = None,
) -> ProgramResult:
    if parallel is not None and parallel < 1:
        raise HarnessError(f"parallel must be at least 1 (or None: no limit), not {parallel}")
    project = Project.load(program_dir)
    file_config, secure = project.stack_config(stack)
    values = {**file_config, **{project.qualify(k): str(v) for k, v in (config or {}).items()}}
    secret_keys = set()
    if isinstance(secrets, Mapping):
        values.update({project.qualify(k): str(v) for k, v in secrets.items()})
        secret_keys = {project.qualify(k) for k in secrets}
    elif secrets is not None:
        secret_keys = {project.qualify(k) for k in secrets}
    missing = sorted(secure - set(values))
    if missing:
        raise HarnessError(
            f"Pulumi.{stack}.yaml has encrypted values for {', '.join(missing)}: set PULUMI_CONFIG_PASSPHRASE "
            "(or PULUMI_CONFIG_PASSPHRASE_FILE) to the stack's passphrase, or pass them as secrets (--secret KEY=VALUE)"
        )
    state_path = Path(state_file).resolve()
    try:
        crypter = project.crypter(stack)
    except StackConfigError as exc:
        raise HarnessError(str(exc)) from None
    ctx = _Context(
        project,
        stack,
        state_path,
        values,
        secret_keys | (secure & set(values)),
        {k: Path(v).resolve() for k, v in (stack_references or {}).items()},
        keys_from_arm,
        on_step,
        allow_azure,
        emulator,
        parallel,
        crypter,
        *pending_creates,
        entra,
    )
    if not allow_azure:
        configured = bool(values.get(ARM_ENDPOINT_KEY) or os.environ.get("AZURE_OPENAI_ARM_ENDPOINT"))
        try:
            require_loopback_arm(ctx.settings.arm_endpoint, configured)
        except NotLoopbackError as exc:
            raise HarnessError(str(exc)) from None
    dynamic = _Dynamic(ctx)  # one plugin for the whole command, preview and update alike
    try:
        return _execute(ctx, command, dynamic, skip_preview)
    finally:
        dynamic.close()
        ctx.close()


def _program(ctx: _Context, deployment: _Deployment) -> tuple[dict[str, Any], set[str]]:
    """Run the program under ``deployment``, then delete what it left out; the stack outputs."""
    try:
        outputs = run_once(ctx, deployment, preview=deployment.preview)
    except Exception as exc:
        if deployment.error is not None:
            raise deployment.error from None
        if isinstance(exc, HarnessError):
            raise
        raise HarnessError(f"the program failed: {type(exc).__name__}: {exc}") from exc
    deployment.finish_up()
    return outputs


def _execute(ctx: _Context, command: str, dynamic: _Dynamic, skip_preview: bool) -> ProgramResult:
    """One command over the stack's state file."""
    state_path = ctx.state_file
    planned: list[ProgramStep] = []
    if command == "up" and not skip_preview:
        # The CLI's `up` previews the whole program first: a failed Check anywhere stops it before any change.
        plan = _Deployment(ctx, _State.load(state_path, ctx.project.name, ctx.stack, ctx.crypter), "preview", dynamic)
        _program(ctx, plan)
        planned = plan.steps
    state = _State.load(state_path, ctx.project.name, ctx.stack, ctx.crypter)
    deployment = _Deployment(ctx, state, command, dynamic)
    if command != "refresh":  # refresh is where they are resolved
        warning = pending_warning(state.pending_operations)
        if warning is not None:
            deployment.warnings.append(warning)
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    if command in ("up", "preview"):
        try:
            outputs, secret_outputs = _program(ctx, deployment)
            if command == "up":
                state.outputs, state.secret_outputs = outputs, sorted(secret_outputs)
        finally:
            if command == "up":  # the engine saves what it did, even when a step failed
                state.resources = deployment.new_state()
                state.pending_operations = deployment.journal.operations()
                state.save(state_path)
    elif command == "refresh":
        try:
            deployment.refresh()
        finally:
            state.pending_operations = deployment.journal.operations()
            state.save(state_path)
        secret_outputs = set(state.secret_outputs)
        outputs = {k: REDACTED if k in secret_outputs else v for k, v in state.outputs.items()}
    else:
        try:
            deployment.destroy()
            state.outputs, state.secret_outputs = {}, []
        finally:
            state.pending_operations = deployment.journal.operations()
            state.save(state_path)
    diagnostics = "".join(dynamic.diagnostics) + (dynamic.plugin.stderr() if dynamic.plugin else "")
    result = ProgramResult(
        command, ctx.stack, deployment.steps, outputs, secret_outputs, deployment.drift, diagnostics, planned
    )
    result.warnings = deployment.warnings
    result.pending_operations = [(op["type"], op["resource"]["urn"]) for op in state.pending_operations]
    return result


if __name__ == "__main__":
    # The imported modules' classes, not a second copy of this module's: errors must be recognised as theirs.
    from pulumi_aoai_finetuning.testing.command_line import main

    sys.exit(main())
