"""Issue 4's acceptance for every example under ``examples/``, run by the program harness against the emulator.

Each example gets its own in-process emulator (immediate clock, fixed seed) and goes once through the life
of a stack, in the order a user would: ``up``; a second ``up``; ``refresh``; an out-of-band deletion of one
deployment followed by ``refresh`` and ``up``; ``destroy``. :class:`Lifecycle` runs those phases lazily and
remembers what each did (its results, the requests the emulator served meanwhile, a copy of the emulator's
state after it), so each test asserts on one phase and any test can run alone (it runs the phases before
its own first).

The first ``up`` of a stack runs without data-plane keys in the stack config: the harness stands in for
Microsoft Entra ID by listing the new account's keys through ARM. Every later command runs with the keys
as secret stack config (``azure-openai:apiKeys``), as a user who set them would, so that no ``listKeys`` POST
muddies the request log of a command that must not mutate anything. (cross-region's first up cannot carry
its destinations' keys either: with any ``apiKeys`` configured, the harness stops listing the key of the
account the program creates. Its resources need none: the copy runs on the source account, deployments
go through ARM.)
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

from aoai_emulator import Emulator, create_emulator
from pulumi_aoai_finetuning.testing.program import ProgramResult, run_program
from tests.emulator.support import chat_dataset

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SEED = 4404
ARM_TOKEN = "examples-arm-token"
ARM_API = "2025-06-01"
BASE_MODEL = "gpt-4o-mini-2024-07-18"
MODEL_RE = re.compile(rf"{re.escape(BASE_MODEL)}\.ft-[0-9a-f]{{32}}-(?P<suffix>[a-z0-9]+)")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TERMINAL_JOB_STATES = frozenset({"succeeded", "failed", "cancelled"})
PROD_SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"  # examples/promotion/Pulumi.prod.yaml

ACCOUNT = "azure-native:cognitiveservices:Account"
TRAINING_FILE = "pulumi-python:dynamic/azure-openai:TrainingFile"
JOB = "pulumi-python:dynamic/azure-openai:FineTuningJob"
COPY = "pulumi-python:dynamic/azure-openai:CheckpointCopy"
DEPLOYMENT = "pulumi-python:dynamic/azure-openai:Deployment"


# --- the examples -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """An example project: its stacks in the order they run, and the deployment deleted out of band."""

    name: str
    deleted: tuple[str, str]  # (stack, logical name of a Deployment)
    stacks: tuple[str, ...] = ("dev",)
    suffixes: frozenset[str] = frozenset()  # the `suffix` of each job it trains

    @property
    def directory(self) -> Path:
        """The project directory."""
        return EXAMPLES / self.name


EXAMPLE_SPECS = {
    "quickstart": Example("quickstart", ("dev", "support-assistant"), suffixes=frozenset({"quickstart"})),
    "promotion": Example("promotion", ("prod", "production"), ("dev", "prod"), frozenset({"promotion"})),
    "cross-region": Example("cross-region", ("dev", "serve-1"), suffixes=frozenset({"xregion"})),
    "continuous": Example("continuous", ("dev", "latest"), suffixes=frozenset({"round1", "round2"})),
}
DESTINATIONS = (("xrsweden", "swedencentral"), ("xrwestus", "westus"))  # cross-region's existing accounts


# --- one example's life against one emulator -------------------------------------------------------------


class PhaseFailedError(AssertionError):
    """An earlier phase of the example failed, so the phase a test needs cannot be reached."""


@dataclass
class Phase:
    """What one phase did: per-stack results, the requests served meanwhile, the emulator's state after."""

    results: dict[str, ProgramResult]
    requests: list[dict[str, Any]]
    state: dict[str, Any]
    stacks: dict[str, dict[str, Any]]  # each stack's state file after the phase
    extra: dict[str, Any] = field(default_factory=dict)

    def mutations(self) -> list[tuple[str, str]]:
        """The POST/PUT/PATCH/DELETE requests served during the phase."""
        return [(r["method"], r["path"]) for r in self.requests if r["method"] in MUTATING]

    def steps(self) -> list[tuple[str, str, str, str]]:
        """(stack, type, logical name, op) of every step, stacks in the order they ran."""
        return [(stack, s.type, s.name, s.op) for stack, result in self.results.items() for s in result.steps]

    def ops(self) -> set[str]:
        """The distinct ops of the phase's steps."""
        return {op for *_, op in self.steps()}

    def resources(self, stack: str, type_: str | None = None) -> list[dict[str, Any]]:
        """The stack's resources after the phase, optionally of one type."""
        return [r for r in self.stacks[stack]["resources"] if type_ is None or r["type"] == type_]

    def resource(self, stack: str, type_: str, name: str) -> dict[str, Any]:
        """The stack's resource of this type and logical name after the phase (names repeat across types)."""
        (found,) = [r for r in self.resources(stack, type_) if r["urn"].rsplit("::", 1)[1] == name]
        return found

    def drift(self) -> list[str]:
        """The URNs whose outputs a refresh found changed, in every stack."""
        return [urn for result in self.results.values() for urn in result.drift]

    def recorded(self) -> dict[str, dict[str, Any]]:
        """Each stack's state file as a comparable value: resources by URN, and the stack outputs.

        The order of resources follows registration, which concurrently resolved outputs make vary between runs.
        """
        return {
            stack: {"resources": {r["urn"]: r for r in data["resources"]}, "outputs": data["outputs"]}
            for stack, data in self.stacks.items()
        }


class Lifecycle:
    """One example's stacks against a served emulator, driven phase by phase (each phase runs once)."""

    def __init__(self, example: Example, workdir: Path) -> None:
        self.example = example
        self.workdir = workdir
        self.emulator: Emulator = create_emulator(seed=SEED)
        self.url = self.emulator.serve().url
        self.extra_config: dict[str, str] = {}
        self.extra_keys: dict[str, str] = {}  # endpoint -> key of accounts the stacks use but do not create
        self._outcomes: dict[str, Phase | BaseException] = {}
        if example.name == "cross-region":
            self._seed_destinations()
        self.baseline = copy.deepcopy(self.emulator.state())  # what existed before the first up

    def close(self) -> None:
        """Stop the emulator."""
        self.emulator.close()

    # --- running the harness ------------------------------------------------------------------------------

    def state_file(self, stack: str) -> Path:
        """The harness state of a stack: ``<stack>.json``, the name a StackReference finds by default."""
        return self.workdir / f"{stack}.json"

    def stack_state(self, stack: str) -> dict[str, Any]:
        """A stack's state file, parsed (empty before its first up)."""
        path = self.state_file(stack)
        return json.loads(path.read_text()) if path.is_file() else {"resources": [], "outputs": {}}

    def user_keys(self, stack: str) -> dict[str, str]:
        """The data-plane keys a user sets as ``azure-openai:apiKeys``: the stack's accounts', and any extra."""
        keys = dict(self.extra_keys)
        accounts = self.emulator.state()["accounts"]
        for res in (r for r in self.stack_state(stack)["resources"] if r["type"] == ACCOUNT):
            held = accounts.get(res["outputs"]["name"].lower())
            if held is not None:
                keys[res["outputs"]["properties"]["endpoint"]] = held["keys"][0]
        return keys

    def run(self, stack: str, command: str, *, keys: bool = True) -> ProgramResult:
        """One harness command on one stack, with the stack config of a user pointed at the emulator."""
        config = {
            "azure-openai:armEndpoint": self.url,
            "azure-openai:pollIntervalSeconds": "0.01",
            "azure-openai:pollMaxSeconds": "0.05",
            **self.extra_config,
        }
        secrets = {"azure-openai:armToken": ARM_TOKEN}
        if keys:
            secrets["azure-openai:apiKeys"] = json.dumps(self.user_keys(stack))
        references = {other: self.state_file(other) for other in self.example.stacks if other != stack}
        return run_program(
            command,
            self.example.directory,
            self.state_file(stack),
            config=config,
            secrets=secrets,
            stack=stack,
            stack_references=references,
        )

    def _record(self, run: Callable[[], dict[str, ProgramResult]]) -> Phase:
        start = len(self.emulator.requests())
        results = run()
        return Phase(
            results,
            self.emulator.requests()[start:],
            copy.deepcopy(self.emulator.state()),
            {stack: self.stack_state(stack) for stack in self.example.stacks},
        )

    def _all(self, command: str, *, keys: bool = True, stacks: Sequence[str] | None = None) -> Phase:
        order = self.example.stacks if stacks is None else stacks
        return self._record(lambda: {stack: self.run(stack, command, keys=keys) for stack in order})

    def _phase(self, name: str, body: Callable[[], Phase]) -> Phase:
        if name not in self._outcomes:
            try:
                self._outcomes[name] = body()
            except Exception as exc:
                self._outcomes[name] = exc
                raise
        outcome = self._outcomes[name]
        if isinstance(outcome, BaseException):
            raise PhaseFailedError(f"{self.example.name}: the {name} phase failed: {outcome}") from outcome
        return outcome

    # --- the phases, in order -----------------------------------------------------------------------------

    def up(self) -> Phase:
        """The first ``up`` of every stack, in order (no keys in config: the harness lists them through ARM)."""
        return self._phase("up", lambda: self._all("up", keys=False))

    def second_up(self) -> Phase:
        """``up`` again with nothing changed."""
        self.up()
        return self._phase("second_up", lambda: self._all("up"))

    def refresh(self) -> Phase:
        """``refresh`` of the untouched stacks."""
        self.second_up()
        return self._phase("refresh", lambda: self._all("refresh"))

    def refresh_after_deletion(self) -> Phase:
        """One deployment deleted behind Pulumi's back through ARM, then ``refresh``."""
        self.refresh()

        def body() -> Phase:
            stack, name = self.example.deleted
            deployment = self.refresh().resource(stack, DEPLOYMENT, name)
            delete_out_of_band(self.url, deployment["id"])
            phase = self._all("refresh")
            phase.extra["deleted"] = deployment
            return phase

        return self._phase("refresh_after_deletion", body)

    def up_after_deletion(self) -> Phase:
        """``up`` after that refresh, then one more ``up`` (``converged``) to see it settled."""
        self.refresh_after_deletion()

        def body() -> Phase:
            phase = self._all("up")
            phase.extra["converged"] = self._all("up")
            return phase

        return self._phase("up_after_deletion", body)

    def destroy(self) -> Phase:
        """``destroy`` of every stack, the last one first (prod before the dev stack it reads)."""
        self.up_after_deletion()

        def body() -> Phase:
            before = {stack: self.stack_state(stack) for stack in self.example.stacks}
            phase = self._all("destroy", stacks=list(reversed(self.example.stacks)))
            phase.extra["before"] = before
            return phase

        return self._phase("destroy", body)

    # --- cross-region's prerequisites ---------------------------------------------------------------------

    def _seed_destinations(self) -> None:
        """Existing accounts in two other regions, each with one fine-tuning job (Azure's copy prerequisite)."""
        dataset = chat_dataset(self.workdir / "seed.jsonl", 12)
        destinations = []
        for name, region in DESTINATIONS:
            account = self.emulator.seed_account(name, region)
            give_one_job(account, dataset)
            destinations.append({"accountId": account["id"], "endpoint": account["endpoint"]})
            self.extra_keys[account["endpoint"]] = account["keys"][0]
        self.extra_config["cross-region:destinations"] = json.dumps(destinations)


def give_one_job(account: dict[str, Any], dataset: Path) -> None:
    """Upload a dataset to the account, let it be processed, and train one job on it to the end."""
    with httpx2.Client(
        base_url=f"{account['endpoint']}openai/v1", headers={"api-key": account["keys"][0]}, timeout=30
    ) as data:
        uploaded = data.post(
            "/files", files={"file": (dataset.name, dataset.read_bytes())}, data={"purpose": "fine-tune"}
        )
        assert uploaded.status_code in (200, 201), uploaded.text
        file_id = uploaded.json()["id"]
        assert data.get(f"/files/{file_id}").json()["status"] == "processed"  # a read moves the immediate clock
        job = data.post("/fine_tuning/jobs", json={"model": BASE_MODEL, "training_file": file_id})
        assert job.status_code in (200, 201), job.text
        for _ in range(50):
            status = data.get(f"/fine_tuning/jobs/{job.json()['id']}").json()["status"]
            if status in TERMINAL_JOB_STATES:
                assert status == "succeeded"
                return
        raise AssertionError(f"the seed job of {account['name']} did not finish")


def delete_out_of_band(arm_url: str, deployment_id: str) -> None:
    """Delete a deployment through ARM, as a colleague in the portal (or the 15-day idle rule) would."""
    with httpx2.Client(
        base_url=arm_url, headers={"Authorization": "Bearer x"}, params={"api-version": ARM_API}, timeout=30
    ) as arm:
        deleted = arm.delete(deployment_id)
        assert deleted.status_code in (200, 202, 204), deleted.text
        for _ in range(20):  # each read moves the immediate clock's operation on
            if arm.get(deployment_id).status_code == 404:
                return
    raise AssertionError(f"{deployment_id} is still there after its deletion")


# --- views of the emulator's state ------------------------------------------------------------------------


def arm_id(account: dict[str, Any]) -> str:
    """An emulator account's ARM id, lowercased for comparison."""
    return (
        f"/subscriptions/{account['subscription']}/resourceGroups/{account['group']}"
        f"/providers/Microsoft.CognitiveServices/accounts/{account['name']}"
    ).lower()


def deployments_in(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every deployment the emulator holds, by lowercased ARM id."""
    return {
        f"{arm_id(account)}/deployments/{name}".lower(): dep
        for account in state["accounts"].values()
        for name, dep in account["deployments"].items()
    }


def jobs_in(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every fine-tuning job the emulator holds, by id."""
    return {job_id: job for account in state["accounts"].values() for job_id, job in account["jobs"].items()}


def files_in(state: dict[str, Any], purpose: str | None = None) -> dict[str, dict[str, Any]]:
    """Every file the emulator holds (optionally of one purpose), by id."""
    return {
        file_id: file
        for account in state["accounts"].values()
        for file_id, file in account["files"].items()
        if purpose is None or file["purpose"] == purpose
    }


def account_of(state: dict[str, Any], account_id: str) -> dict[str, Any]:
    """The emulator's account with this ARM id."""
    found = [a for a in state["accounts"].values() if arm_id(a) == account_id.lower()]
    assert found, f"the emulator has no account {account_id}"
    return found[0]


# --- fixtures ---------------------------------------------------------------------------------------------


class Lifecycles:
    """The module's lifecycles, one per example, made on first use and closed at the end of the module."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.made: dict[str, Lifecycle] = {}

    def __call__(self, name: str) -> Lifecycle:
        if name not in self.made:
            self.made[name] = Lifecycle(EXAMPLE_SPECS[name], self.factory.mktemp(name))
        return self.made[name]


@pytest.fixture(scope="module")
def lifecycles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lifecycles]:
    made = Lifecycles(tmp_path_factory)
    yield made
    for lifecycle in made.made.values():
        lifecycle.close()


@pytest.fixture(params=list(EXAMPLE_SPECS))
def example(request: pytest.FixtureRequest, lifecycles: Lifecycles) -> Lifecycle:
    return lifecycles(request.param)


# --- every example -----------------------------------------------------------------------------------------


def test_up_creates_every_resource_and_exports_real_values(example: Lifecycle) -> None:
    """The first up creates every resource; files, jobs and deployments are real and ready in the emulator."""
    up = example.up()
    assert up.steps(), "the program declared nothing"
    assert up.ops() == {"create"}, up.steps()
    state = up.state
    for stack in example.example.stacks:
        recorded = up.resources(stack)
        assert [r["urn"] for r in recorded] == [s.urn for s in up.results[stack].steps]
        for res in recorded:
            assert res["id"], f"{res['urn']} has no id"
        for res in (r for r in recorded if r["type"] == TRAINING_FILE):
            held = files_in(state)[res["outputs"]["file_id"]]
            assert (held["purpose"], held["status"]) == ("fine-tune", "processed")
        for res in (r for r in recorded if r["type"] == JOB):
            job = jobs_in(state)[res["id"]]
            assert job["status"] == "succeeded"
            assert job["fine_tuned_model"] == res["outputs"]["fine_tuned_model"]
            match = MODEL_RE.fullmatch(job["fine_tuned_model"])
            assert match is not None, job["fine_tuned_model"]
            assert match["suffix"] in example.example.suffixes
        for res in (r for r in recorded if r["type"] == DEPLOYMENT):
            held = deployments_in(state).get(res["id"].lower())
            assert held is not None, f"{res['id']} is not in the emulator"
            assert held["properties"]["provisioningState"] == "Succeeded"
            assert held["properties"]["model"]["name"] == res["outputs"]["model"]
            assert MODEL_RE.fullmatch(res["outputs"]["model"])
        exported = up.results[stack].outputs
        assert exported, f"{stack} exports nothing"
        assert exported == up.stacks[stack]["outputs"]
        for value in (v for k, v in exported.items() if "model" in k):
            assert MODEL_RE.fullmatch(value), (stack, value)
    assert len(deployments_in(state)) == sum(len(up.resources(s, DEPLOYMENT)) for s in example.example.stacks)


def test_second_up_is_a_no_op_without_any_mutating_request(example: Lifecycle) -> None:
    """Up again with nothing changed: every step is `same`, the emulator sees no POST/PUT/PATCH/DELETE."""
    first, second = example.up(), example.second_up()
    assert second.ops() == {"same"}, second.steps()
    assert second.mutations() == []
    assert sorted(s[:3] for s in second.steps()) == sorted(s[:3] for s in first.steps())
    assert {stack: r.outputs for stack, r in second.results.items()} == {
        stack: r.outputs for stack, r in first.results.items()
    }
    assert second.recorded() == first.recorded()


def test_refresh_of_an_untouched_stack_changes_nothing(example: Lifecycle) -> None:
    """Refresh reads every resource and finds no drift: the state is unchanged and nothing is mutated."""
    before, refresh = example.second_up(), example.refresh()
    assert refresh.ops() == {"refresh"}, refresh.steps()
    assert refresh.drift() == []
    assert refresh.mutations() == []
    assert refresh.recorded() == before.recorded()


def test_refresh_drops_a_deployment_deleted_out_of_band(example: Lifecycle) -> None:
    """After an ARM DELETE behind Pulumi's back, refresh removes that deployment from the state and only it."""
    phase = example.refresh_after_deletion()
    deleted = phase.extra["deleted"]
    assert deleted["id"].lower() not in deployments_in(phase.state)
    gone = [(stack, name) for stack, _, name, op in phase.steps() if op == "refresh-deleted"]
    assert gone == [example.example.deleted]
    assert phase.ops() == {"refresh", "refresh-deleted"}
    assert phase.drift() == []
    assert phase.mutations() == []
    stack = example.example.deleted[0]
    assert deleted["urn"] not in {r["urn"] for r in phase.stacks[stack]["resources"]}


def test_up_after_the_deletion_recreates_only_that_deployment(example: Lifecycle) -> None:
    """The next up recreates the deleted deployment (same model), replaces nothing and submits no new job."""
    before, up = example.refresh_after_deletion(), example.up_after_deletion()
    deleted = before.extra["deleted"]
    stack, name = example.example.deleted
    changed = [(s, t, n, op) for s, t, n, op in up.steps() if op != "same"]
    assert changed == [(stack, DEPLOYMENT, name, "create")]
    assert [method for method, _ in up.mutations()] == ["PUT"]  # the deployment's PUT, nothing else
    assert up.mutations()[0][1].lower() == deleted["id"].lower()
    assert not any("/fine_tuning/jobs" in path for _, path in up.mutations())
    assert jobs_in(up.state).keys() == jobs_in(before.state).keys()
    recreated = deployments_in(up.state)[deleted["id"].lower()]
    assert recreated["properties"]["provisioningState"] == "Succeeded"
    assert recreated["properties"]["model"]["name"] == deleted["outputs"]["model"]
    assert {s: r.outputs for s, r in up.results.items()} == {s: r.outputs for s, r in example.up().results.items()}
    converged = up.extra["converged"]
    assert converged.ops() == {"same"}
    assert converged.mutations() == []


def test_destroy_leaves_no_files_running_jobs_or_deployments(example: Lifecycle) -> None:
    """Destroy deletes everything, dependents first: no stack file, job result, deployment or running job is left."""
    destroy = example.destroy()
    before = destroy.extra["before"]
    assert destroy.ops() == {"delete"}
    for stack in example.example.stacks:
        assert destroy.stacks[stack]["resources"] == []
        assert destroy.results[stack].outputs == {}
        assert [s.urn for s in destroy.results[stack].steps] == [r["urn"] for r in reversed(before[stack]["resources"])]
    state, baseline = destroy.state, example.baseline
    assert deployments_in(state) == {}
    assert files_in(state, "fine-tune").keys() == files_in(baseline, "fine-tune").keys()  # only the seed datasets
    assert files_in(state).keys() == files_in(baseline).keys()  # results files of the stacks' jobs too
    assert not [j for j in jobs_in(state).values() if j["status"] not in TERMINAL_JOB_STATES]
    assert jobs_in(state).keys() == jobs_in(baseline).keys()
    assert state["accounts"].keys() == baseline["accounts"].keys()  # the stacks' accounts are gone
    assert state["resource_groups"] == baseline["resource_groups"]
    # Each resource deleted its own remote objects (the jobs their results files), before any account went.
    deletes = [path.lower() for method, path in destroy.mutations() if method == "DELETE"]
    for stack in example.example.stacks:
        resources = before[stack]["resources"]
        owned = [r["id"] for r in resources if r["type"] == DEPLOYMENT]
        owned += [f"/files/{r['outputs']['file_id']}" for r in resources if r["type"] == TRAINING_FILE]
        owned += [f"/files/{f}" for r in resources if r["type"] == JOB for f in r["outputs"]["result_files"]]
        accounts = [deletes.index(r["id"].lower()) for r in resources if r["type"] == ACCOUNT]
        for target in owned:
            at = [i for i, path in enumerate(deletes) if path.endswith(target.lower())]
            assert at, f"{stack}: nothing deleted {target}"
            assert at[0] < min(accounts, default=len(deletes)), f"{stack}: {target} was deleted after its account"


# --- what each example is about ----------------------------------------------------------------------------


def test_quickstart_deploys_its_gated_model_on_its_own_account(lifecycles: Lifecycles) -> None:
    """quickstart: the exported endpoint, model and deployment name are the emulator's account, model and deployment."""
    quickstart = lifecycles("quickstart")
    up = quickstart.up()
    outputs = up.results["dev"].outputs
    (account,) = up.state["accounts"].values()
    assert outputs["endpoint"] == f"{quickstart.url}/{account['name']}/"
    deployment = account["deployments"][outputs["deployment_name"]]
    assert deployment["properties"]["model"]["name"] == outputs["fine_tuned_model"]
    (job,) = account["jobs"].values()
    assert job["fine_tuned_model"] == outputs["fine_tuned_model"]
    files = {name: up.resource("dev", TRAINING_FILE, name)["outputs"]["file_id"] for name in ("training", "validation")}
    assert (job["training_file"], job["validation_file"]) == (files["training"], files["validation"])
    assert outputs["metrics"]["full_valid_loss"] <= 1.0  # the program's quality gate


def test_the_repository_root_project_is_the_quickstart(lifecycles: Lifecycles, tmp_path: Path) -> None:
    """The root Pulumi.yaml runs examples/quickstart: its preview plans the quickstart's resources, calling nothing."""
    quickstart = lifecycles("quickstart")
    planned_quickstart = quickstart.up().steps()
    since = len(quickstart.emulator.requests())
    preview = run_program(
        "preview",
        ROOT,
        tmp_path / "root.json",
        config={"azure-openai:armEndpoint": quickstart.url},
        secrets={"azure-openai:armToken": ARM_TOKEN},
    )
    assert sorted((s.type, s.name, s.op) for s in preview.steps) == sorted(s[1:] for s in planned_quickstart)
    assert preview.outputs["deployment_name"] == "support-assistant"
    assert not [r for r in quickstart.emulator.requests()[since:] if r["method"] in MUTATING]
    assert not (tmp_path / "root.json").exists()


def test_promotion_prod_deploys_devs_model_in_another_subscription_without_retraining(lifecycles: Lifecycles) -> None:
    """promotion: prod, run after dev, deploys dev's gated model in its own account and subscription; one job in all."""
    up = lifecycles("promotion").up()
    assert list(up.results) == ["dev", "prod"]
    dev, prod = up.results["dev"].outputs, up.results["prod"].outputs
    assert MODEL_RE.fullmatch(dev["fine_tuned_model"])
    assert len(jobs_in(up.state)) == 1  # prod did not train
    (job,) = jobs_in(up.state).values()
    assert job["fine_tuned_model"] == dev["fine_tuned_model"]
    dev_account = account_of(up.state, dev["source_account_id"])
    assert job["id"] in dev_account["jobs"]

    (prod_account_res,) = up.resources("prod", ACCOUNT)
    prod_account = account_of(up.state, prod_account_res["id"])
    assert prod_account["subscription"] == PROD_SUBSCRIPTION != dev_account["subscription"]
    assert prod_account["name"] != dev_account["name"]
    assert prod_account["jobs"] == {}
    assert prod["deployment_id"].lower().startswith(arm_id(prod_account) + "/deployments/")
    served = deployments_in(up.state)[prod["deployment_id"].lower()]
    assert served["properties"]["model"]["name"] == dev["fine_tuned_model"] == prod["deployed_model"]
    assert served["properties"]["model"]["source"] == dev["source_account_id"]
    assert served["properties"]["provisioningState"] == "Succeeded"


def test_promotion_prod_can_pin_the_promoted_model_by_config(lifecycles: Lifecycles, tmp_path: Path) -> None:
    """promotion: with sourceModel and sourceAccountId set, prod needs no dev state; its preview plans that model."""
    promotion = lifecycles("promotion")
    dev = promotion.up().results["dev"].outputs
    since = len(promotion.emulator.requests())
    preview = run_program(
        "preview",
        promotion.example.directory,
        tmp_path / "prod.json",  # no dev.json beside it, no stack_references: a StackReference would fail
        config={
            "azure-openai:armEndpoint": promotion.url,
            "sourceModel": dev["fine_tuned_model"],
            "sourceAccountId": dev["source_account_id"],
        },
        secrets={"azure-openai:armToken": ARM_TOKEN},
        stack="prod",
    )
    assert [(s.name, s.op) for s in preview.steps] == [
        ("rg-prod", "create"),
        ("aoai-prod", "create"),
        ("production", "create"),
    ]
    assert preview.outputs["deployed_model"] == dev["fine_tuned_model"]
    assert not [r for r in promotion.emulator.requests()[since:] if r["method"] in MUTATING]


def test_cross_region_serves_the_copied_model_in_each_destination(lifecycles: Lifecycles) -> None:
    """cross-region: one training job; the model is copied into both existing accounts and deployed in each."""
    xr = lifecycles("cross-region")
    up = xr.up()
    outputs = up.results["dev"].outputs
    model = outputs["fine_tuned_model"]
    seeded = jobs_in(xr.baseline)
    assert len(jobs_in(up.state).keys() - seeded.keys()) == 1  # trained once, copies train nothing
    destinations = json.loads(xr.extra_config["cross-region:destinations"])
    assert sorted(outputs["deployments"]) == sorted(d["accountId"] for d in destinations)
    for destination in destinations:
        account = account_of(up.state, destination["accountId"])
        assert model in account["copied_models"]
        deployment_id = outputs["deployments"][destination["accountId"]]
        served = deployments_in(up.state)[deployment_id.lower()]
        assert deployment_id.lower().startswith(arm_id(account) + "/deployments/")
        assert served["properties"]["model"]["name"] == model
        assert served["properties"]["provisioningState"] == "Succeeded"
    regions = {r["outputs"]["region"] for r in up.resources("dev", COPY)}
    assert regions == {region for _, region in DESTINATIONS}


def test_cross_region_destroy_keeps_the_copies_but_nothing_serves_them(lifecycles: Lifecycles) -> None:
    """cross-region: destroy removes the destinations' deployments; the copied models stay (Azure cannot remove them)."""
    xr = lifecycles("cross-region")
    model = xr.up().results["dev"].outputs["fine_tuned_model"]
    destroy = xr.destroy()
    for name, _ in DESTINATIONS:
        account = destroy.state["accounts"][name]
        assert account["deployments"] == {}
        assert model in account["copied_models"]


def test_continuous_round_two_trains_on_round_one_and_is_deployed(lifecycles: Lifecycles) -> None:
    """continuous: round 2's base model is round 1's fine-tuned model, and the deployment serves round 2's model."""
    up = lifecycles("continuous").up()
    outputs = up.results["dev"].outputs
    jobs = {job["fine_tuned_model"]: job for job in jobs_in(up.state).values()}
    assert set(jobs) == {outputs["round1_model"], outputs["round2_model"]}
    assert jobs[outputs["round1_model"]]["model"] == BASE_MODEL
    assert jobs[outputs["round2_model"]]["model"] == outputs["round1_model"]
    assert jobs[outputs["round2_model"]]["created_at"] >= jobs[outputs["round1_model"]]["finished_at"]
    (account,) = up.state["accounts"].values()
    served = account["deployments"][outputs["deployment_name"]]
    assert served["properties"]["model"]["name"] == outputs["round2_model"]
