"""The ``aoai-emulator`` command: its first line is its URL, its flags are checked, its state file survives restarts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx2
import openai

from .support import EMULATOR_BIN, chat_dataset, run_cli


def test_first_stdout_line_is_the_base_url_on_a_free_port() -> None:
    """``--port 0`` picks a free port and the first line printed is the URL to use."""
    with run_cli("--port", "0") as one, run_cli("--port", "0") as two:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", one.url)
        assert one.url != two.url
        assert one.admin("GET", "/health").json()["ok"] is True


def test_bad_flags_are_refused_with_a_message() -> None:
    """An unknown clock mode or a malformed fault rule stops the command with a non-zero status and the reason."""
    bad_clock = subprocess.run([str(EMULATOR_BIN), "--clock", "sundial"], capture_output=True, text=True, check=False)
    assert bad_clock.returncode == 2
    assert "--clock" in bad_clock.stderr
    bad_fault = subprocess.run(
        [str(EMULATOR_BIN), "--fault", "path=/x,colour=red"], capture_output=True, text=True, check=False
    )
    assert bad_fault.returncode == 2
    assert "unknown fault field" in bad_fault.stderr


def test_fault_flag_applies_from_the_first_request() -> None:
    """A ``--fault`` rule is active as soon as the emulator prints its URL."""
    with run_cli("--port", "0", "--account", "flagged", "--fault", "path=/openai/models$,status=503,count=1") as emu:
        account = emu.admin("GET", "/accounts").json()["accounts"][0]
        with httpx2.Client() as http:
            url = f"{account['endpoint']}openai/models"
            params, headers = {"api-version": "2024-10-21"}, {"api-key": account["keys"][0]}
            assert http.get(url, params=params, headers=headers).status_code == 503
            assert http.get(url, params=params, headers=headers).status_code == 200


def test_state_file_survives_a_restart_with_nothing_lost(tmp_path: Path) -> None:
    """Accounts, keys, files (with their bytes), jobs, models and the clock survive a stop and a start."""
    state = tmp_path / "emu.state.json"
    dataset = chat_dataset(tmp_path / "train.jsonl")
    with run_cli("--port", "0", "--state-file", str(state), "--clock", "manual") as first:
        account = first.admin("POST", "/accounts", json={"name": "durable"}).json()
        client = openai.AzureOpenAI(
            azure_endpoint=account["endpoint"], api_key=account["keys"][0], api_version="2024-10-21", max_retries=0
        )
        with dataset.open("rb") as fh:
            file = client.files.create(file=fh, purpose="fine-tune")
        first.admin("POST", "/clock/advance", json={"seconds": 10})
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=file.id)
        first.admin("POST", "/clock/advance", json={"seconds": 40})
        assert client.fine_tuning.jobs.retrieve(job.id).status == "running"
        clock_before = first.admin("GET", "/clock").json()["now"]
        client.close()
    assert state.exists()
    with run_cli("--port", "0", "--state-file", str(state), "--clock", "manual") as second:
        again = second.admin("GET", "/accounts").json()["accounts"][0]
        assert again["keys"] == account["keys"]
        assert second.admin("GET", "/clock").json()["now"] >= clock_before
        client = openai.AzureOpenAI(
            azure_endpoint=again["endpoint"], api_key=again["keys"][0], api_version="2024-10-21", max_retries=0
        )
        assert client.files.retrieve(file.id).status == "processed"
        assert client.files.content(file.id).content == dataset.read_bytes()
        assert client.fine_tuning.jobs.retrieve(job.id).status == "running"
        second.admin("POST", "/clock/advance", json={"seconds": 1300})
        done = client.fine_tuning.jobs.retrieve(job.id)
        assert done.status == "succeeded"
        with dataset.open("rb") as fh:
            assert client.files.create(file=fh, purpose="fine-tune").id not in (file.id, done.result_files[0])
        client.close()
