"""The evaluations a report adds: found in a stack (its Evaluation resources, ``eval_`` outputs), read from the service."""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from ..client import DataPlaneClient, NotFoundError
from ..client.evals import EvalsClient, overall_rate, pass_rates
from .connection import CliError, stack_outputs

EVALUATION_TYPE = ":Evaluation"
ROLE_KEY = "pulumi_role"  # the Evaluation resource's mark of its runs: "model" or "baseline"


@dataclass(frozen=True)
class RunResult:
    """One run of an eval: which model, in which role, and how its items fared."""

    role: str
    model: str
    status: str
    counts: dict[str, int]
    pass_rate: float
    rates: dict[str, float]


@dataclass(frozen=True)
class EvaluationResult:
    """An eval and its runs, the model under test first and the baseline after it."""

    eval_id: str
    name: str
    criteria: list[str]
    runs: list[RunResult]


def _ids_in(value: Any) -> Iterable[str]:
    if isinstance(value, str) and value.startswith("eval_"):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _ids_in(inner)


def stack_eval_ids(stack: str) -> list[str]:
    """The evals a stack holds: its Evaluation resources' (from a state file) and any ``eval_...`` output."""
    found: list[str] = []
    if os.path.exists(stack):
        for resource in _state_resources(Path(stack)):
            if str(resource.get("type", "")).endswith(EVALUATION_TYPE):
                found.extend(_ids_in({"eval_id": (resource.get("outputs") or {}).get("eval_id")}))
    found.extend(_ids_in(stack_outputs(stack)))
    return list(dict.fromkeys(found))


def _state_resources(path: Path) -> list[dict[str, Any]]:
    from ..testing import checkpoint  # noqa: PLC0415 - the Pulumi SDK (testing/ needs it) loads for --stack FILE only

    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if len(files) != 1:
            return []
        path = files[0]
    try:
        return list(checkpoint.load(path, checkpoint.OPAQUE).resources)
    except checkpoint.StateFormatError as exc:
        raise CliError(f"--stack {path}: {exc}") from None


def fetch_evaluations(client: DataPlaneClient, eval_ids: Sequence[str]) -> list[EvaluationResult]:
    """Each eval with its completed runs (the model under test first), read from the service."""
    evals = EvalsClient(client)
    out = []
    for eval_id in eval_ids:
        try:
            record = evals.get_eval(eval_id)
        except NotFoundError:
            raise CliError(f"eval {eval_id} is not in this account (deleted, or another account's?)") from None
        names = [str(c.get("name")) for c in record.get("testing_criteria") or [] if isinstance(c, dict)]
        runs = []
        for run in evals.list_runs(eval_id):
            role = str((run.get("metadata") or {}).get(ROLE_KEY) or run.get("name") or run["id"])
            counts = {k: int((run.get("result_counts") or {}).get(k) or 0) for k in ("total", "passed", "failed")}
            runs.append(
                RunResult(
                    role=role,
                    model=str(run.get("model") or "-"),
                    status=str(run.get("status")),
                    counts=counts,
                    pass_rate=overall_rate(counts),
                    rates=pass_rates(run, names),
                )
            )
        runs.sort(key=lambda r: (r.role != "model", r.role == "baseline"))
        out.append(EvaluationResult(eval_id, str(record.get("name") or eval_id), names, runs))
    return out


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def print_evaluations(console: Console, results: Sequence[EvaluationResult]) -> None:
    """One table per eval: each run's model, items passed and pass rate overall and per criterion."""
    for result in results:
        table = Table(title=f"Evaluation {result.name} ({result.eval_id})", box=box.SIMPLE_HEAD, title_justify="left")
        for column in ("run", "model", "status", "passed", "pass rate", *result.criteria):
            table.add_column(column, justify="left" if column in ("run", "model", "status") else "right")
        for run in result.runs:
            passed = f"{run.counts['passed']}/{run.counts['total']}"
            rates = [_rate(run.rates.get(name)) for name in result.criteria]
            table.add_row(run.role, run.model, run.status, passed, _rate(run.pass_rate), *rates)
        console.print()
        console.print(table)


def html_evaluations(results: Sequence[EvaluationResult]) -> str:
    """The same tables as HTML sections."""
    esc = html.escape
    parts = []
    for result in results:
        head = "".join(
            f"<th>{esc(c)}</th>" for c in ("run", "model", "status", "passed", "pass rate", *result.criteria)
        )
        rows = "".join(
            f"<tr><td>{esc(r.role)}</td><td><code>{esc(r.model)}</code></td><td>{esc(r.status)}</td>"
            f"<td>{r.counts['passed']}/{r.counts['total']}</td><td>{_rate(r.pass_rate)}</td>"
            + "".join(f"<td>{_rate(r.rates.get(n))}</td>" for n in result.criteria)
            + "</tr>"
            for r in result.runs
        )
        parts.append(
            f"<h2>Evaluation {esc(result.name)} ({esc(result.eval_id)})</h2><table><tr>{head}</tr>{rows}</table>"
        )
    return "\n".join(parts)
