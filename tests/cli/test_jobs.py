"""``aoai-ft jobs``: the account's jobs as a table; credentials as the providers resolve them."""

from __future__ import annotations

from pathlib import Path

from pulumi_aoai_finetuning.testing import EmulatedAccount

from .conftest import cli_env, client_for, run_cli, start_job


def test_jobs_lists_every_job_of_the_emulator_with_its_status(slow_account: EmulatedAccount, tmp_path: Path) -> None:
    """Two jobs (one running, one cancelled): one row each, newest first, with model and status."""
    first = start_job(slow_account, tmp_path / "a", seed=1)
    with client_for(slow_account) as client:
        client.cancel_job(first)
    second = start_job(slow_account, tmp_path / "b", seed=2)
    # The key comes from the variable --api-key-env names; AZURE_OPENAI_API_KEY is not set at all.
    env = cli_env(CUSTOM_KEY=slow_account.key)
    done = run_cli("jobs", "--endpoint", slow_account.endpoint, "--api-key-env", "CUSTOM_KEY", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.strip().startswith("ftjob-")]
    assert [(r[0], r[2]) for r in rows] == [(second, "running"), (first, "cancelled")]
    assert all(r[1].startswith("gpt-4o-min") for r in rows)
    assert set(slow_account.objects("jobs")) == {first, second}


def test_limit_keeps_the_newest_jobs(slow_account: EmulatedAccount, tmp_path: Path) -> None:
    """``--limit 1`` shows only the newest job."""
    first = start_job(slow_account, tmp_path / "a", seed=1)
    with client_for(slow_account) as client:
        client.cancel_job(first)
    second = start_job(slow_account, tmp_path / "b", seed=2)
    done = run_cli("jobs", "--endpoint", slow_account.endpoint, "--limit", "1", env=cli_env(slow_account))
    assert done.returncode == 0, done.stderr
    assert second in done.stdout
    assert first not in done.stdout


def test_a_wrong_key_is_a_clean_error(slow_account: EmulatedAccount) -> None:
    """A key the account refuses: exit 2, the service's 401 in one line, and the key itself never printed."""
    wrong = "0" * 32
    done = run_cli("jobs", "--endpoint", slow_account.endpoint, env=cli_env(AZURE_OPENAI_API_KEY=wrong))
    assert done.returncode == 2
    assert done.stderr.startswith("aoai-ft jobs: 401 ")
    assert "Traceback" not in done.stderr
    assert wrong not in done.stdout + done.stderr


def test_an_endpoint_that_is_not_a_url_is_refused_before_any_call() -> None:
    """``--endpoint`` must be an http(s) URL: exit 2 with the expected shape."""
    done = run_cli("jobs", "--endpoint", "myaccount", env=cli_env(AZURE_OPENAI_API_KEY="k" * 32))
    assert done.returncode == 2
    assert "--endpoint must be an https:// URL such as https://<account>.openai.azure.com/" in done.stderr
