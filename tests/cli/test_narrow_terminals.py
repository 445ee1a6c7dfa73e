"""``jobs`` and ``report`` piped at 80, 100 and 120 columns: ids and model names stay whole on one line."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from pulumi_aoai_finetuning.cli import jobs, tables
from pulumi_aoai_finetuning.testing import EmulatedAccount

from .conftest import cli_env, client_for, run_cli

WIDTHS = (80, 100, 120)


def _on_one_line(value: str, output: str) -> bool:
    return any(value in line for line in output.splitlines())


@pytest.mark.parametrize("width", WIDTHS)
def test_jobs_keeps_job_ids_and_fine_tuned_models_whole(finished_job: tuple[EmulatedAccount, str], width: int) -> None:
    """Every job id and fine-tuned model name appears whole on one line, and no line is wider than the terminal."""
    account, job_id = finished_job
    with client_for(account) as client:
        jobs = list(client.list_jobs())
    model = next(j["fine_tuned_model"] for j in jobs if j["id"] == job_id)
    assert len(job_id) + len(model) > 80  # side by side they cannot fit: the layout has to give something up
    done = run_cli("jobs", "--endpoint", account.endpoint, env=cli_env(account, COLUMNS=str(width)))
    assert done.returncode == 0, done.stdout + done.stderr
    for job in jobs:
        assert _on_one_line(job["id"], done.stdout), done.stdout
        if job.get("fine_tuned_model"):
            assert _on_one_line(job["fine_tuned_model"], done.stdout), done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= width, done.stdout
    assert "succeeded" in done.stdout
    assert "gpt-4o-mini" in done.stdout.split(job_id, 1)[1].splitlines()[0]  # the base model is still on its row


@pytest.mark.parametrize("width", WIDTHS)
def test_report_keeps_model_and_checkpoint_names_whole(finished_job: tuple[EmulatedAccount, str], width: int) -> None:
    """The fine-tuned model and every checkpoint's model appear whole on one line, within the terminal's width."""
    account, job_id = finished_job
    with client_for(account) as client:
        job = client.get_job(job_id)
        checkpoints = client.job_checkpoints(job_id)
    done = run_cli("report", job_id, "--endpoint", account.endpoint, env=cli_env(account, COLUMNS=str(width)))
    assert done.returncode == 0, done.stdout + done.stderr
    names = [job["fine_tuned_model"], *(c["fine_tuned_model_checkpoint"] for c in checkpoints)]
    assert len(names) == 4
    for name in names:
        assert _on_one_line(name, done.stdout), done.stdout
    assert _on_one_line(job_id, done.stdout)
    assert max(len(line) for line in done.stdout.splitlines()) <= width, done.stdout


def test_a_value_wider_than_the_terminal_is_still_not_broken() -> None:
    """At 40 columns a 58-character model name overflows its line rather than wrapping or being cut."""
    out = io.StringIO()
    console = Console(file=out, width=40, color_system=None)
    name = "gpt-4o-mini-2024-07-18.ft-" + "0123456789abcdef" * 2
    rows: list[list[tables.Cell]] = [["ftjob-" + "a" * 32, "gpt-4o-mini-2024-07-18", "running", name, "x"]]
    tables.print_table(console, "jobs", jobs.COLUMNS, rows)
    lines = out.getvalue().splitlines()
    assert any(line.strip() == name for line in lines), out.getvalue()
    assert any(line.strip().startswith("ftjob-" + "a" * 32) for line in lines), out.getvalue()
