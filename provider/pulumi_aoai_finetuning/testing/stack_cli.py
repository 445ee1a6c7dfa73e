"""``aoai-stack``: run your own stack offline as ``pulumi`` would, with the program harness.

Run from the project directory (``Pulumi.yaml``), or name it with ``-C DIR``::

    aoai-stack up --emulator                 # preview, then update, against a private emulator
    aoai-stack preview --diff
    aoai-stack refresh [--clear-pending-creates | --import-pending-creates URN ID ...]
    aoai-stack destroy --emulator
    aoai-stack stack output [NAME] [--json]
    aoai-stack config set [--secret] KEY VALUE
    aoai-stack config [get KEY]

The state is a Pulumi deployment (``pulumi stack import --file`` takes it) in ``.aoai-stack/<stack>.json``
under the project (``--state FILE`` elsewhere); the config is the project's ``Pulumi.<stack>.yaml``, with
secrets encrypted as the CLI's passphrase secrets manager does (``PULUMI_CONFIG_PASSPHRASE``). The stack is
``dev`` unless ``--stack``/``-s`` (or ``PULUMI_STACK``) names another. See ``docs/harness.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import checkpoint
from .command_line import main as run_command
from .project import Project
from .results import HarnessError
from .stack_config import StackConfig, StackConfigError

STATE_DIR = ".aoai-stack"
RUN_COMMANDS = ("up", "preview", "refresh", "destroy")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aoai-stack",
        description="Run a Python Pulumi stack offline as the pulumi CLI would: the real dynamic-provider plugin, "
        "the emulator's ARM, the CLI's state and config formats. Commands up, preview, refresh, destroy take the "
        "options of `python -m pulumi_aoai_finetuning.testing` (--emulator, --allow-azure, --diff, ...).",
    )
    parser.add_argument("-C", "--cwd", type=Path, default=Path(), help="the project directory (default: here)")
    parser.add_argument("-s", "--stack", default=os.environ.get("PULUMI_STACK") or "dev")
    parser.add_argument("--state", type=Path, help=f"the state file (default: {STATE_DIR}/<stack>.json)")
    parser.add_argument("command", help="up | preview | refresh | destroy | stack output | config ...")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``aoai-stack`` console script."""
    args = _parser().parse_args(argv)
    project_dir = args.cwd.resolve()
    state = (args.state or project_dir / STATE_DIR / f"{args.stack}.json").resolve()
    try:
        if args.command in RUN_COMMANDS:
            rest = [a for a in args.rest if a not in ("--yes", "-y")]  # never interactive: the CLI's -y is implied
            return run_command([args.command, str(project_dir), "--state", str(state), "--stack", args.stack, *rest])
        if args.command == "stack":
            return _stack(args.rest, state)
        if args.command == "config":
            return _config(args.rest, Project.load(project_dir), args.stack)
    except (HarnessError, StackConfigError, checkpoint.StateFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"error: unknown command {args.command!r}; use {', '.join(RUN_COMMANDS)}, stack output or config",
        file=sys.stderr,
    )
    return 2


def _stack(argv: Sequence[str], state: Path) -> int:
    parser = argparse.ArgumentParser(prog="aoai-stack stack output")
    parser.add_argument("output", choices=["output"])
    parser.add_argument("name", nargs="?")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not state.is_file():
        raise HarnessError(f"{state}: no state yet; run `aoai-stack up` first")
    data = checkpoint.load(state)
    shown = {k: "[secret]" if k in data.secret_outputs else v for k, v in data.outputs.items()}
    if args.name is not None:
        if args.name not in shown:
            raise HarnessError(f"current stack does not have output property {args.name!r}")
        value = shown[args.name]
        print(json.dumps(value) if args.json or not isinstance(value, str) else value)
    elif args.json:
        print(json.dumps(shown, indent=2, sort_keys=True))
    else:
        print(f"Current stack outputs ({len(shown)}):")
        width = max((len(k) for k in shown), default=6)
        print(f"    {'OUTPUT':<{width}}  VALUE")
        for key, value in sorted(shown.items()):
            print(f"    {key:<{width}}  {value if isinstance(value, str) else json.dumps(value)}")
    return 0


def _config(argv: Sequence[str], project: Project, stack: str) -> int:
    parser = argparse.ArgumentParser(prog="aoai-stack config")
    parser.add_argument("action", nargs="?", choices=["set", "get"], default=None)
    parser.add_argument("key", nargs="?")
    parser.add_argument("value", nargs="?")
    parser.add_argument("--secret", action="store_true", help="set: store the value encrypted")
    parser.add_argument("--show-secrets", action="store_true", help="list: show secret values in plaintext")
    args = parser.parse_intermixed_args(argv)  # `set --secret KEY VALUE`, as the CLI takes it
    file = StackConfig.load(project.directory / f"Pulumi.{stack}.yaml")
    if args.action == "set":
        if args.key is None or args.value is None:
            parser.error("config set needs KEY and VALUE")
        file.set(project.qualify(args.key), args.value, secret=args.secret)
        file.save()
        return 0
    values, secure = file.values(project.qualify, file.crypter() if args.show_secrets or args.action else None)
    if args.action == "get":
        key = project.qualify(args.key or "")
        if key in secure and key not in values:
            raise HarnessError(f"{key} is encrypted: set PULUMI_CONFIG_PASSPHRASE (or ..._FILE) to read it")
        if key not in values:
            raise HarnessError(f"configuration key {key!r} not found for stack {stack!r}")
        print(values[key])
        return 0
    print(f"{'KEY':<40}  VALUE")
    for key in sorted({*values, *secure}):
        shown = values[key] if key in values and (key not in secure or args.show_secrets) else "[secret]"
        print(f"{key:<40}  {shown}")
    return 0
