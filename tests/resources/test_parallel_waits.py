"""Waiting creates do not starve the plugin: many jobs wait at once in one real ``python -m pulumi.dynamic``.

The emulator's clock is manual, so no job can finish before the test advances it: every job the emulator is
asked about while the clock stands still is being waited for by a create holding one of the server's threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aoai_emulator.catalog import Timings
from pulumi_aoai_finetuning import FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.plugin_threads import LIMIT_KEY, SWITCH
from pulumi_aoai_finetuning.testing import DynamicPlugin, EmulatedAccount, EngineReplay, ProviderError, Step
from tests.emulator.support import chat_dataset

from .conftest import SECRET_KEYS, PluginFactory

MODEL = "gpt-4o-mini-2024-07-18"
# The emulator trains one job of an account at a time, as Azure does: n jobs are done after n trainings.
PER_JOB = Timings().job_validation + Timings().job_training + 60
PATIENCE = 60.0  # wall seconds to wait for the plugin to reach a state before failing the test


def _until(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened within {PATIENCE:g} s: {what}")
        time.sleep(0.02)


def _upload(engine: EngineReplay, acct: EmulatedAccount, dataset: Path) -> str:
    """The training file, processed: the clock ticks until the upload's create returns, then stands still."""
    done = threading.Event()

    def tick() -> None:
        while not done.wait(0.05):
            acct.emulator.advance(1)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        step = engine.up("train", TrainingFile, {"endpoint": acct.endpoint, "path": str(dataset)})
    finally:
        done.set()
        ticker.join()
    assert step.state is not None
    return step.state.id


def _polled(acct: EmulatedAccount) -> set[str]:
    """The jobs whose status a create has asked for: each such create is waiting."""
    return {
        job_id
        for job_id in acct.objects("jobs")
        for r in acct.requests()
        if r["method"] == "GET" and r["path"].endswith(f"/fine_tuning/jobs/{job_id}")
    }


def _start_jobs(
    engine: EngineReplay, acct: EmulatedAccount, file_id: str, n: int
) -> tuple[dict[str, Any], list[threading.Thread]]:
    """``n`` FineTuningJob creates with wait, issued concurrently as the engine does for independent resources."""
    results: dict[str, Any] = {}

    def up(i: int) -> None:
        inputs = {"endpoint": acct.endpoint, "model": MODEL, "training_file": file_id, "suffix": f"p{i}", "wait": True}
        try:
            results[f"job{i}"] = engine.up(f"job{i}", FineTuningJob, inputs)
        except Exception as exc:
            results[f"job{i}"] = exc

    threads = [threading.Thread(target=up, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return results, threads


def _finish(results: dict[str, Any], threads: list[threading.Thread]) -> dict[str, Step]:
    deadline = time.monotonic() + PATIENCE
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    assert all(not t.is_alive() for t in threads), "a create is still waiting after its job succeeded"
    failures = {k: v for k, v in results.items() if not isinstance(v, Step)}
    assert failures == {}
    return results


@pytest.mark.parametrize("n", [8, 16])
def test_many_waiting_creates_all_wait_at_once_and_finish_on_one_advance(
    manual_account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path, n: int
) -> None:
    """All n creates are waiting on their jobs at the same time; one clock advance finishes every one."""
    engine = EngineReplay(make_plugin(manual_account))
    file_id = _upload(engine, manual_account, dataset)
    results, threads = _start_jobs(engine, manual_account, file_id, n)
    _until(f"all {n} jobs submitted and polled while the clock stands still", lambda: len(_polled(manual_account)) == n)
    jobs = manual_account.objects("jobs")
    assert len(jobs) == n
    assert len({job["created_at"] for job in jobs.values()}) == 1, "every job was submitted before time moved"
    manual_account.emulator.advance(n * PER_JOB)
    steps = _finish(results, threads)
    assert {step.state.outputs["status"] for step in steps.values() if step.state} == {"succeeded"}
    assert len({step.state.id for step in steps.values() if step.state}) == n
    assert len(manual_account.objects("jobs")) == n, "no job was submitted twice"
    assert not [line for line in engine.plugin.stderr().splitlines() if line.startswith("warning:")]


def test_check_of_another_resource_answers_while_eight_jobs_wait(
    manual_account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path
) -> None:
    """A preview's Check of an unrelated resource is answered while eight creates hold their waits."""
    engine = EngineReplay(make_plugin(manual_account))
    file_id = _upload(engine, manual_account, dataset)
    results, threads = _start_jobs(engine, manual_account, file_id, 8)
    _until("8 jobs polled", lambda: len(_polled(manual_account)) == 8)
    answer: list[Any] = []
    checker = threading.Thread(
        target=lambda: answer.append(
            engine.plan("other", TrainingFile, {"endpoint": manual_account.endpoint, "path": str(dataset)})
        ),
        daemon=True,
    )
    checker.start()
    checker.join(timeout=PATIENCE)
    assert [step.op for step in answer] == ["create"], "the Check was not answered while the jobs wait"
    assert all(job["status"] not in ("succeeded", "failed") for job in manual_account.objects("jobs").values())
    manual_account.emulator.advance(8 * PER_JOB)
    _finish(results, threads)


def _waves(plugin: DynamicPlugin, acct: EmulatedAccount, dataset: Path, n: int, at_once: int) -> list[int]:
    """Run ``n`` waiting creates when only ``at_once`` can run; the submission times of the jobs, in order."""
    engine = EngineReplay(plugin)
    file_id = _upload(engine, acct, dataset)
    results, threads = _start_jobs(engine, acct, file_id, n)
    _until(f"the first wave of {at_once} jobs polled", lambda: len(_polled(acct)) == at_once)
    assert len(acct.objects("jobs")) == at_once, f"{at_once} threads, all waiting: no other create has started"
    acct.emulator.advance(at_once * PER_JOB)
    _until(f"the second wave, {n - at_once} jobs, polled", lambda: len(_polled(acct)) == n)
    acct.emulator.advance((n - at_once) * PER_JOB)
    _finish(results, threads)
    return sorted(job["created_at"] for job in acct.objects("jobs").values())


def test_turned_off_it_warns_once_and_trains_in_waves_of_four(
    manual_account: EmulatedAccount, dataset: Path, tmp_path: Path
) -> None:
    """Without the wider pool (the SDK's server as it is) eight jobs train four at a time, with one warning."""
    with DynamicPlugin(manual_account.stack_config(), secrets=SECRET_KEYS, cwd=tmp_path, env={SWITCH: "off"}) as plugin:
        waves = _waves(plugin, manual_account, dataset, 8, 4)
        assert waves == [waves[0]] * 4 + [int(waves[0] + 4 * PER_JOB)] * 4
        warnings = [line for line in plugin.stderr().splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1, plugin.stderr()
        assert f"turned off by {SWITCH}=off" in warnings[0]
        assert "keeps the Pulumi SDK's 4 threads" in warnings[0]


def test_max_parallel_operations_bounds_the_calls_at_once(
    manual_account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path
) -> None:
    """With azure-openai:maxParallelOperations = 6, eight jobs are waited for six at a time."""
    plugin = make_plugin(manual_account, **{LIMIT_KEY: "6"})
    waves = _waves(plugin, manual_account, dataset, 8, 6)
    assert waves == [waves[0]] * 6 + [int(waves[0] + 6 * PER_JOB)] * 2


@pytest.mark.parametrize("value", ["three", "2", "1.5"])
def test_a_bad_max_parallel_operations_fails_naming_the_key_and_the_rule(
    account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path, value: str
) -> None:
    """A bad setting fails every call with the key, the rule and the value, before any request."""
    engine = EngineReplay(make_plugin(account, **{LIMIT_KEY: value}))
    with pytest.raises(ProviderError) as info:
        engine.plan("train", TrainingFile, {"endpoint": account.endpoint, "path": str(dataset)})
    assert f"{LIMIT_KEY} must be a whole number of at least 4" in info.value.details
    assert repr(value) in info.value.details
    assert account.requests() == []


def test_identical_jobs_created_at_once_submit_one_paid_job(
    manual_account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path
) -> None:
    """Four resources with the same training inputs, created at once in one plugin, share one submitted job."""
    engine = EngineReplay(make_plugin(manual_account))
    file_id = _upload(engine, manual_account, dataset)
    inputs = {"endpoint": manual_account.endpoint, "model": MODEL, "training_file": file_id, "wait": False}
    results: dict[str, Any] = {}
    barrier = threading.Barrier(4)

    def up(i: int) -> None:
        barrier.wait()
        results[f"same{i}"] = engine.up(f"same{i}", FineTuningJob, dict(inputs))

    threads = [threading.Thread(target=up, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    steps = _finish(results, threads)
    assert len(manual_account.objects("jobs")) == 1, "identical creates raced and each paid for a job"
    assert len({step.state.id for step in steps.values() if step.state}) == 1


def _threads(plugin: DynamicPlugin) -> int:
    """The plugin process's threads, as the kernel counts them."""
    status = Path(f"/proc/{plugin.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="counts threads in /proc (Linux)")
def test_a_burst_of_checks_keeps_the_sdks_four_threads(
    account: EmulatedAccount, make_plugin: PluginFactory, tmp_path: Path
) -> None:
    """A preview's checks run on the SDK's 4 workers: dozens of threads taking turns would cost it CPU.

    Only a create, update or delete (which may wait) widens the server: the tests above, whose eight creates
    wait at once, fail without that.
    """
    plugin = make_plugin(account)
    engine = EngineReplay(plugin)
    datasets = [chat_dataset(tmp_path / f"d{i}.jsonl", 12 + i) for i in range(24)]
    engine.plan("first", TrainingFile, {"endpoint": account.endpoint, "path": str(datasets[0])})
    before = _threads(plugin)  # the server's own threads and the worker that ran the first check
    burst = [
        threading.Thread(
            target=engine.plan, args=(f"r{i}", TrainingFile, {"endpoint": account.endpoint, "path": str(path)})
        )
        for i, path in enumerate(datasets)
    ]
    for thread in burst:
        thread.start()
    for thread in burst:
        thread.join(PATIENCE)
    assert _threads(plugin) - before <= 3, "checks alone started workers beyond the SDK's 4"


def test_creates_after_a_burst_of_checks_all_wait_at_once(
    manual_account: EmulatedAccount, make_plugin: PluginFactory, dataset: Path, tmp_path: Path
) -> None:
    """A burst of checks on the SDK's 4 workers, then eight waiting creates in the same plugin: all eight wait.

    The burst leaves the pool's idle permits piled up (each finished call adds one); the widening drops them,
    or the creates beyond the first four would find a permit, start no worker, and train in a second wave.
    """
    file_id = _upload(EngineReplay(make_plugin(manual_account)), manual_account, dataset)
    engine = EngineReplay(make_plugin(manual_account))  # a plugin that has only checked when the creates come
    burst = [
        threading.Thread(
            target=engine.plan,
            args=(f"r{i}", TrainingFile, {"endpoint": manual_account.endpoint, "path": str(path)}),
        )
        for i, path in enumerate(chat_dataset(tmp_path / f"d{i}.jsonl", 12 + i) for i in range(24))
    ]
    for thread in burst:
        thread.start()
    for thread in burst:
        thread.join(PATIENCE)
    results, threads = _start_jobs(engine, manual_account, file_id, 8)
    _until("all 8 jobs polled at once", lambda: len(_polled(manual_account)) == 8)
    manual_account.emulator.advance(8 * PER_JOB)
    _finish(results, threads)
