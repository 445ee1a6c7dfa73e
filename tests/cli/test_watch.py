"""``aoai-ft watch``: follows a job on the emulator's ``time`` clock to its end; Ctrl-C never stops the job."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from pulumi_aoai_finetuning.cli.formatting import duration
from pulumi_aoai_finetuning.cli.main import main
from pulumi_aoai_finetuning.cli.watch import Watcher
from pulumi_aoai_finetuning.testing import EmulatedAccount, emulated_account

from .conftest import AOAI_FT, POLLING, TOTAL_STEPS, WIDTH, cli_env, client_for, run_cli, start_job, wait_for_status

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_watch_ends_on_success_with_progress_and_the_final_line(fast_account: EmulatedAccount, tmp_path: Path) -> None:
    """A job that trains for 300 emulator seconds: progress lines climb to 36/36, then the outcome; exit 0."""
    job_id = start_job(fast_account, tmp_path)
    done = run_cli("watch", job_id, "--endpoint", fast_account.endpoint, *POLLING, env=cli_env(fast_account))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= WIDTH for line in lines[:-2]), "the display must fit the terminal's 100 columns"
    steps = [int(m[1]) for m in re.finditer(rf"step (\d+)/{TOTAL_STEPS} ", done.stdout)]
    assert len(steps) >= 3, done.stdout
    assert steps == sorted(steps)
    assert steps[-1] == TOTAL_STEPS
    assert any(line.startswith("running ") and "eta " in line for line in lines)
    assert re.search(r"train loss [0-9.]+ · valid loss [0-9.]+", done.stdout)
    assert "Job started." in done.stdout
    with client_for(fast_account) as client:
        final = client.get_job(job_id)
    assert lines[-2] == (
        f"Job {job_id} succeeded after {duration(final['finished_at'] - final['created_at'])}: "
        f"fine-tuned model {final['fine_tuned_model']} "
        f"({final['trained_tokens']:,} trained tokens)"
    )
    assert lines[-1] == f"Curves and checkpoints: aoai-ft report {job_id} --endpoint {fast_account.endpoint}"


def test_live_display_on_a_terminal_shows_the_bar_and_the_outcome(
    fast_account: EmulatedAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal (forced, 100 columns) the live display redraws in place and its last frame is complete."""
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", fast_account.key)
    job_id = start_job(fast_account, tmp_path)
    buffer = StringIO()
    console = Console(file=buffer, width=WIDTH, force_terminal=True, color_system="standard")
    status = main(["watch", job_id, "--endpoint", fast_account.endpoint, *POLLING], console=console)
    assert status == 0
    raw = buffer.getvalue()
    assert "\x1b[1A" in raw, "a live display moves the cursor up to redraw its frame in place"
    # Frames are redrawn after a carriage return: as lines, each frame starts one.
    out = ANSI.sub("", raw).replace("\r", "\n")
    frames = re.findall(rf"^(\w+) +[━╸╺ ]{{30}} step (\d+)/{TOTAL_STEPS} ", out, re.MULTILINE)
    assert len(frames) >= 3, out
    assert frames[0][0] == "running"
    assert frames[-1] == ("succeeded", str(TOTAL_STEPS)), frames
    assert f"Job {job_id} succeeded after " in out


def read_until(process: subprocess.Popen[str], pattern: str, timeout: float) -> str:
    """Read the process's stdout until a line matches ``pattern``; fail after ``timeout`` seconds.

    Lines are read by a thread of their own: a readline after a select would leave a second line that came in
    the same chunk in the file object's buffer, where the select never sees it (a busy machine does that).
    """
    assert process.stdout is not None
    stdout = process.stdout
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if not line:
            break
        seen += line
        if re.search(pattern, line):
            return seen
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    raise AssertionError(f"no line matching {pattern!r} within {timeout} s; output so far:\n{seen}")


def test_sigint_stops_watching_exits_130_and_leaves_the_job_running(
    slow_account: EmulatedAccount, tmp_path: Path
) -> None:
    """Ctrl-C ends the watch with 130 and a resume hint; the job is still running and no cancel was sent."""
    job_id = start_job(slow_account, tmp_path)
    wait_for_status(slow_account, job_id, {"running"})
    process = subprocess.Popen(
        [str(AOAI_FT), "watch", job_id, "--endpoint", slow_account.endpoint, *POLLING],
        env=cli_env(slow_account),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        before = read_until(process, r"^running ", timeout=20)
        os.kill(process.pid, signal.SIGINT)
        rest, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, before + rest + stderr
    assert "Traceback" not in stderr
    assert (
        f"Stopped watching {job_id}; the job goes on (last status: running). Resume with: "
        f"aoai-ft watch {job_id} --endpoint {slow_account.endpoint}" in rest
    )
    assert slow_account.objects("jobs")[job_id]["status"] == "running"
    with client_for(slow_account) as client:
        assert client.get_job(job_id)["status"] == "running"
    assert not [r for r in slow_account.requests(mutating=True) if "/cancel" in r["path"]]


def test_a_cancelled_job_ends_the_watch_with_exit_1(slow_account: EmulatedAccount, tmp_path: Path) -> None:
    """A job cancelled (from elsewhere) is an unsuccessful end: exit 1 and a final line that says so."""
    job_id = start_job(slow_account, tmp_path)
    with client_for(slow_account) as client:
        client.cancel_job(job_id)
    done = run_cli("watch", job_id, "--endpoint", slow_account.endpoint, *POLLING, env=cli_env(slow_account))
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(rf"^Job {job_id} was cancelled after \d+:\d\d$", done.stdout, re.MULTILINE), done.stdout


def test_a_failed_job_ends_the_watch_with_exit_1_and_the_services_error(tmp_path: Path) -> None:
    """A job whose training file disappears fails validation: exit 1, the error code and message printed."""
    # The manual clock holds the job in validation until the file is gone.
    with emulated_account("clifail", seed=64, clock="manual", timings={"file_processing": 0}) as account:
        job_id = start_job(account, tmp_path, validation=False)
        with client_for(account) as client:
            client.delete_file(client.get_job(job_id)["training_file"])
        account.emulator.advance(3600)
        done = run_cli("watch", job_id, "--endpoint", account.endpoint, *POLLING, env=cli_env(account))
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(
        rf"^Job {job_id} failed after \d+:\d\d: invalidTrainingFile: The file file-\w+ was deleted before training\.$",
        done.stdout,
        re.MULTILINE,
    ), done.stdout


def fake_pulumi(folder: Path, outputs: str, *, exit_status: int = 0) -> Path:
    """A ``pulumi`` executable that prints ``outputs`` for ``stack output --json --stack dev`` only."""
    folder.mkdir()
    script = folder / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$*" = "stack output --json --stack dev" ] || {{ echo "unexpected: $*" >&2; exit 3; }}\n'
        f"cat <<'EOF'\n{outputs}\nEOF\n"
        f"exit {exit_status}\n"
    )
    script.chmod(0o755)
    return folder


def test_stack_option_reads_endpoint_and_job_id_from_the_stack_outputs(
    slow_account: EmulatedAccount, tmp_path: Path
) -> None:
    """``--stack dev`` asks ``pulumi stack output --json`` for the endpoint and the job id and follows that job."""
    job_id = start_job(slow_account, tmp_path / "data")
    with client_for(slow_account) as client:
        client.cancel_job(job_id)
    bin_dir = fake_pulumi(tmp_path / "bin", f'{{"endpoint": "{slow_account.endpoint}", "job_id": "{job_id}"}}')
    env = cli_env(slow_account, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    done = run_cli("watch", "--stack", "dev", *POLLING, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Job {job_id} was cancelled" in done.stdout


def test_stack_option_without_the_pulumi_cli_says_it_needs_it(tmp_path: Path) -> None:
    """No ``pulumi`` on PATH: exit 2 with a message naming the missing CLI and the alternative, no traceback."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    done = run_cli("watch", "--stack", "dev", env=cli_env(PATH=str(empty)))
    assert done.returncode == 2
    assert "aoai-ft watch: --stack needs the pulumi CLI on PATH" in done.stderr
    assert "pass JOB_ID and --endpoint" in done.stderr
    assert "Traceback" not in done.stderr


def test_stack_without_a_job_output_explains_how_to_export_one(tmp_path: Path) -> None:
    """A stack that exports no job id: exit 2 and the pulumi.export line that would fix it."""
    bin_dir = fake_pulumi(tmp_path / "bin", '{"endpoint": "https://acct.openai.azure.com/", "fine_tuned_model": "m"}')
    done = run_cli("watch", "--stack", "dev", env=cli_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}"))
    assert done.returncode == 2
    assert "stack dev has no string output 'job_id'; export it (pulumi.export(\"job_id\", job.job_id))" in done.stderr


class ScriptedJob:
    """A client stand-in that answers with a job and its metrics events as the test sets them."""

    def __init__(self) -> None:
        self.job: dict[str, Any] = {"id": "ftjob-1", "status": "running", "created_at": 10_000}
        self.events: list[dict[str, Any]] = []

    def at_step(self, step: int, total: int) -> None:
        """Add the metrics event of ``step`` (newest first, as the service lists them)."""
        data = {"step": step, "train_loss": 1.0 / step}
        message = f"Step {step}/{total}: training loss={1.0 / step:.4f}"
        self.events.insert(0, {"id": f"ev-{step}", "type": "metrics", "message": message, "data": data})

    def get_job(self, job_id: str) -> dict[str, Any]:
        return dict(self.job)

    def job_events(self, job_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return self.events[:limit]


def test_eta_follows_the_step_rate_and_elapsed_survives_a_skewed_clock() -> None:
    """Remaining time is extrapolated from the steps seen; a client clock behind the service's never goes negative."""
    now = {"wall": 9_000.0, "mono": 0.0}  # the client's clock is 1000 s behind the job's created_at
    job = ScriptedJob()
    job.job["estimated_finish"] = 99_999  # the service's estimate: ignored once a rate is known
    watcher = Watcher(
        job,  # type: ignore[arg-type]
        "ftjob-1",
        Console(file=StringIO(), width=WIDTH),
        live=True,
        wall=lambda: now["wall"],
        monotonic=lambda: now["mono"],
    )
    job.at_step(10, 100)
    watcher.poll()
    assert (watcher.step, watcher.total, watcher.train_loss) == (10, 100, 0.1)
    assert watcher.elapsed() == 0.0
    now["mono"] += 30.0
    job.at_step(40, 100)
    watcher.poll()
    assert watcher.elapsed() == 30.0
    assert watcher.remaining() == pytest.approx(60.0)  # 30 steps took 30 s; 60 steps are left
    job.job.update(status="succeeded", finished_at=10_120)
    watcher.poll()
    assert (watcher.step, watcher.remaining(), watcher.elapsed()) == (100, 0.0, 120.0)
