"""promotion: dev's model reaches prod only through an Evaluation of dev's deployment against the base model."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulumi_aoai_finetuning.testing import HarnessError

from .lifecycle import BASE_MODEL, EXAMPLE_SPECS, Lifecycle, account_of, deployments_in

EVALUATION = "pulumi-python:dynamic/azure-openai:Evaluation"
ITEMS, TRAINED = 10, 9  # examples/promotion/evaluation.jsonl: nine trained questions and one the data lacks


def test_the_evaluation_grades_devs_deployment_against_the_base_model(tmp_path: Path) -> None:
    """The dev stack's evaluation runs its candidate deployment and the base model in one eval; the gate is met."""
    life = Lifecycle(EXAMPLE_SPECS["promotion"], tmp_path)
    try:
        up = life.up()
        dev = up.results["dev"].outputs
        assert dev["evaluation"] == {"pass_rate": TRAINED / ITEMS, "baseline_pass_rate": 0.0}
        (evaluation,) = up.resources("dev", EVALUATION)
        outputs = evaluation["outputs"]
        assert outputs["passed"] is True
        assert outputs["pass_rates"] == {"exact": TRAINED / ITEMS, "close": TRAINED / ITEMS}
        account = account_of(up.state, dev["source_account_id"])
        runs = account["evals"][outputs["eval_id"]]["_runs"]
        assert {run["model"] for run in runs.values()} == {"candidate", BASE_MODEL}
        assert up.results["prod"].outputs["deployed_model"] == dev["fine_tuned_model"]
    finally:
        life.close()


def test_a_missed_evaluation_gate_stops_dev_and_prod_deploys_nothing(tmp_path: Path) -> None:
    """With a gate above the candidate's pass rate dev's update fails with the numbers and prod deploys nothing."""
    life = Lifecycle(EXAMPLE_SPECS["promotion"], tmp_path)
    life.extra_config["minPassRate"] = "0.95"
    try:
        with pytest.raises(HarnessError) as dev_failure:
            life.run("dev", "up", keys=False)
        message = str(dev_failure.value)
        assert "missed its gate" in message
        assert f"pass rate ({TRAINED} of {ITEMS} items passed every criterion) 0.9, below the minimum 0.95" in message
        assert "fine_tuned_model" not in life.stack_state("dev")["outputs"], "dev exported the failed model"
        with pytest.raises(HarnessError) as prod_failure:
            life.run("prod", "up", keys=False)
        assert "fine_tuned_model" in str(prod_failure.value)
        prod_deployments = [
            dep for key, dep in deployments_in(life.emulator.state()).items() if not key.endswith("/candidate")
        ]
        assert prod_deployments == [], "prod deployed although dev's evaluation failed"
    finally:
        life.close()
