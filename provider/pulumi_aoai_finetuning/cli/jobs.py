"""``aoai-ft jobs``: the account's recent fine-tuning jobs as a table."""

from __future__ import annotations

import argparse
from itertools import islice

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import connection
from .formatting import timestamp
from .watch import STATUS_STYLES


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
    table = Table(title=f"Fine-tuning jobs at {target.endpoint}", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("model", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("fine-tuned model", overflow="fold")
    table.add_column("created (UTC)", no_wrap=True)
    for job in jobs:
        status = str(job.get("status", ""))
        table.add_row(
            str(job.get("id", "")),
            str(job.get("model", "")),
            Text(status, style=STATUS_STYLES.get(status, "")),
            str(job.get("fine_tuned_model") or "-"),
            timestamp(job.get("created_at")),
        )
    if not jobs:
        table.add_row("-", "no jobs", "", "", "")
    console.print(table)
    return 0
