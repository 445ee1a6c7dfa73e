"""``aoai-ft jobs``: the account's recent fine-tuning jobs as a table."""

from __future__ import annotations

import argparse
from itertools import islice

from rich.console import Console
from rich.text import Text

from . import connection, tables
from .formatting import timestamp
from .watch import STATUS_STYLES

# The job id and the fine-tuned model (what a Deployment needs) stay whole; the rest folds or goes first.
COLUMNS = (
    tables.Column("id", whole=True),
    tables.Column("model", fold_to=12, drop=2),
    tables.Column("status"),
    tables.Column("fine-tuned model", whole=True),
    tables.Column("created (UTC)", fold_to=10, drop=1),
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``jobs``."""
    p = subparsers.add_parser(
        "jobs", help="list an account's recent fine-tuning jobs", description="List recent fine-tuning jobs."
    )
    connection.add_arguments(p, job=False)
    p.add_argument("--limit", type=int, default=20, metavar="N", help="how many of the newest jobs (default 20)")
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the newest jobs, newest first."""
    target = connection.resolve(args, job=False)
    client = target.client()
    try:
        jobs = list(islice(client.list_jobs(), max(0, args.limit)))
    finally:
        client.close()
    rows: list[list[tables.Cell]] = []
    for job in jobs:
        status = str(job.get("status", ""))
        rows.append(
            [
                str(job.get("id", "")),
                str(job.get("model", "")),
                Text(status, style=STATUS_STYLES.get(status, "")),
                str(job.get("fine_tuned_model") or "-"),
                timestamp(job.get("created_at")),
            ]
        )
    tables.print_table(console, f"Fine-tuning jobs at {target.endpoint}", COLUMNS, rows, empty="no jobs")
    return 0
