"""Bad input, 40+ cases: each refused clearly, and no fine-tuning job is ever submitted on invalid data.

A mistake that can be known offline fails ``check`` (during preview) on its property with the rule and the
fix; the rest fail with the service's own error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aoai_emulator import Limits
from pulumi_aoai_finetuning import CheckpointCopy, Deployment, Evaluation, FineTuningJob, TrainingFile
from pulumi_aoai_finetuning.testing import (
    SECRET_CONFIG,
    CheckFailed,
    DynamicPlugin,
    EmulatedAccount,
    EngineReplay,
    ProviderError,
    emulated_account,
)
from tests.emulator.support import chat_dataset
from tests.resources.test_evaluation_grpc import EXACT, PROMPT, arithmetic_items

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
EXPECTED = json.loads((BAD / "EXPECTED.json").read_text())
MODEL = "gpt-4o-mini-2024-07-18"
DATED = "2025-04-01-preview"


@dataclass
class World:
    """One emulated account with a ready file, the plugin, and paths of good data."""

    account: EmulatedAccount
    engine: EngineReplay
    good: Path
    file_id: str
    tmp: Path
    plugins: list[DynamicPlugin] = field(default_factory=list)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bad-input")
    limits = Limits(max_queued_jobs=1, max_finetuned_deployments=1)
    with emulated_account("badinput", seed=404, limits=limits) as account:
        plugin = DynamicPlugin(
            account.stack_config(**{"azure-openai:apiVersion": DATED}), secrets=set(SECRET_CONFIG), cwd=tmp
        )
        engine = EngineReplay(plugin)
        good = chat_dataset(tmp / "good.jsonl")
        file_id = engine.up("good", TrainingFile, {"endpoint": account.endpoint, "path": str(good)}).state.id  # type: ignore[union-attr]
        world = World(account, engine, good, file_id, tmp, [plugin])
        yield world
        for p in world.plugins:
            p.close()


@dataclass(frozen=True)
class Case:
    """One bad input: what is declared, and where and how it must be refused."""

    name: str
    resource: type
    inputs: Callable[[World], dict[str, Any]]
    prop: str | None = None  # a check failure on this property; None: a service error
    says: str = ""  # text the error must contain
    config: dict[str, str] | None = None


def _file(w: World, **extra: Any) -> dict[str, Any]:
    return {"endpoint": w.account.endpoint, "path": str(w.good), **extra}


def _job(w: World, **extra: Any) -> dict[str, Any]:
    return {"endpoint": w.account.endpoint, "model": MODEL, "training_file": w.file_id, "suffix": "bad", **extra}


def _dep(w: World, **extra: Any) -> dict[str, Any]:
    return {"account_id": w.account.id, "deployment_name": "bad", "model": MODEL, **extra}


def _copy(w: World, **extra: Any) -> dict[str, Any]:
    return {"endpoint": w.account.endpoint, "job_id": "ftjob-1", "destination_account_id": w.account.id, **extra}


def _eval(w: World, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint": w.account.endpoint,
        "name": "bad",
        "path": str(arithmetic_items(w.tmp / "items.jsonl")),
        "testing_criteria": [EXACT],
        "input_messages": PROMPT,
        "model": MODEL,
        **extra,
    }


def _rft(grader: dict[str, Any]) -> dict[str, Any]:
    return {"type": "reinforcement", "reinforcement": {"grader": grader}}


DATASET_CASES = [
    Case(f"dataset {name}", TrainingFile, lambda w, n=name: _file(w, path=str(BAD / n)), "path", expected["rule"])
    for name, expected in sorted(EXPECTED.items())
    if not expected.get("options")
]

INPUT_CASES = [
    Case("file without endpoint", TrainingFile, lambda w: {"path": str(w.good)}, "endpoint", "endpoint is required"),
    Case("file endpoint not a URL", TrainingFile, lambda w: _file(w, endpoint="myaccount"), "endpoint", "https://"),
    Case(
        "file with two sources",
        TrainingFile,
        lambda w: _file(w, content_url="https://h/x.jsonl"),
        "path",
        "exactly one",
    ),
    Case("file that does not exist", TrainingFile, lambda w: _file(w, path="nowhere.jsonl"), "path", "no such file"),
    Case("file purpose unknown", TrainingFile, lambda w: _file(w, purpose="training"), "purpose", "one of"),
    Case("file name not .jsonl", TrainingFile, lambda w: _file(w, filename="train.txt"), "filename", ".jsonl"),
    Case("file timeout negative", TrainingFile, lambda w: _file(w, timeout_minutes=-1), "timeout_minutes", "between"),
    Case("job suffix too long", FineTuningJob, lambda w: _job(w, suffix="s" * 41), "suffix", "40"),
    Case("job suffix bad characters", FineTuningJob, lambda w: _job(w, suffix="a b"), "suffix", "a-z"),
    Case(
        "job zero epochs",
        FineTuningJob,
        lambda w: _job(w, hyperparameters={"n_epochs": 0}),
        "hyperparameters.n_epochs",
        "between",
    ),
    Case(
        "job huge batch",
        FineTuningJob,
        lambda w: _job(w, hyperparameters={"batch_size": 1000}),
        "hyperparameters.batch_size",
        "between",
    ),
    Case(
        "job negative learning rate",
        FineTuningJob,
        lambda w: _job(w, hyperparameters={"learning_rate_multiplier": -1}),
        "hyperparameters.learning_rate_multiplier",
        "between",
    ),
    Case(
        "job unknown hyperparameter",
        FineTuningJob,
        lambda w: _job(w, hyperparameters={"epochs": 2}),
        "hyperparameters.epochs",
        "unknown hyperparameter",
    ),
    Case(
        "job 'auto' on a dated API",
        FineTuningJob,
        lambda w: _job(w, hyperparameters={"n_epochs": "auto"}),
        "hyperparameters.n_epochs",
        "v1",
    ),
    Case("job unknown method", FineTuningJob, lambda w: _job(w, method="rlhf"), "method", "supervised"),
    Case(
        "job unknown training type",
        FineTuningJob,
        lambda w: _job(w, training_type="premium"),
        "training_type",
        "globalstandard",
    ),
    Case(
        "job training type on v1",
        FineTuningJob,
        lambda w: _job(w, training_type="globalstandard"),
        "training_type",
        "apiVersion",
        config={"azure-openai:apiVersion": "v1"},
    ),
    Case("job seed out of range", FineTuningJob, lambda w: _job(w, seed=-5), "seed", "between"),
    Case(
        "job gate on unknown metric",
        FineTuningJob,
        lambda w: _job(w, quality_gate={"max_loss": 1}),
        "quality_gate.max_loss",
        "max_<metric>",
    ),
    Case(
        "job gate without waiting",
        FineTuningJob,
        lambda w: _job(w, quality_gate={"max_train_loss": 1}, wait=False),
        "quality_gate",
        "wait=true",
    ),
    Case(
        "job without training file",
        FineTuningJob,
        lambda w: {"endpoint": w.account.endpoint, "model": MODEL},
        "training_file",
        "required",
    ),
    Case("job paused not a flag", FineTuningJob, lambda w: _job(w, paused="yes"), "paused", "true or false"),
    Case(
        "deployment account id malformed",
        Deployment,
        lambda w: _dep(w, account_id="/subscriptions/x/accounts/y"),
        "account_id",
        "ARM id",
    ),
    Case("deployment unknown sku", Deployment, lambda w: _dep(w, sku_name="Premium"), "sku_name", "GlobalStandard"),
    Case("deployment zero capacity", Deployment, lambda w: _dep(w, capacity=0), "capacity", "between"),
    Case("deployment name with a slash", Deployment, lambda w: _dep(w, deployment_name="a/b"), "deployment_name", "/"),
    Case(
        "deployment wrong model format",
        Deployment,
        lambda w: _dep(w, model_format="Anthropic"),
        "model_format",
        "OpenAI",
    ),
    Case(
        "deployment bad upgrade option",
        Deployment,
        lambda w: _dep(w, version_upgrade_option="Always"),
        "version_upgrade_option",
        "NoAutoUpgrade",
    ),
    Case(
        "evaluation grader operation unknown",
        Evaluation,
        lambda w: _eval(w, testing_criteria=[{**EXACT, "operation": "contains"}]),
        "testing_criteria[0].operation",
        "eq, ne, like, ilike",
    ),
    Case(
        "evaluation without testing criteria",
        Evaluation,
        lambda w: _eval(w, testing_criteria=None),
        "testing_criteria",
        "required",
    ),
    Case(
        "evaluation gate above one",
        Evaluation,
        lambda w: _eval(w, gate={"min_pass_rate": 90}),
        "gate.min_pass_rate",
        "between 0 and 1",
    ),
    Case(
        "evaluation item lacks a quoted field",
        Evaluation,
        lambda w: _eval(w, input_messages=[{"role": "user", "content": "{{item.prompt}}"}]),
        "path",
        "has no prompt",
    ),
    Case(
        "job reinforcement grader of unknown type",
        FineTuningJob,
        lambda w: _job(w, method=_rft({"type": "python", "name": "p", "source": "x"})),
        "method.reinforcement.grader.type",
        "score_model",
    ),
    Case("copy job id malformed", CheckpointCopy, lambda w: _copy(w, job_id="job-1"), "job_id", "ftjob-"),
    Case(
        "copy destination not an ARM id",
        CheckpointCopy,
        lambda w: _copy(w, destination_account_id="westus-acct"),
        "destination_account_id",
        "ARM id",
    ),
]

CONFIG_CASES = [
    Case(
        "config apiVersion unknown",
        TrainingFile,
        _file,
        None,
        "apiVersion",
        config={"azure-openai:apiVersion": "latest"},
    ),
    Case("config apiKeys not JSON", TrainingFile, _file, None, "apiKeys", config={"azure-openai:apiKeys": "k1,k2"}),
    Case(
        "config poll interval not a number",
        TrainingFile,
        _file,
        None,
        "pollIntervalSeconds",
        config={"azure-openai:pollIntervalSeconds": "soon"},
    ),
    Case("config maxRetries zero", TrainingFile, _file, None, "maxRetries", config={"azure-openai:maxRetries": "0"}),
]

SERVICE_CASES = [
    Case(
        "account that does not exist",
        TrainingFile,
        lambda w: _file(w, endpoint=w.account.endpoint.replace("badinput", "nosuchacct")),
        None,
        "Resource not found",
    ),
    Case("wrong key", TrainingFile, _file, None, "Access denied", config={"azure-openai:apiKey": "c0ffee" * 5 + "42"}),
    Case(
        "model that does not exist",
        FineTuningJob,
        lambda w: _job(w, model="gpt-9-turbo"),
        None,
        "does not support fine-tuning",
    ),
    Case(
        "inference-only model", FineTuningJob, lambda w: _job(w, model="gpt-4o"), None, "does not support fine-tuning"
    ),
    Case(
        "training file that does not exist",
        FineTuningJob,
        lambda w: _job(w, training_file="file-00000000000000000000000000000000"),
        None,
        "could not be found",
    ),
    Case(
        "training file not processed yet",
        FineTuningJob,
        lambda w: _job(w, training_file=_pending_file(w)),
        None,
        "not processed yet",
    ),
    Case("dpo on a chat dataset", FineTuningJob, lambda w: _job(w, method="dpo"), None, "preference"),
    Case(
        "deployment of an unknown model",
        Deployment,
        lambda w: _dep(w, model="gpt-9.ft-0123"),
        None,
        "DeploymentModelNotSupported",
    ),
    Case(
        "deployment in an account that does not exist",
        Deployment,
        lambda w: _dep(w, account_id=w.account.id.replace("badinput", "ghost")),
        None,
        "ResourceNotFound",
    ),
    Case(
        "copy of a job that does not exist",
        CheckpointCopy,
        lambda w: _copy(w, job_id="ftjob-00000000000000000000000000000000"),
        None,
        "could not be found",
    ),
]

CASES = DATASET_CASES + INPUT_CASES + CONFIG_CASES + SERVICE_CASES


def _pending_file(w: World) -> str:
    """A file uploaded straight to the data plane and not read since: under the immediate clock it stays pending."""
    response = httpx2.post(
        f"{w.account.endpoint}openai/v1/files",
        headers={"api-key": w.account.key},
        files={"file": ("pending.jsonl", w.good.read_bytes())},
        data={"purpose": "fine-tune"},
    )
    return str(response.json()["id"])


def _engine(w: World, case: Case) -> EngineReplay:
    if not case.config:
        return w.engine
    plugin = DynamicPlugin(
        w.account.stack_config(**{"azure-openai:apiVersion": DATED, **case.config}),
        secrets=set(SECRET_CONFIG),
        cwd=w.tmp,
    )
    w.plugins.append(plugin)
    return EngineReplay(plugin)


def test_corpus_has_at_least_40_distinct_cases() -> None:
    """The corpus the reliability issue asks for: 40 or more, all distinct."""
    assert len({c.name for c in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_clearly_and_submits_no_job(world: World, case: Case) -> None:
    """Offline-knowable mistakes fail ``check`` on their property; the rest fail with the service's words; no job."""
    jobs_before = set(world.account.objects("jobs"))
    submits_before = _job_submits(world)
    engine = _engine(world, case)
    if case.prop is not None:
        with pytest.raises(CheckFailed) as info:
            engine.up(f"case-{abs(hash(case.name))}", case.resource, case.inputs(world))
        reasons = [reason for prop, reason in info.value.failures if prop == case.prop]
        assert reasons, info.value.failures
        assert any(case.says in r for r in reasons), reasons
    else:
        with pytest.raises(ProviderError) as err:
            engine.up(f"case-{abs(hash(case.name))}", case.resource, case.inputs(world))
        assert case.says in err.value.details
        assert world.account.key not in err.value.details
    assert set(world.account.objects("jobs")) == jobs_before, "no job was created"
    assert _job_submits(world) == submits_before, "no job submission was accepted"


def _job_submits(w: World) -> int:
    return sum(
        1
        for r in w.account.requests()
        if r["method"] == "POST" and r["path"].endswith("/fine_tuning/jobs") and r["status"] < 400
    )
