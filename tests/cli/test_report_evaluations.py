"""``aoai-ft report`` adds the evaluations of a stack (or named by ``--eval``): each run's pass rates, the baseline's."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from pulumi_aoai_finetuning.client.evals import EvalsClient
from pulumi_aoai_finetuning.testing import EmulatedAccount

from .conftest import BASE_MODEL, cli_env, client_for, run_cli

EXACT = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
ITEMS = 12  # the finished job's training prompts (``What is i + 1?``), all of them
EVALUATION = "pulumi-python:dynamic/azure-openai:Evaluation"


@pytest.fixture(scope="module")
def graded(finished_job: tuple[EmulatedAccount, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An eval with a run of the finished job's model and one of its base model, both completed."""
    account, job_id = finished_job
    folder = tmp_path_factory.mktemp("graded")
    items = folder / "items.jsonl"
    items.write_text(
        "".join(json.dumps({"item": {"q": f"What is {i} + 1?", "answer": str(i + 1)}}) + "\n" for i in range(ITEMS))
    )
    with client_for(account) as client:
        model = str(client.get_job(job_id)["fine_tuned_model"])
        file_id = client.upload_file(items, "items.jsonl", "evals")["id"]
        evals = EvalsClient(client)
        record = evals.create_eval(
            {
                "name": "arith",
                "data_source_config": {"type": "custom", "item_schema": {"type": "object"}},
                "testing_criteria": [EXACT],
            }
        )
        runs = []
        for role, name in (("model", model), ("baseline", BASE_MODEL)):
            source = {
                "type": "completions",
                "model": name,
                "source": {"type": "file_id", "id": file_id},
                "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{item.q}}"}]},
            }
            runs.append(evals.create_run(record["id"], {"data_source": source, "metadata": {"pulumi_role": role}}))
        deadline = time.monotonic() + 20
        for run in runs:
            while evals.get_run(record["id"], run["id"])["status"] != "completed":
                assert time.monotonic() < deadline, f"run {run['id']} did not complete"
                time.sleep(0.05)
    return {"account": account, "job_id": job_id, "eval_id": record["id"], "model": model, "folder": folder}


def _rows(stdout: str) -> dict[str, list[str]]:
    """The evaluation table's rows by their first cell (run role)."""
    return {
        cells[0]: cells for line in stdout.splitlines() if (cells := line.split()) and cells[0] in ("model", "baseline")
    }


def test_report_adds_the_stacks_evaluation_with_the_baseline(graded: dict[str, Any]) -> None:
    """``--stack`` with a state file holding an Evaluation: the eval's table shows both runs, model first."""
    account, folder = graded["account"], graded["folder"]
    state = folder / "dev.json"
    resources = [
        {
            "urn": f"urn:pulumi:dev::p::{EVALUATION}::check",
            "type": EVALUATION,
            "outputs": {"eval_id": graded["eval_id"]},
        }
    ]
    outputs = {"endpoint": account.endpoint, "job_id": graded["job_id"]}
    state.write_text(json.dumps({"version": 1, "resources": resources, "outputs": outputs}))
    done = run_cli("report", "--stack", str(state), "--html", "r.html", env=cli_env(account, COLUMNS="220"), cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Evaluation arith ({graded['eval_id']})" in done.stdout
    rows = _rows(done.stdout)
    assert rows["model"] == ["model", graded["model"], "completed", f"{ITEMS}/{ITEMS}", "100%", "100%"]
    assert rows["baseline"] == ["baseline", BASE_MODEL, "completed", f"0/{ITEMS}", "0%", "0%"]
    assert done.stdout.index(graded["model"]) < done.stdout.index(f"0/{ITEMS}"), "the model under test comes first"
    page = (folder / "r.html").read_text()
    assert f"<h2>Evaluation arith ({graded['eval_id']})</h2>" in page
    assert re.search(rf"<td>baseline</td><td><code>{re.escape(BASE_MODEL)}</code></td><td>completed</td>", page)


def test_report_without_an_evaluation_shows_none_and_an_unknown_eval_is_named(graded: dict[str, Any]) -> None:
    """No ``--eval`` and no stack: no evaluation table; an eval that is not in the account: exit 2 naming it."""
    account = graded["account"]
    plain = run_cli("report", graded["job_id"], "--endpoint", account.endpoint, env=cli_env(account))
    assert plain.returncode == 0, plain.stderr
    assert "Evaluation" not in plain.stdout
    missing = "eval_" + "0" * 32
    done = run_cli("report", graded["job_id"], "--endpoint", account.endpoint, "--eval", missing, env=cli_env(account))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"eval {missing} is not in this account" in done.stderr


def test_report_with_eval_option_reads_that_eval(graded: dict[str, Any]) -> None:
    """``--eval EVAL_ID`` adds that eval to a report of a job named on the command line."""
    account = graded["account"]
    done = run_cli(
        "report",
        graded["job_id"],
        "--endpoint",
        account.endpoint,
        "--eval",
        graded["eval_id"],
        env=cli_env(account, COLUMNS="220"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _rows(done.stdout)["model"][3:] == [f"{ITEMS}/{ITEMS}", "100%", "100%"]
