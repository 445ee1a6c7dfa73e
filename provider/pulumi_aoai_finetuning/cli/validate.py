"""``aoai-ft validate``: the dataset check ``TrainingFile`` runs at preview, standalone (pre-commit hooks, CI)."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.text import Text

from ..datasets import MAX_BYTES, MIN_EXAMPLES, DatasetReport, validate_file
from .formatting import size


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``validate``."""
    p = subparsers.add_parser(
        "validate",
        help="check fine-tuning JSONL files exactly as TrainingFile does at preview",
        description="Check fine-tuning JSONL files with the validator TrainingFile runs at preview. "
        "Exit status 0 when every file can be uploaded as it is, 1 when any has an error.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL dataset files")
    p.add_argument("--json", action="store_true", help="print one JSON document for machines instead of text")
    p.add_argument(
        "--max-errors",
        type=_positive,
        default=20,
        metavar="N",
        help="errors listed per file (default 20, as the provider)",
    )
    p.add_argument(
        "--max-bytes",
        type=_positive,
        default=MAX_BYTES,
        metavar="N",
        help=f"refuse files of this size or larger (default {MAX_BYTES}, the service's limit)",
    )
    p.add_argument(
        "--min-examples",
        type=int,
        default=MIN_EXAMPLES,
        metavar="N",
        help=f"refuse files with fewer examples (default {MIN_EXAMPLES}, the service's minimum)",
    )
    return p


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run(args: argparse.Namespace, console: Console) -> int:
    """Validate every file; 0 when all are fine, 1 when any has an error."""
    reports = [
        validate_file(path, max_errors=args.max_errors, max_bytes=args.max_bytes, min_examples=args.min_examples)
        for path in args.files
    ]
    ok = all(r.ok for r in reports)
    if args.json:
        document = {"ok": ok, "files": [{"ok": r.ok, **r.to_json()} for r in reports]}
        # print(), not the console: a machine reader needs the JSON unwrapped and without markup.
        print(json.dumps(document, indent=2))
        return 0 if ok else 1
    for report in reports:
        _show(report, console)
    bad = sum(not r.ok for r in reports)
    if len(reports) > 1:
        summary = f"{len(reports) - bad} of {len(reports)} files ok" + (f", {bad} with errors" if bad else "")
        console.print(Text(summary, style="bold green" if ok else "bold red"))
    return 0 if ok else 1


def _show(report: DatasetReport, console: Console) -> None:
    verdict = Text("ok", style="bold green") if report.ok else Text(_errors(report), style="bold red")
    facts = [
        report.format or "format unknown",
        f"{report.examples:,} examples",
        f"~{report.tokens_estimate:,} tokens",
        size(report.size),
        f"sha256 {report.sha256}" if report.sha256 else "not hashed",
    ]
    line = Text.assemble((report.path, "bold"), "  ", verdict, "  ", (" · ".join(facts), "dim"))
    console.print(line, soft_wrap=True)
    for error in report.errors:
        # soft_wrap: one error per line whatever the terminal width, so editors and CI can parse file:line.
        console.print(Text(f"  {error}"), soft_wrap=True)
    if report.truncated:
        console.print(Text(f"  {report.path}: more errors not shown; fix these and run again"), soft_wrap=True)


def _errors(report: DatasetReport) -> str:
    count = len(report.errors)
    return f"{count}{'+' if report.truncated else ''} error{'s' if count != 1 or report.truncated else ''}"
