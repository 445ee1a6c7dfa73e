"""Issue 4's acceptance for every example under ``examples/``: see :mod:`tests.examples.lifecycle`."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_aoai_finetuning.testing.program import HarnessError, run_program
from tests.harness.schema import schema_errors

from .lifecycle import (
    ACCOUNT,
    ARM_TOKEN,
    BASE_MODEL,
    COPY,
    DEPLOYMENT,
    DESTINATIONS,
    EXAMPLE_SPECS,
    JOB,
    KEYLESS,
    MODEL_RE,
    MUTATING,
    PROD_SUBSCRIPTION,
    ROOT,
    TERMINAL_JOB_STATES,
    TRAINING_FILE,
    Lifecycle,
    account_of,
    arm_id,
    deployments_in,
    files_in,
    jobs_in,
)


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
        # The state file is a deployment `pulumi stack import` takes: valid under Pulumi's published schema.
        assert schema_errors(json.loads(example.state_file(stack).read_text())) == [], stack
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
        # Deletions run in parallel, each once the resources that depend on it are gone.
        order = [s.urn for s in destroy.results[stack].steps]
        assert sorted(order) == sorted(r["urn"] for r in before[stack]["resources"])
        for res in before[stack]["resources"]:
            dependents = [r["urn"] for r in before[stack]["resources"] if res["urn"] in r["dependencies"]]
            assert all(order.index(d) < order.index(res["urn"]) for d in dependents), (res["urn"], order)
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
    # The endpoint ARM reports: the custom subdomain's when the account has one, else its region's shared one.
    subdomain = account["properties"].get("customSubDomainName")
    expected = f"/{subdomain}/" if subdomain else f"/_regional/{account['location']}/"
    assert outputs["endpoint"] == quickstart.url + expected
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
    assert sorted((s.name, s.op) for s in preview.steps) == [
        ("aoai-prod", "create"),
        ("deployer-openai-contributor-prod", "create"),
        ("production", "create"),
        ("rg-prod", "create"),
        ("suffix-prod", "create"),
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


# --- on Entra ID, as real Azure needs it (issue 12) ----------------------------------------------------------

OPENAI_CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"
AZURE_AI_USER = "53ca6127-db72-4b80-b1b0-d745d6d5456d"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"


def assignments_of(state: dict[str, Any], principal: str, role: str) -> list[str]:
    """The scopes (lowercased) at which the emulator holds this role for this principal."""
    return [
        a["properties"]["scope"].lower()
        for a in state.get("role_assignments", {}).values()
        if a["properties"]["principalId"] == principal and a["properties"]["roleDefinitionId"].endswith(role)
    ]


@pytest.mark.parametrize("name", sorted(KEYLESS))
def test_keyless_examples_run_on_entra_id_with_the_role_they_assign(lifecycles: Lifecycles, name: str) -> None:
    """Keyless examples: accounts refuse keys; the deployer signs in and holds the OpenAI Contributor it assigns.

    Every account has a custom subdomain; the deployer gets a token through azure-identity and holds OpenAI
    Contributor on each account because the stack assigned it; no key is listed.
    """
    example = lifecycles(name)
    up = example.up()
    assert [r for r in up.requests if r["path"].lower().endswith("/listkeys")] == []
    assert [r for r in up.requests if r["plane"] == "entra" and r["path"].endswith("/oauth2/v2.0/token")]
    contributor_at = assignments_of(up.state, example.login.object_id, OPENAI_CONTRIBUTOR)
    for stack in example.example.stacks:
        for res in up.resources(stack, ACCOUNT):
            held = account_of(up.state, res["id"])
            assert held["properties"]["disableLocalAuth"] is True
            assert held["properties"]["customSubDomainName"] == held["name"]
            assert res["id"].lower() in contributor_at


def test_cross_region_copies_once_the_identity_holds_azure_ai_user_on_each_destination(
    lifecycles: Lifecycles,
) -> None:
    """cross-region: the source's identity holds Azure AI User on each destination before any copy is asked.

    The source account carries the stack's user-assigned identity, and each copy request comes after the role
    assignment on its destination.
    """
    up = lifecycles("cross-region").up()
    (identity,) = up.resources("dev", IDENTITY)
    principal = identity["outputs"]["principalId"]
    (source,) = up.resources("dev", ACCOUNT)
    held = account_of(up.state, source["id"])
    assert held["identity"]["type"] == "UserAssigned"
    assert [v["principalId"] for v in held["identity"]["userAssignedIdentities"].values()] == [principal]
    destinations = [arm_id(up.state["accounts"][name]) for name, _ in DESTINATIONS]
    assert sorted(assignments_of(up.state, principal, AZURE_AI_USER)) == sorted(destinations)
    paths = [(r["method"], r["path"].lower()) for r in up.requests]
    copies = [i for i, (method, path) in enumerate(paths) if method == "POST" and path.endswith("/copy")]
    assert len(copies) == len(DESTINATIONS)
    for destination in destinations:
        granted = [
            i
            for i, (method, path) in enumerate(paths)
            if method == "PUT" and path.startswith(f"{destination}/providers/microsoft.authorization/roleassignments/")
        ]
        assert granted, f"no role assignment on {destination}"
        assert granted[0] < min(copies)


def without_copy_role(tmp_path: Path) -> Path:
    """The cross-region example with its Azure AI User assignments taken out (and the copies' depends_on)."""
    program = tmp_path / "cross-region"
    shutil.copytree(EXAMPLE_SPECS["cross-region"].directory, program)
    shutil.copytree(EXAMPLE_SPECS["cross-region"].directory.parent / "data", tmp_path / "data")  # ../data
    main = program / "__main__.py"
    text = main.read_text()
    start = text.index("    may_copy = azure_native.authorization.RoleAssignment(")
    end = text.index("    copy = CheckpointCopy(")
    text = text[:start] + text[end:]
    text = text.replace("        opts=pulumi.ResourceOptions(depends_on=[may_copy]),", "")
    assert "may_copy" not in text
    assert AZURE_AI_USER in text
    main.write_text(text)
    return program


def test_cross_region_copy_is_refused_without_the_azure_ai_user_role(tmp_path: Path) -> None:
    """cross-region without the role assignments: the copy fails and nothing is copied into either destination.

    Azure copies as the source account's identity, which then holds no role on the destination.
    """
    spec = EXAMPLE_SPECS["cross-region"]
    (tmp_path / "work").mkdir()
    lifecycle = Lifecycle(dataclasses.replace(spec, source=without_copy_role(tmp_path)), tmp_path / "work")
    try:
        with pytest.raises(HarnessError, match=r"CheckpointCopy::copy-\d"):
            lifecycle.run("dev", "up", keys=False)
        for name, _ in DESTINATIONS:
            assert lifecycle.emulator.state()["accounts"][name]["copied_models"] == {}
    finally:
        lifecycle.close()


def test_up_after_destroy_succeeds_despite_soft_deleted_accounts(example: Lifecycle) -> None:
    """Destroy, then up: the stack comes back whole under new names though the old accounts are soft-deleted.

    The deleted accounts stay soft-deleted (their names held); the new random suffix gives new names, and every
    resource is created afresh.
    """
    before, up = example.destroy(), example.up_after_destroy()
    assert up.ops() == {"create"}, up.steps()
    for stack in example.example.stacks:
        old = {r["outputs"]["name"].lower() for r in before.extra["before"][stack]["resources"] if r["type"] == ACCOUNT}
        new = {r["outputs"]["name"].lower() for r in up.resources(stack, ACCOUNT)}
        assert old, stack
        assert old <= set(up.state["deleted_accounts"]), "the destroyed accounts are not soft-deleted"
        assert new
        assert not new & old
        for value in (v for k, v in up.results[stack].outputs.items() if "model" in k):
            assert MODEL_RE.fullmatch(value), (stack, value)
