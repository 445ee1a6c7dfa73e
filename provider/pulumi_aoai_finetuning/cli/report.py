"""``aoai-ft report``: a job's final and best metrics, its checkpoints, its training curves and its evaluations."""

from __future__ import annotations

import argparse
import base64
import html
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..client import final_metrics
from . import charts, connection, evaluations, tables
from .connection import CliError
from .formatting import number, timestamp

CHECKPOINT_METRICS = ("train_loss", "valid_loss", "full_valid_loss", "full_valid_mean_token_accuracy")


@dataclass(frozen=True)
class Metric:
    """A column of ``results.csv``: its final value and, for losses and accuracies, its best and where."""

    name: str
    final: float
    best: float | None
    best_step: float | None


@dataclass(frozen=True)
class Results:
    """What a report shows about one job."""

    job: dict[str, Any]
    rows: list[dict[str, str]]
    checkpoints: list[dict[str, Any]]

    @property
    def title(self) -> str:
        """``ftjob-... · base model``."""
        return f"{self.job.get('id', '')} · {self.job.get('model', '')}"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``report``."""
    p = subparsers.add_parser(
        "report",
        help="final and best metrics, checkpoints and training curves of a job",
        description="Download a job's results.csv; print its final and best metrics and its checkpoints; draw "
        "the loss and mean token accuracy curves to a PNG (--out) and an HTML report (--html), or a sparkline "
        "of the training loss in the terminal.",
    )
    connection.add_arguments(p, job=True)
    p.add_argument("--out", type=Path, metavar="PNG", help="draw the training curves to this PNG file")
    p.add_argument("--html", type=Path, metavar="HTML", help="write an HTML report (tables and curves) to this file")
    p.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="EVAL_ID",
        help="add this eval's results (pass rates of the model and its baseline); with --stack, the stack's "
        "Evaluation resources and eval_ outputs are added without it",
    )
    return p


def run(args: argparse.Namespace, console: Console) -> int:
    """Fetch the job's results and show them."""
    target = connection.resolve(args, job=True)
    results = fetch(target)
    metrics = summarize(results.rows)
    console.print(_heading(results))
    console.print()
    console.print(metrics_table(metrics))
    print_checkpoints(console, results.checkpoints)
    evaluated = _evaluations(args, target)
    evaluations.print_evaluations(console, evaluated)
    steps = [float(c["step_number"]) for c in results.checkpoints if isinstance(c.get("step_number"), int | float)]
    image: bytes | None = None
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)  # e.g. a CI job's artifacts folder, not made yet
        charts.draw(results.rows, steps, str(args.out), results.title)
        console.print(Text(f"curves: {args.out}", style="bold"))
    else:
        train = charts.series(results.rows, "train_loss")
        if train is not None:
            width = max(10, min(80, console.width - 40))
            line = charts.sparkline(train.values, width)
            console.print(
                Text.assemble(
                    "train loss  ",
                    number(train.values[0]),
                    " ",
                    (line, "cyan"),
                    " ",
                    number(train.values[-1]),
                    (f"  (steps {number(train.steps[0])}-{number(train.steps[-1])})", "dim"),
                )
            )
    if args.html is not None:
        if args.out is None:
            buffer = io.BytesIO()
            charts.draw(results.rows, steps, buffer, results.title)
            image = buffer.getvalue()
        args.html.parent.mkdir(parents=True, exist_ok=True)
        page = html_report(
            results, metrics, args.html, args.out, image, evaluated=evaluations.html_evaluations(evaluated)
        )
        args.html.write_text(page, encoding="utf-8")
        console.print(Text(f"report: {args.html}", style="bold"))
    return 0


def _evaluations(args: argparse.Namespace, target: connection.Target) -> list[evaluations.EvaluationResult]:
    """The evals named by ``--eval`` and those the stack holds, read from the job's account."""
    ids = list(args.eval) + (evaluations.stack_eval_ids(args.stack) if args.stack else [])
    if not ids:
        return []
    client = target.client()
    try:
        return evaluations.fetch_evaluations(client, list(dict.fromkeys(ids)))
    finally:
        client.close()


def fetch(target: connection.Target) -> Results:
    """The job, its ``results.csv`` rows and its checkpoints (oldest first)."""
    assert target.job_id is not None  # resolve(job=True) guarantees it
    client = target.client()
    try:
        job = client.get_job(target.job_id)
        files = [f for f in job.get("result_files") or [] if isinstance(f, str)]
        if not files:
            raise CliError(
                f"job {target.job_id} has no results.csv yet (status {job.get('status')}): the service writes it "
                f"when the job succeeds; follow it with `{target.command('watch')}`"
            )
        rows = client.results(files[0])
        checkpoints = sorted(client.job_checkpoints(target.job_id), key=lambda c: float(c.get("step_number") or 0))
    finally:
        client.close()
    return Results(job, rows, checkpoints)


def summarize(rows: Sequence[dict[str, str]]) -> list[Metric]:
    """Every metric's final value (as ``final_metrics`` computes it) and its best value over the run."""
    final = final_metrics(list(rows))
    out = []
    for name, value in final.items():
        if name == "step":
            continue
        best, best_step = _best(rows, name)
        out.append(Metric(name, value, best, best_step))
    return out


def _best(rows: Sequence[dict[str, str]], name: str) -> tuple[float | None, float | None]:
    lower = "loss" in name
    if not lower and "accuracy" not in name:
        return None, None
    found = charts.series(rows, name)
    if found is None:
        return None, None
    pick = min if lower else max
    best = pick(found.values)
    return best, found.steps[found.values.index(best)]


def _heading(results: Results) -> Group:
    job = results.job
    final_step = charts.series(results.rows, "step")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(no_wrap=True)  # the fine-tuned model's name is copied from here: never wrapped
    grid.add_row("status", str(job.get("status")))
    grid.add_row("fine-tuned model", str(job.get("fine_tuned_model") or "-"))
    grid.add_row("trained tokens", _count(job.get("trained_tokens")))
    grid.add_row("steps", number(final_step.values[-1]) if final_step else "-")
    return Group(Text(results.title, style="bold"), grid)


def metrics_table(metrics: Sequence[Metric]) -> Table:
    """Final and best value of every metric."""
    table = Table(title="Metrics (results.csv)", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("metric")
    table.add_column("final", justify="right")
    table.add_column("best", justify="right")
    table.add_column("best at step", justify="right")
    for m in metrics:
        table.add_row(m.name, number(m.final), number(m.best), number(m.best_step))
    return table


# The checkpoint's model name (what a Deployment of it needs) stays whole; metric columns fold, then go.
CHECKPOINT_COLUMNS = (
    tables.Column("step", justify="right"),
    *(
        tables.Column(
            name.replace("_", " ").replace("mean token accuracy", "accuracy"), justify="right", fold_to=8, drop=4 - n
        )
        for n, name in enumerate(CHECKPOINT_METRICS)
    ),
    tables.Column("checkpoint model", whole=True),
)


def print_checkpoints(console: Console, checkpoints: Sequence[dict[str, Any]]) -> None:
    """The job's checkpoints: step, metrics and model name, which is never wrapped."""
    rows = [
        [
            number(_float(c.get("step_number"))),
            *(number(_float((c.get("metrics") or {}).get(name))) for name in CHECKPOINT_METRICS),
            str(c.get("fine_tuned_model_checkpoint", "")),
        ]
        for c in checkpoints
    ]
    tables.print_table(console, "Checkpoints", CHECKPOINT_COLUMNS, rows)


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "-"


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def html_report(
    results: Results,
    metrics: Sequence[Metric],
    html_path: Path,
    png_path: Path | None,
    image: bytes | None,
    *,
    evaluated: str = "",
) -> str:
    """A self-contained HTML page: job facts, the curves (a relative link to the PNG, or the PNG inline), tables."""
    if png_path is not None:
        # A relative link keeps the report and its picture movable together (a CI artifact folder, say).
        src = Path(os.path.relpath(png_path.resolve(), html_path.resolve().parent)).as_posix()
    else:
        src = "data:image/png;base64," + base64.b64encode(image or b"").decode("ascii")
    esc = html.escape
    job = results.job
    facts = [
        ("job", job.get("id")),
        ("base model", job.get("model")),
        ("status", job.get("status")),
        ("fine-tuned model", job.get("fine_tuned_model")),
        ("trained tokens", _count(job.get("trained_tokens"))),
        ("created", timestamp(job.get("created_at")) + " UTC"),
        ("finished", timestamp(job.get("finished_at")) + " UTC"),
    ]
    fact_rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(str(v if v is not None else '-'))}</td></tr>" for k, v in facts)
    metric_rows = "".join(
        f"<tr><td>{esc(m.name)}</td><td>{number(m.final)}</td><td>{number(m.best)}</td>"
        f"<td>{number(m.best_step)}</td></tr>"
        for m in metrics
    )
    checkpoint_rows = "".join(
        f"<tr><td>{number(_float(c.get('step_number')))}</td>"
        f"<td><code>{esc(str(c.get('fine_tuned_model_checkpoint', '')))}</code></td>"
        + "".join(f"<td>{number(_float((c.get('metrics') or {}).get(n)))}</td>" for n in CHECKPOINT_METRICS)
        + "</tr>"
        for c in results.checkpoints
    )
    checkpoint_head = "".join(f"<th>{esc(n)}</th>" for n in CHECKPOINT_METRICS)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Fine-tuning report: {esc(str(job.get("id", "")))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
th, td {{ padding: 0.25rem 0.75rem; border-bottom: 1px solid #ddd; text-align: left; }}
td:not(:first-child) {{ font-variant-numeric: tabular-nums; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
<h1>Fine-tuning report: {esc(results.title)}</h1>
<table>{fact_rows}</table>
<img src="{esc(src)}" alt="Loss and mean token accuracy by step, training and validation, checkpoints marked">
<h2>Metrics</h2>
<table><tr><th>metric</th><th>final</th><th>best</th><th>best at step</th></tr>{metric_rows}</table>
<h2>Checkpoints</h2>
<table><tr><th>step</th><th>checkpoint model</th>{checkpoint_head}</tr>{checkpoint_rows}</table>
{evaluated}
</body>
</html>
"""
