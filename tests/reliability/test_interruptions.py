"""Interruption: the provider process is SIGKILLed at each point of each resource's create, update and delete.

For every row of the matrix (resource x operation x point) a seeded emulator is started, the prerequisites and
the resource's prior state are built with the real ``python -m pulumi.dynamic`` plugin, then the operation runs
in that plugin and the plugin is killed:

- ``before_request``: while a request that precedes the mutating one is held by a latency fault (or, where
  nothing precedes it, while the mutating request itself is held before the service saw it), so the mutating
  request never reaches the service;
- ``after_accept``: after the service accepted the mutating request, while its answer is held (latency ``after``);
- ``while_waiting``: while the provider polls a remote object that cannot become ready (the manual clock is
  stopped) or, where the service finishes at once, while that confirming poll is held.

The operation is then re-run as the next ``pulumi up`` (or ``destroy``) would: a fresh plugin, and the engine
state as it was before the interrupted call (an interrupted create is not in the state; an interrupted update or
delete leaves the old state). Each case asserts that exactly one remote object of the kind results (none after a
delete), that the end state equals the one an uninterrupted run of the same scenario reaches on an identically
seeded emulator, and that the mutating requests the service accepted are those of the uninterrupted run plus what
adoption implies (an idempotent ``PUT`` or copy ``POST`` sent again by the re-run; never a second upload or job).

TrainingFile and CheckpointCopy have no remote update, and CheckpointCopy has no remote delete (Azure cannot
remove a copied checkpoint): ``test_operation_without_remote_call_has_nothing_to_interrupt`` proves that those
operations send no request at all, so a kill during them cannot leave anything behind.

``AOAI_SOAK=1`` repeats every case with ``AOAI_SOAK_SEEDS`` seeds (default 10); the seed also varies how many
polls the plugin makes before it is killed. Without it every case runs once.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pulumi_aoai_finetuning import CheckpointCopy, Deployment, Evaluation, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.testing import SECRET_CONFIG, DynamicPlugin, EmulatedAccount, EngineReplay, emulated_account
from tests.emulator.support import allow_copy, chat_dataset
from tests.resources.test_evaluation_grpc import EXACT, PROMPT, arithmetic_items

SOAK = os.environ.get("AOAI_SOAK") == "1"
REPETITIONS = int(os.environ.get("AOAI_SOAK_SEEDS", "10")) if SOAK else 1
SEED_BASE = 7000
MODEL = "gpt-4o-mini-2024-07-18"
DATED = "2025-04-01-preview"  # pause/resume and job-record deletion need a dated preview version
HOLD_MS = 1500  # how long a held request waits: long enough to kill the plugin in it, short enough not to matter
KILL_DEADLINE_S = 30.0
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TIMINGS = {"job_training": 240.0, "job_validation": 20.0, "copy": 30.0}
NEVER = 1e9  # a training that never ends while the test runs: the job stays running


# --- the world of one case: a seeded emulator, its accounts, a dataset and plugins --------------------------------


@dataclass(frozen=True)
class Mutation:
    """A kind of mutating request, and the statuses with which the service says it did the work."""

    method: str
    path: str  # searched in the request path
    accepted: tuple[int, ...]

    def matches(self, request: dict[str, Any]) -> bool:
        return request["method"] == self.method and re.search(self.path, request["path"]) is not None

    def accepts(self, request: dict[str, Any]) -> bool:
        return self.matches(request) and request["status"] in self.accepted


class World:
    """One seeded emulator (manual clock) with a source account, maybe a destination, a dataset and plugins."""

    def __init__(self, scenario: Scenario, seed: int, tmp: Path) -> None:
        self._stack = ExitStack()
        self.timings = {**TIMINGS, **scenario.timings}
        self.tick = scenario.tick
        self._plugins: list[DynamicPlugin] = []
        self.acct: EmulatedAccount = self._stack.enter_context(
            emulated_account("relsource", seed=seed, clock="manual", timings=self.timings)
        )
        try:
            self.dest: EmulatedAccount | None = (
                self.acct.another("reldest", "swedencentral") if scenario.two_accounts else None
            )
            if self.dest is not None:  # Azure AI User for the source's identity, before anything is measured
                allow_copy(self.acct.arm_endpoint, self.acct.id, self.dest.id)
        except BaseException:
            self._stack.close()
            raise
        self.emulator = self.acct.emulator
        self.tmp = tmp
        self.dataset = chat_dataset(tmp / "train.jsonl", 12)
        keys = {self.acct.endpoint: self.acct.key}
        if self.dest is not None:
            keys[self.dest.endpoint] = self.dest.key
        self.config = self.acct.stack_config(
            **{"azure-openai:apiVersion": DATED, "azure-openai:apiKeys": json.dumps(keys)}
        )
        self.values: dict[str, Any] = {}

    def engine(self) -> EngineReplay:
        """An engine replay on a freshly started plugin (a new ``pulumi up`` process)."""
        plugin = DynamicPlugin(self.config, secrets=set(SECRET_CONFIG), cwd=self.tmp)
        self._plugins.append(plugin)
        return EngineReplay(plugin)

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return [r for r in self.emulator.requests() if r["seq"] > since]

    def last_seq(self) -> int:
        reqs = self.emulator.requests()
        return int(reqs[-1]["seq"]) if reqs else 0

    def snapshot(self, read: Callable[[dict[str, Any]], Any]) -> Any:
        """A deep copy of part of the emulator's state, taken under its lock."""
        with self.emulator.service.lock:
            return copy.deepcopy(read(self.emulator.state()))

    @contextmanager
    def clock_running(self) -> Iterator[None]:
        """Move the manual clock on by ``tick`` emulator seconds every 2 ms while the block runs."""
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(0.002):
                self.emulator.advance(self.tick)

        ticker = threading.Thread(target=tick, daemon=True, name="emulator-clock")
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()

    def close(self) -> None:
        for plugin in self._plugins:
            plugin.close()
        self._stack.close()


# --- scenarios: a resource and an operation, its prerequisites, and what the emulator holds afterwards -----------


Prepare = Callable[[World, EngineReplay], None]
Act = Callable[[World, EngineReplay], Any]


@dataclass(frozen=True)
class Scenario:
    """One operation of one resource: how to build its prior state, run it, and read its remote objects."""

    resource: str
    operation: str
    name: str  # the resource's name in the stack
    mutations: dict[str, Mutation]
    prepare: Prepare
    act: Act
    remote: Callable[[dict[str, Any]], dict[str, list[dict[str, Any]]]]  # kind -> objects, from emulator state
    want: dict[str, int]  # how many remote objects of each kind the operation leaves
    doc: str
    timings: dict[str, float] = field(default_factory=dict)
    two_accounts: bool = False
    tick: float = 5.0  # emulator seconds per 2 ms tick while the clock runs (prepare's waits and the re-run)

    @property
    def key(self) -> str:
        return f"{self.resource}-{self.operation}"


def _account(state: dict[str, Any], name: str = "relsource") -> dict[str, Any]:
    found: dict[str, Any] = state["accounts"][name]
    return found


def _files(state: dict[str, Any], purpose: str = "fine-tune") -> list[dict[str, Any]]:
    return [f for f in _account(state)["files"].values() if f["purpose"] == purpose]


def _jobs(state: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_account(state)["jobs"].values())


def _deployments(state: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_account(state)["deployments"].values())


def _copies(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in state["copies"].values() if c["_dest_account"] == "reldest"]


def _copied_models(state: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_account(state, "reldest")["copied_models"].values())


def _evals(state: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_account(state).get("evals", {}).values())


def _eval_runs(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for record in _evals(state) for run in record["_runs"].values()]


def _eval_remote(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {"evals": _evals(state), "runs": _eval_runs(state), "test_files": _files(state, "evals")}


def _eval_inputs(world: World) -> dict[str, Any]:
    return {
        "endpoint": world.acct.endpoint,
        "name": "releval",
        "path": str(arithmetic_items(world.tmp / "items.jsonl")),
        "testing_criteria": [EXACT],
        "input_messages": PROMPT,
        "model": MODEL,
    }


def _up_evaluation(world: World, engine: EngineReplay) -> None:
    with world.clock_running():
        step = engine.up("eval", Evaluation, _eval_inputs(world))
    assert step.state is not None
    assert step.state.outputs["status"] == "completed"


def _file_inputs(world: World, acct: EmulatedAccount | None = None) -> dict[str, Any]:
    return {"endpoint": (acct or world.acct).endpoint, "path": str(world.dataset)}


def _job_inputs(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": world.acct.endpoint,
        "model": MODEL,
        "training_file": world.values["file"],
        "suffix": "rel",
        **extra,
    }


def _dep_inputs(world: World, **extra: Any) -> dict[str, Any]:
    return {"account_id": world.acct.id, "deployment_name": "served", "model": MODEL, **extra}


def _copy_inputs(world: World) -> dict[str, Any]:
    assert world.dest is not None
    return {"endpoint": world.acct.endpoint, "job_id": world.values["job"], "destination_account_id": world.dest.id}


def _up_file(world: World, engine: EngineReplay, acct: EmulatedAccount | None = None, name: str = "train") -> str:
    with world.clock_running():
        step = engine.up(name, TrainingFile, _file_inputs(world, acct))
    assert step.state is not None
    return step.state.id


def _prepare_file(world: World, engine: EngineReplay) -> None:
    world.values["file"] = _up_file(world, engine)


def _up_running_job(world: World, engine: EngineReplay) -> None:
    """A file, and a job submitted without waiting; the clock moves past validation only, so it is running."""
    _prepare_file(world, engine)
    step = engine.up("job", FineTuningJob, _job_inputs(world, wait=False, paused=False))
    assert step.state is not None
    world.values["job"] = step.state.id
    world.emulator.advance(world.timings["job_validation"] + 1)
    engine.refresh("job")
    assert engine.state["job"].outputs["status"] == "running"


def _up_paused_job(world: World, engine: EngineReplay) -> None:
    """A running job paused by an update; pausing takes no emulator time here, so the clock never moves."""
    assert world.timings.get("job_pausing") == 0
    _up_running_job(world, engine)
    step = engine.up("job", FineTuningJob, _job_inputs(world, wait=False, paused=True))
    assert step.state is not None
    assert step.state.outputs["status"] == "paused"


def _up_trained_job(world: World, engine: EngineReplay) -> None:
    _prepare_file(world, engine)
    with world.clock_running():
        step = engine.up("job", FineTuningJob, _job_inputs(world))
    assert step.state is not None
    assert step.state.outputs["status"] == "succeeded"
    world.values["job"] = step.state.id


def _up_copy_sources(world: World, engine: EngineReplay) -> None:
    """A trained job in the source account, and the one job the destination needs before it can receive a copy."""
    assert world.dest is not None
    _up_trained_job(world, engine)
    dest_file = _up_file(world, engine, world.dest, "destfile")
    engine.up(
        "destjob",
        FineTuningJob,
        {"endpoint": world.dest.endpoint, "model": MODEL, "training_file": dest_file, "wait": False},
    )


def _up_deployment(world: World, engine: EngineReplay) -> None:
    with world.clock_running():
        step = engine.up("dep", Deployment, _dep_inputs(world))
    assert step.state is not None
    assert step.state.outputs["provisioning_state"] == "Succeeded"


def _nothing(_world: World, _engine: EngineReplay) -> None:
    return None


UPLOAD = Mutation("POST", r"/openai(/v1)?/files$", (200, 201))
DELETE_FILE = Mutation("DELETE", r"/files/[^/]+$", (200,))
SUBMIT = Mutation("POST", r"/fine_tuning/jobs$", (200, 201))
PAUSE = Mutation("POST", r"/fine_tuning/jobs/[^/]+/pause$", (200,))
RESUME = Mutation("POST", r"/fine_tuning/jobs/[^/]+/resume$", (200,))
CANCEL = Mutation("POST", r"/fine_tuning/jobs/[^/]+/cancel$", (200,))
DELETE_JOB = Mutation("DELETE", r"/fine_tuning/jobs/[^/]+$", (204,))
PUT_DEPLOYMENT = Mutation("PUT", r"/deployments/[^/]+$", (200, 201))
DELETE_DEPLOYMENT = Mutation("DELETE", r"/deployments/[^/]+$", (202,))
PATCH_DEPLOYMENT = Mutation("PATCH", r"/deployments/[^/]+$", (202,))
COPY = Mutation("POST", r"/checkpoints/[^/]+/copy$", (200,))
CREATE_EVAL = Mutation("POST", r"/evals$", (200, 201))
START_RUN = Mutation("POST", r"/evals/[^/]+/runs$", (200, 201))
DELETE_EVAL = Mutation("DELETE", r"/evals/[^/]+$", (200,))

JOB_GET = r"/fine_tuning/jobs/[^/]+$"
FILE_GET = r"/files/[^/]+$"
OPERATION_GET = r"/operationStatuses/[^/]+$"
OPERATION_RESULT_GET = r"/operationResults/[^/]+$"
COPY_GET = r"/checkpoints/[^/]+/copy$"
RUN_GET = r"/evals/[^/]+/runs/[^/]+$"
# The test set is processed at once, so that a create with the clock stopped reaches the eval and its run.
EVAL_TIMINGS = {"file_processing": 0.0}

SCENARIOS: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario(
            "training_file",
            "create",
            "train",
            {"upload": UPLOAD},
            _nothing,
            lambda w, e: e.up("train", TrainingFile, _file_inputs(w)),
            lambda s: {"files": _files(s)},
            {"files": 1},
            "lists the account's files, uploads, waits for processed",
        ),
        Scenario(
            "training_file",
            "delete",
            "train",
            {"delete": DELETE_FILE},
            _prepare_file,
            lambda w, e: e.destroy("train"),
            lambda s: {"files": _files(s)},
            {"files": 0},
            "deletes the file, waits until the service no longer has it",
        ),
        Scenario(
            "fine_tuning_job",
            "create",
            "job",
            {"submit": SUBMIT},
            _prepare_file,
            lambda w, e: e.up("job", FineTuningJob, _job_inputs(w)),
            lambda s: {"jobs": _jobs(s), "result_files": _files(s, "fine-tune-results")},
            {"jobs": 1, "result_files": 1},
            "lists jobs, submits (a paid call), waits for succeeded, reads checkpoints and results.csv",
        ),
        Scenario(
            "fine_tuning_job",
            "update_pause",
            "job",
            {"pause": PAUSE},
            _up_running_job,
            lambda w, e: e.up("job", FineTuningJob, _job_inputs(w, wait=False, paused=True)),
            lambda s: {"jobs": _jobs(s)},
            {"jobs": 1},
            "paused: false -> true: reads the job, pauses it, waits for paused",
            timings={"job_training": NEVER},
        ),
        Scenario(
            "fine_tuning_job",
            "update_resume",
            "job",
            {"resume": RESUME},
            _up_paused_job,
            lambda w, e: e.up("job", FineTuningJob, _job_inputs(w, wait=True, paused=False)),
            lambda s: {"jobs": _jobs(s), "result_files": _files(s, "fine-tune-results")},
            {"jobs": 1, "result_files": 1},
            "paused: true -> false with wait: reads the job, resumes it, waits for succeeded",
            timings={"job_pausing": 0.0},
        ),
        Scenario(
            "fine_tuning_job",
            "delete_running",
            "job",
            {"cancel": CANCEL, "delete_record": DELETE_JOB},
            _up_running_job,
            lambda w, e: e.destroy("job"),
            lambda s: {"jobs": _jobs(s)},
            {"jobs": 0},
            "reads the job, cancels it, waits until it stopped, deletes its record",
            timings={"job_training": NEVER},
        ),
        Scenario(
            "fine_tuning_job",
            "delete_succeeded",
            "job",
            {"delete_record": DELETE_JOB, "delete_results": DELETE_FILE},
            _up_trained_job,
            lambda w, e: e.destroy("job"),
            lambda s: {"jobs": _jobs(s), "result_files": _files(s, "fine-tune-results")},
            {"jobs": 0, "result_files": 0},
            "reads the finished job, deletes its results.csv, then its record",
        ),
        Scenario(
            "deployment",
            "create",
            "dep",
            {"put": PUT_DEPLOYMENT},
            _nothing,
            lambda w, e: e.up("dep", Deployment, _dep_inputs(w)),
            lambda s: {"deployments": _deployments(s)},
            {"deployments": 1},
            "ARM PUT, then follows the async operation",
        ),
        Scenario(
            "deployment",
            "update_capacity",
            "dep",
            {"patch": PATCH_DEPLOYMENT},
            _up_deployment,
            lambda w, e: e.up("dep", Deployment, _dep_inputs(w, capacity=2)),
            lambda s: {"deployments": _deployments(s)},
            {"deployments": 1},
            "capacity 1 -> 2: ARM PATCH of sku (as the SDK's update), then follows the Location operation",
        ),
        Scenario(
            "deployment",
            "delete",
            "dep",
            {"delete": DELETE_DEPLOYMENT},
            _up_deployment,
            lambda w, e: e.destroy("dep"),
            lambda s: {"deployments": _deployments(s)},
            {"deployments": 0},
            "ARM DELETE, then follows the async operation until the deployment is gone",
        ),
        Scenario(
            "checkpoint_copy",
            "create",
            "copy",
            {"copy": COPY},
            _up_copy_sources,
            lambda w, e: e.up("copy", CheckpointCopy, _copy_inputs(w)),
            lambda s: {"copies": _copies(s), "copied_models": _copied_models(s)},
            {"copies": 1, "copied_models": 1},
            "reads the job, the destination's region, POSTs the copy, polls until Completed",
            two_accounts=True,
        ),
        Scenario(
            "evaluation",
            "create",
            "eval",
            {"upload": UPLOAD, "create_eval": CREATE_EVAL, "start_run": START_RUN},
            _nothing,
            lambda w, e: e.up("eval", Evaluation, _eval_inputs(w)),
            _eval_remote,
            {"evals": 1, "runs": 1, "test_files": 1},
            "uploads the test set, lists evals, creates the eval, lists its runs, starts one, polls until completed",
            timings=EVAL_TIMINGS,
        ),
        Scenario(
            "evaluation",
            "delete",
            "eval",
            {"delete_eval": DELETE_EVAL, "delete_file": DELETE_FILE},
            _up_evaluation,
            lambda w, e: e.destroy("eval"),
            _eval_remote,
            {"evals": 0, "runs": 0, "test_files": 0},
            "deletes the eval (its runs with it), then the test set it uploaded, waits until the file is gone",
            timings=EVAL_TIMINGS,
        ),
    )
}


# --- points: where the plugin dies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """Where the plugin is killed, what the service has done by then, and what the re-run may add."""

    name: str
    hold: dict[str, Any] | None = None  # a latency fault rule; the kill comes while it holds its request
    after: str | None = None  # else: kill after the plugin polled ``poll`` following this mutation
    poll: str | None = None
    at_kill: dict[str, int] = field(default_factory=dict)  # accepted mutations when the plugin died
    extra: dict[str, int] = field(default_factory=dict)  # accepted mutations beyond an uninterrupted run's


def _held(method: str, path: str, *, when: str = "before", skip: int = 0) -> dict[str, Any]:
    return {
        "method": method,
        "path": path,
        "kind": "latency",
        "latency_ms": HOLD_MS,
        "when": when,
        "count": 1,
        "skip": skip,
    }


@dataclass(frozen=True)
class Case:
    """One row of the matrix."""

    scenario: Scenario
    point: Point

    @property
    def id(self) -> str:
        return f"{self.scenario.key}-{self.point.name}"


MATRIX: list[Case] = [
    Case(SCENARIOS[key], point)
    for key, point in (
        # TrainingFile create: GET files (list) -> POST files -> GET files/{id} until processed
        ("training_file-create", Point("before_request", hold=_held("GET", r"/files$"), at_kill={"upload": 0})),
        ("training_file-create", Point("after_accept", hold=_held("POST", UPLOAD.path, when="after"), at_kill={"upload": 1})),
        ("training_file-create", Point("while_waiting", after="upload", poll=FILE_GET, at_kill={"upload": 1})),
        # TrainingFile delete: DELETE files/{id} -> GET files/{id} until 404 (nothing precedes the DELETE)
        ("training_file-delete", Point("before_request", hold=_held("DELETE", DELETE_FILE.path), at_kill={"delete": 0})),
        ("training_file-delete", Point("after_accept", hold=_held("DELETE", DELETE_FILE.path, when="after"), at_kill={"delete": 1})),
        ("training_file-delete", Point("while_waiting", hold=_held("GET", FILE_GET), at_kill={"delete": 1})),
        # FineTuningJob create: GET jobs (list) -> POST jobs -> GET jobs/{id} until succeeded -> checkpoints, results
        ("fine_tuning_job-create", Point("before_request", hold=_held("GET", r"/fine_tuning/jobs$"), at_kill={"submit": 0})),
        ("fine_tuning_job-create", Point("after_accept", hold=_held("POST", SUBMIT.path, when="after"), at_kill={"submit": 1})),
        ("fine_tuning_job-create", Point("while_waiting", after="submit", poll=JOB_GET, at_kill={"submit": 1})),
        # FineTuningJob pause: GET jobs/{id} -> POST pause -> GET jobs/{id} until paused
        ("fine_tuning_job-update_pause", Point("before_request", hold=_held("GET", JOB_GET), at_kill={"pause": 0})),
        ("fine_tuning_job-update_pause", Point("after_accept", hold=_held("POST", PAUSE.path, when="after"), at_kill={"pause": 1})),
        ("fine_tuning_job-update_pause", Point("while_waiting", after="pause", poll=JOB_GET, at_kill={"pause": 1})),
        # FineTuningJob resume: GET jobs/{id} -> POST resume -> GET jobs/{id} until succeeded
        ("fine_tuning_job-update_resume", Point("before_request", hold=_held("GET", JOB_GET), at_kill={"resume": 0})),
        ("fine_tuning_job-update_resume", Point("after_accept", hold=_held("POST", RESUME.path, when="after"), at_kill={"resume": 1})),
        ("fine_tuning_job-update_resume", Point("while_waiting", after="resume", poll=JOB_GET, at_kill={"resume": 1})),
        # FineTuningJob delete (running): GET jobs/{id} -> POST cancel -> GET jobs/{id} until stopped -> DELETE record
        ("fine_tuning_job-delete_running", Point("before_request", hold=_held("GET", JOB_GET), at_kill={"cancel": 0, "delete_record": 0})),
        ("fine_tuning_job-delete_running", Point("after_accept", hold=_held("POST", CANCEL.path, when="after"), at_kill={"cancel": 1, "delete_record": 0})),
        ("fine_tuning_job-delete_running", Point("while_waiting", hold=_held("GET", JOB_GET, skip=1), at_kill={"cancel": 1, "delete_record": 0})),
        # FineTuningJob delete (succeeded): GET jobs/{id} -> DELETE results.csv -> DELETE record
        ("fine_tuning_job-delete_succeeded", Point("before_request", hold=_held("GET", JOB_GET), at_kill={"delete_record": 0, "delete_results": 0})),
        ("fine_tuning_job-delete_succeeded", Point("after_accept_results", hold=_held("DELETE", DELETE_FILE.path, when="after"), at_kill={"delete_record": 0, "delete_results": 1})),
        ("fine_tuning_job-delete_succeeded", Point("after_accept_record", hold=_held("DELETE", DELETE_JOB.path, when="after"), at_kill={"delete_record": 1, "delete_results": 1})),
        # Deployment create / update: PUT (nothing precedes it) -> GET operationStatuses until Succeeded -> GET
        ("deployment-create", Point("before_request", hold=_held("PUT", PUT_DEPLOYMENT.path), at_kill={"put": 0})),
        ("deployment-create", Point("after_accept", hold=_held("PUT", PUT_DEPLOYMENT.path, when="after"), at_kill={"put": 1}, extra={"put": 1})),
        ("deployment-create", Point("while_waiting", after="put", poll=OPERATION_GET, at_kill={"put": 1}, extra={"put": 1})),
        ("deployment-update_capacity", Point("before_request", hold=_held("PATCH", PATCH_DEPLOYMENT.path), at_kill={"patch": 0})),
        ("deployment-update_capacity", Point("after_accept", hold=_held("PATCH", PATCH_DEPLOYMENT.path, when="after"), at_kill={"patch": 1}, extra={"patch": 1})),
        ("deployment-update_capacity", Point("while_waiting", after="patch", poll=OPERATION_RESULT_GET, at_kill={"patch": 1}, extra={"patch": 1})),
        # Deployment delete: DELETE (nothing precedes it) -> GET operationStatuses until Succeeded
        ("deployment-delete", Point("before_request", hold=_held("DELETE", DELETE_DEPLOYMENT.path), at_kill={"delete": 0})),
        ("deployment-delete", Point("after_accept", hold=_held("DELETE", DELETE_DEPLOYMENT.path, when="after"), at_kill={"delete": 1})),
        ("deployment-delete", Point("while_waiting", after="delete", poll=OPERATION_GET, at_kill={"delete": 1})),
        # CheckpointCopy create: GET job -> ARM GET destination -> POST copy -> GET copy until Completed
        ("checkpoint_copy-create", Point("before_request", hold=_held("GET", JOB_GET), at_kill={"copy": 0})),
        ("checkpoint_copy-create", Point("after_accept", hold=_held("POST", COPY.path, when="after"), at_kill={"copy": 1})),
        ("checkpoint_copy-create", Point("while_waiting", after="copy", poll=COPY_GET, at_kill={"copy": 1})),
        # Evaluation create: GET files (list) -> POST files -> GET file -> GET evals -> POST evals -> GET runs -> POST runs
        # -> GET run until completed
        ("evaluation-create", Point("before_request", hold=_held("GET", r"/files$"), at_kill={"upload": 0, "create_eval": 0, "start_run": 0})),
        ("evaluation-create", Point("after_accept", hold=_held("POST", CREATE_EVAL.path, when="after"), at_kill={"upload": 1, "create_eval": 1, "start_run": 0})),
        ("evaluation-create", Point("after_accept_run", hold=_held("POST", START_RUN.path, when="after"), at_kill={"create_eval": 1, "start_run": 1})),
        ("evaluation-create", Point("while_waiting", after="start_run", poll=RUN_GET, at_kill={"create_eval": 1, "start_run": 1})),
        # Evaluation delete: DELETE evals/{id} (nothing precedes it) -> DELETE files/{id} -> GET files/{id} until 404
        ("evaluation-delete", Point("before_request", hold=_held("DELETE", DELETE_EVAL.path), at_kill={"delete_eval": 0, "delete_file": 0})),
        ("evaluation-delete", Point("after_accept", hold=_held("DELETE", DELETE_EVAL.path, when="after"), at_kill={"delete_eval": 1, "delete_file": 0})),
        ("evaluation-delete", Point("after_accept_file", hold=_held("DELETE", DELETE_FILE.path, when="after"), at_kill={"delete_eval": 1, "delete_file": 1})),
    )
]  # fmt: skip


def matrix_cases() -> list[Case]:
    """Every row of the interruption matrix (resource x operation x point), once per seed under soak."""
    return list(MATRIX)


def seeds() -> list[int]:
    """The emulator seeds each case runs with: one normally, ``AOAI_SOAK_SEEDS`` under ``AOAI_SOAK=1``."""
    return [SEED_BASE + i for i in range(REPETITIONS)]


# --- what a run leaves: counts of accepted mutations, and a fingerprint of the end state ------------------------

ID_RE = re.compile(r"\b(file|ftjob|ftchkpt|ftevent)-[0-9a-f]{32}\b")
EVAL_ID_RE = re.compile(r"\b(eval|evalrun|outputitem)_[0-9a-f]{32}\b")
MODEL_RE = re.compile(r"\.ft-[0-9a-f]{32}")
PORT_RE = re.compile(r"127\.0\.0\.1:\d+")
VOLATILE = frozenset({"created_at", "finished_at", "estimated_finish", "path", "startTime", "endTime"})


def normalize(value: Any) -> Any:
    """A value without what differs between two identical runs: generated ids, times, ports, temp paths."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in sorted(value.items()) if k not in VOLATILE and not k.startswith("_")}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        value = EVAL_ID_RE.sub(r"\1_*", ID_RE.sub(r"\1-*", value))
        return PORT_RE.sub("127.0.0.1:*", MODEL_RE.sub(".ft-*", value))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def accepted_mutations(world: World, scenario: Scenario, since: int) -> Counter[str]:
    """The mutating requests the service accepted since ``since``, by kind; ``other`` for any not expected."""
    counts: Counter[str] = Counter()
    for request in world.requests(since):
        if request["method"] not in MUTATING:
            continue
        kind = next((k for k, m in scenario.mutations.items() if m.matches(request)), None)
        if kind is not None and scenario.mutations[kind].accepts(request):
            counts[kind] += 1
        elif kind is None and 200 <= request["status"] < 300:
            counts["other"] += 1
    return counts


@dataclass
class EndState:
    """What a finished operation left: the resource's state and the remote objects, normalized."""

    fingerprint: Any
    counts: dict[str, int]
    mutations: Counter[str]


def end_state(world: World, scenario: Scenario, engine: EngineReplay, since: int) -> EndState:
    remote = world.snapshot(scenario.remote)
    state = engine.state.get(scenario.name)
    return EndState(
        fingerprint=normalize({"state": state.outputs if state else None, "remote": remote}),
        counts={kind: len(objs) for kind, objs in remote.items()},
        mutations=accepted_mutations(world, scenario, since),
    )


_REFERENCES: dict[tuple[str, int], EndState] = {}


def uninterrupted(scenario: Scenario, seed: int) -> EndState:
    """The end state of the scenario run once without interruption, on an emulator with the same seed (cached)."""
    key = (scenario.key, seed)
    if key not in _REFERENCES:
        with tempfile.TemporaryDirectory(prefix="aoai-reference-") as tmp:
            world = World(scenario, seed, Path(tmp))
            try:
                engine = world.engine()
                scenario.prepare(world, engine)
                since = world.last_seq()
                with world.clock_running():
                    scenario.act(world, engine)
                _REFERENCES[key] = end_state(world, scenario, engine, since)
            finally:
                world.close()
    return _REFERENCES[key]


# --- killing the plugin at a point ------------------------------------------------------------------------------


class Attempt:
    """An engine call run in a thread, so that the plugin under it can be killed; records how it ended."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.error: BaseException | None = None
        self.returned = False
        self._call = call
        self.thread = threading.Thread(target=self._run, daemon=True, name="interrupted-call")
        self.thread.start()

    def _run(self) -> None:
        try:
            self._call()
            self.returned = True
        except BaseException as exc:  # the plugin is killed under this call on purpose
            self.error = exc


def kill_when(plugin: DynamicPlugin, attempt: Attempt, ready: Callable[[], bool], what: str) -> None:
    """SIGKILL the plugin as soon as ``ready()``; fail if the call ends first or the point never comes."""
    deadline = time.monotonic() + KILL_DEADLINE_S
    while not ready():
        if not attempt.thread.is_alive():
            raise AssertionError(f"the call ended before {what}: returned={attempt.returned} error={attempt.error}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {KILL_DEADLINE_S:g} s")
        time.sleep(0.005)
    plugin.kill()
    attempt.thread.join(timeout=30)
    assert not attempt.thread.is_alive(), "the engine call did not end after the plugin was killed"
    assert not attempt.returned, f"the call completed although the plugin was killed at {what}"


def polls_since(world: World, mutation: Mutation, poll: str, since: int) -> int:
    """How many GETs of ``poll`` the plugin made after the service accepted ``mutation``."""
    requests = world.requests(since)
    first = next((i for i, r in enumerate(requests) if mutation.accepts(r)), None)
    if first is None:
        return 0
    return sum(1 for r in requests[first + 1 :] if r["method"] == "GET" and re.search(poll, r["path"]))


def wait_until_served(world: World, hold: dict[str, Any], since: int) -> dict[str, Any]:
    """Wait for a held request to come out of its hold and be logged; returns its log entry."""
    deadline = time.monotonic() + HOLD_MS / 1000 + 15
    while True:
        for request in world.requests(since):
            if request["method"] == hold["method"] and re.search(hold["path"], request["path"]):
                return request
        assert time.monotonic() < deadline, f"the held {hold['method']} never came out of its hold"
        time.sleep(0.02)


# --- the matrix -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "seed"),
    [
        pytest.param(
            case,
            seed,
            id=f"{case.id}-seed{seed}",
        )
        for case in MATRIX
        for seed in seeds()
    ],
)
def test_killed_operation_rerun_adopts_and_converges(case: Case, seed: int, tmp_path: Path) -> None:
    """Kill the plugin at the point, re-run the operation with a fresh plugin and the old state: one object, same end.

    The killed call must not complete; at the moment of the kill the service has accepted exactly the mutations
    the point names (none before the request); after the re-run the remote objects, the resource's state and the
    accepted mutating requests equal an uninterrupted run's, plus only the idempotent re-sends adoption implies.
    """
    scenario, point = case.scenario, case.point
    reference = uninterrupted(scenario, seed)
    assert reference.counts == scenario.want, f"the uninterrupted run itself left {reference.counts}"
    world = World(scenario, seed, tmp_path)
    try:
        victim = world.engine()
        scenario.prepare(world, victim)
        state_before = copy.deepcopy(victim.state)
        remote_before = world.snapshot(scenario.remote)
        since = world.last_seq()

        # 1. run the operation and kill the plugin at the point (the manual clock stands still meanwhile)
        rule = world.emulator.add_fault(point.hold) if point.hold else None
        attempt = Attempt(lambda: scenario.act(world, victim))
        if rule is not None:
            kill_when(victim.plugin, attempt, lambda: rule.fired >= 1, f"the held {point.hold}")
            if not any(point.at_kill.values()):
                served = None
                if point.hold and point.hold["method"] in MUTATING:  # the held request is the mutation itself
                    served = wait_until_served(world, point.hold, since)
                    assert served["status"] >= 400, f"the held request reached the service after all: {served}"
                arrived = [
                    r
                    for r in world.requests(since)
                    if r is not served and any(m.matches(r) for m in scenario.mutations.values())
                ]
                assert arrived == [], f"a mutating request arrived although the plugin died before it: {arrived}"
        else:
            assert point.after is not None
            assert point.poll is not None
            mutation, want_polls = scenario.mutations[point.after], 2 + seed % 4
            kill_when(
                victim.plugin,
                attempt,
                lambda: polls_since(world, mutation, str(point.poll), since) >= want_polls,
                f"{want_polls} polls after {point.after}",
            )
        world.emulator.clear_faults()
        at_kill = accepted_mutations(world, scenario, since)
        assert {k: at_kill[k] for k in point.at_kill} == point.at_kill, f"accepted when killed: {dict(at_kill)}"
        assert at_kill["other"] == 0
        if not any(point.at_kill.values()):
            assert world.snapshot(scenario.remote) == remote_before, "nothing changed remotely before the request"

        # 2. the next `pulumi up` / `destroy`: a fresh plugin, the state as it was before the interrupted call
        rerun = world.engine()
        rerun.state = copy.deepcopy(state_before)
        with world.clock_running():
            scenario.act(world, rerun)
        end = end_state(world, scenario, rerun, since)
    finally:
        world.close()

    assert end.counts == scenario.want, f"remote objects after the re-run: {end.counts} (want {scenario.want})"
    assert end.fingerprint == reference.fingerprint, "the re-run did not converge to the uninterrupted end state"
    expected = reference.mutations + Counter(point.extra)
    assert end.mutations == expected, f"accepted mutating requests {dict(end.mutations)}, want {dict(expected)}"


# --- operations with no remote call -----------------------------------------------------------------------------


NO_REMOTE_CALL = {
    "training_file-update": (
        SCENARIOS["training_file-delete"],  # its prepare makes the file
        lambda w, e: e.up("train", TrainingFile, {**_file_inputs(w), "timeout_minutes": 5}),
        "update",
    ),
    "checkpoint_copy-update": (
        SCENARIOS["checkpoint_copy-create"],
        lambda w, e: e.up("copy", CheckpointCopy, {**_copy_inputs(w), "timeout_minutes": 5}),
        "update",
    ),
    "checkpoint_copy-delete": (SCENARIOS["checkpoint_copy-create"], lambda w, e: e.destroy("copy"), "delete"),
}


@pytest.mark.parametrize("which", list(NO_REMOTE_CALL))
def test_operation_without_remote_call_has_nothing_to_interrupt(which: str, tmp_path: Path) -> None:
    """TrainingFile/CheckpointCopy updates and CheckpointCopy's delete send no request: no point to kill them at.

    The update only records a setting that touches no remote object (``timeout_minutes``); the copy's delete only
    logs that Azure cannot remove a copied checkpoint. Neither sends any request, so a plugin killed during them
    leaves the service exactly as it was, and the re-run is the same local step.
    """
    scenario, operation, kind = NO_REMOTE_CALL[which]
    world = World(scenario, SEED_BASE, tmp_path)
    try:
        engine = world.engine()
        scenario.prepare(world, engine)
        if scenario.operation == "create":
            with world.clock_running():
                scenario.act(world, engine)
        remote_before = world.snapshot(scenario.remote)
        since = world.last_seq()
        step = operation(world, engine)
        assert world.requests(since) == [], "the operation sent requests"
        assert world.snapshot(scenario.remote) == remote_before
    finally:
        world.close()
    assert step.op == kind
