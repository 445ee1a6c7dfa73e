"""The program harness's command line: ``python -m pulumi_aoai_finetuning.testing up PROGRAM_DIR ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .program import COMMANDS, run_program
from .results import PREVIEW_UNKNOWN, SHOWN_UNKNOWN, HarnessError, ProgramStep

_SYMBOLS = {
    "create": "+",
    "same": " ",
    "update": "~",
    "replace": "+-",
    "delete": "-",
    "delete-replaced": "-",
    "refresh": "~",
    "refresh-deleted": "-",
    "import": "=",
}


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key, value


class _StepPrinter:
    """Prints each step as it happens, under a heading when the command moves from its preview to its update."""

    TITLES = {"up": "Updating", "preview": "Previewing update", "refresh": "Refreshing", "destroy": "Destroying"}

    def __init__(self, command: str, stack: str, diff: bool = False) -> None:
        self.command = command
        self.stack = stack
        self.diff = diff
        self.heading = ""

    def __call__(self, step: ProgramStep) -> None:
        """Print one step, what changes (``--diff``: from what to what), and why it replaces."""
        self.head("preview" if step.preview else self.command)
        print(f"    {_SYMBOLS.get(step.op, '?'):>2} {step.op:<16} {step.type:<48} {step.name}{_why(step)}", flush=True)
        if self.diff:
            for change in step.changed:
                forced = " (forces replacement)" if change.name in step.replaces else ""
                print(f"          {change.name}: {change.old or '(none)'} => {change.new or '(none)'}{forced}")

    def head(self, phase: str) -> None:
        """Print the heading of ``phase`` unless it is the current one."""
        if phase != self.heading:
            self.heading = phase
            print(f"{self.TITLES[phase]} ({self.stack}):", flush=True)


def _why(step: ProgramStep) -> str:
    """What the step line adds: the changed properties, what forces a replacement, a paid training run."""
    parts = []
    if step.replaces:
        parts.append(f"[replace because of: {', '.join(step.replaces)}]")
    others = [c.name for c in step.changed if c.name not in step.replaces]
    if others:
        parts.append(f"[{'drift' if step.op == 'refresh' else 'diff'}: {', '.join(others)}]")
    if step.paid_training:
        planned = "would start" if step.preview else "started"
        parts.append(f"<- {planned} a new paid training run")
    return "  " + " ".join(parts) if parts else ""


def main(argv: list[str] | None = None) -> int:
    """``python -m pulumi_aoai_finetuning.testing up|preview|refresh|destroy PROGRAM_DIR ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m pulumi_aoai_finetuning.testing",
        description="Run a Python Pulumi program like the CLI would, against the real dynamic-provider "
        "plugin and an ARM endpoint (the emulator's), keeping the state in a JSON file.",
    )
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("program_dir", type=Path)
    parser.add_argument("--state", type=Path, required=True, help="the stack's state file (JSON)")
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--config", type=_pair, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--secret", type=_pair, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--stack-ref", type=_pair, action="append", default=[], metavar="NAME=STATE_FILE", help="a StackReference"
    )
    parser.add_argument("--no-arm-keys", action="store_true", help="never list account keys through ARM")
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="serve the run from a private emulator (its state kept in STATE.emulator/) and point the stack at it",
    )
    parser.add_argument(
        "--allow-azure",
        action="store_true",
        help="allow endpoints off this machine (real Azure, billed); without it only loopback ones are called",
    )
    parser.add_argument("--skip-preview", action="store_true", help="up: do not preview the program first")
    parser.add_argument("--diff", action="store_true", help="show the old and new value of each changed property")
    parser.add_argument(
        "--parallel", type=int, metavar="N", help="at most N resource steps at once (default: no limit, as the CLI)"
    )
    parser.add_argument(
        "--clear-pending-creates", action="store_true", help="refresh: drop the pending creates an interrupted run left"
    )
    parser.add_argument(
        "--import-pending-creates",
        nargs="+",
        default=[],
        metavar="URN ID",
        help="refresh: read these pending creates into the state by their ids ([[URN ID]...])",
    )
    parser.add_argument(
        "--skip-pending-creates", action="store_true", help="refresh: keep the pending creates (the default here)"
    )
    args = parser.parse_args(argv)
    if len(args.import_pending_creates) % 2:
        parser.error("each URN must be followed by an ID: found an odd number of entries")
    imports = dict(zip(args.import_pending_creates[::2], args.import_pending_creates[1::2], strict=True))
    printer = _StepPrinter(args.command, args.stack, diff=args.diff)
    printer.head("preview" if args.command == "up" and not args.skip_preview else args.command)
    try:
        result = run_program(
            args.command,
            args.program_dir,
            args.state,
            config=dict(args.config),
            secrets=dict(args.secret),
            stack=args.stack,
            stack_references=dict(args.stack_ref),
            keys_from_arm=not args.no_arm_keys,
            on_step=printer,
            allow_azure=args.allow_azure,
            emulator=args.emulator,
            skip_preview=args.skip_preview,
            parallel=args.parallel,
            clear_pending_creates=args.clear_pending_creates,
            import_pending_creates=imports,
            skip_pending_creates=args.skip_pending_creates,
        )
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.diagnostics.strip():
        print("Diagnostics (the dynamic-provider plugin):")
        print("\n".join(f"    {line}" for line in result.diagnostics.strip().splitlines()))
    if result.outputs:
        print("Outputs:")
        for name, value in result.outputs.items():
            if name in result.secret_outputs:
                shown = "[secret]"
            elif value == PREVIEW_UNKNOWN and args.command == "preview":
                shown = SHOWN_UNKNOWN
            else:
                shown = json.dumps(value)
            print(f"    {name}: {shown}")
    counts: dict[str, int] = {}
    for step in result.steps:
        counts[step.op] = counts.get(step.op, 0) + 1
    print("Resources: " + ", ".join(f"{n} {op}" for op, n in counts.items()))
    return 0
