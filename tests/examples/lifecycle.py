"""Running each example under ``examples/`` through its life with the program harness, against the emulator.

Each example gets its own in-process emulator (immediate clock, fixed seed) and goes once through the life
of a stack, in the order a user would: ``up``; a second ``up``; ``refresh``; an out-of-band deletion of one
deployment followed by ``refresh`` and ``up``; ``destroy``. :class:`Lifecycle` runs those phases lazily and
remembers what each did (its results, the requests the emulator served meanwhile, a copy of the emulator's
state after it), so each test asserts on one phase and any test can run alone (it runs the phases before
its own first).

Every command runs as a deployer signed in to the emulator's Microsoft Entra ID (a service principal with
*Owner* on the examples' subscriptions, through azure-identity's real credential classes): ARM checks its
roles, and accounts that disable keys (quickstart, promotion, cross-region) check the data-plane role the
example assigns it. The first ``up`` of a stack runs without data-plane keys in the stack config: for an
account that still allows keys (continuous) the harness lists them through ARM. Every later command runs
with those keys as secret stack config (``azure-openai:apiKeys``), as a user who set them would, so that no
``listKeys`` POST muddies the request log of a command that must not mutate anything. Token requests to the
emulator's Entra ID are not counted as mutations: they change no resource.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from aoai_emulator import Emulator, create_emulator
from pulumi_aoai_finetuning.testing import checkpoint
from pulumi_aoai_finetuning.testing.entra import EntraLogin, deployer_login, serve_token_service
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
DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
KEYLESS = frozenset({"quickstart", "promotion", "cross-region"})  # the examples whose accounts disable keys

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
    source: Path | None = None  # a variant of the example's program, written elsewhere by a test

    @property
    def directory(self) -> Path:
        """The project directory."""
        return self.source or EXAMPLES / self.name


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
        return [(r["method"], r["path"]) for r in self.requests if r["method"] in MUTATING and r["plane"] != "entra"]

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
    """One example's stacks against a served emulator, driven phase by phase (each phase runs once).

    ``faults`` are emulator fault rules, active from the first ``up`` on (after any prerequisites are seeded).
    """

    def __init__(
        self, example: Example, workdir: Path, *, seed: int = SEED, faults: Sequence[dict[str, Any]] = ()
    ) -> None:
        self.example = example
        self.workdir = workdir
        self.emulator: Emulator = create_emulator(seed=seed)
        self.url = self.emulator.serve().url
        self.token_server = serve_token_service(self.emulator)
        self.login: EntraLogin = deployer_login(self.url, self.token_server, [DEFAULT_SUBSCRIPTION, PROD_SUBSCRIPTION])
        # The emulator's deployer is a service principal (a human after `az login` is a "User").
        self.extra_config: dict[str, str] = {f"{example.name}:deployerPrincipalType": "ServicePrincipal"}
        self.extra_keys: dict[str, str] = {}  # endpoint -> key of accounts the stacks use but do not create
        self._outcomes: dict[str, Phase | BaseException] = {}
        if example.name == "cross-region":
            self._seed_destinations()
        for rule in faults:
            self.emulator.add_fault(rule)
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
        state = checkpoint.load(self.state_file(stack))
        return {"resources": state.resources, "outputs": state.outputs}

    def user_keys(self, stack: str) -> dict[str, str]:
        """The data-plane keys a user sets as ``azure-openai:apiKeys``: the stack's accounts', and any extra."""
        keys = dict(self.extra_keys)
        accounts = self.emulator.state()["accounts"]
        for res in (r for r in self.stack_state(stack)["resources"] if r["type"] == ACCOUNT):
            held = accounts.get(res["outputs"]["name"].lower())
            if held is not None and not held["properties"].get("disableLocalAuth"):
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
        secrets: dict[str, str] = {}  # ARM with the deployer's Entra ID token, not an operator's token
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
            entra=self.login,
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

    def up_after_destroy(self) -> Phase:
        """``up`` of every stack after the ``destroy``: the deleted accounts are soft-deleted, and must not block it."""
        self.destroy()
        return self._phase("up_after_destroy", lambda: self._all("up", keys=False))

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
    """Delete a deployment through ARM, as a colleague in the portal (or the 15-day idle rule) would.

    Like the portal, it tries again when ARM throttles, fails or drops the connection (the fault soak).
    """
    with httpx2.Client(
        base_url=arm_url, headers={"Authorization": "Bearer x"}, params={"api-version": ARM_API}, timeout=30
    ) as arm:
        deleting = False
        for _ in range(50):
            try:
                if not deleting:
                    deleting = arm.delete(deployment_id).status_code in (200, 202, 204)
                if arm.get(deployment_id).status_code == 404:  # each read moves the immediate clock's operation on
                    return
            except httpx2.TransportError:
                continue
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
