"""Fault soak: every example converges under seeded faults on both planes, with no duplicates.

Throttling, outages, lost answers, connection resets and latency; each run must end in the same state as a
fault-free run, with no duplicate file, job, copy, deployment, eval or eval run.

``make test`` runs one seed per example; ``make soak`` (``AOAI_SOAK=1``) runs ten.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.examples.lifecycle import EXAMPLE_SPECS, Lifecycle, deployments_in, files_in, jobs_in

SEEDS = range(10) if os.environ.get("AOAI_SOAK") == "1" else range(1)
REPORT = Path(os.environ.get("AOAI_RELIABILITY_REPORT", "")) if os.environ.get("AOAI_RELIABILITY_REPORT") else None


def fault_rules(seed: int) -> list[dict[str, Any]]:
    """About one request in ten disturbed: 429 with Retry-After, 5xx without, a lost answer, a reset, latency."""
    return [
        {"path": "/openai/", "status": 429, "retry_after": 0.01, "probability": 0.08, "seed": seed},
        {"path": "/openai/", "status": 503, "probability": 0.04, "seed": seed + 1},
        {"path": "/openai/", "status": 500, "probability": 0.04, "seed": seed + 2},
        # The service did the work and the answer is lost: the case that duplicates paid jobs if unhandled.
        {"path": "/openai/v1/(files|fine_tuning/jobs|evals|evals/[^/]+/runs)$", "method": "POST", "status": 500, "when": "after",
         "probability": 0.3, "seed": seed + 3},
        {"path": "/subscriptions/", "status": 429, "retry_after": 0.01, "probability": 0.08, "seed": seed + 4},
        {"path": "/subscriptions/", "status": 503, "probability": 0.04, "seed": seed + 5},
        {"path": "/", "kind": "reset", "probability": 0.03, "seed": seed + 6},
        {"path": "/", "kind": "latency", "latency_ms": 15, "probability": 0.1, "seed": seed + 7},
    ]  # fmt: skip


def end_state(state: dict[str, Any]) -> dict[str, Any]:
    """What must be the same with and without faults: objects by kind and shape, not by their random ids."""
    jobs = jobs_in(state)
    return {
        "files": Counter((f["filename"].split(".")[0], f["bytes"]) for f in files_in(state, "fine-tune").values()),
        "jobs": Counter((j["model"].split(".ft-")[0], j["status"], j.get("suffix")) for j in jobs.values()),
        "deployments": Counter(
            (name.rsplit("/", 1)[-1], d["sku"]["name"], d["properties"]["provisioningState"])
            for name, d in deployments_in(state).items()
        ),
        "copies": Counter((c["region"], c["status"]) for c in state["copies"].values()),
        "evals": Counter(
            (e["name"], tuple(sorted((r["model"], r["status"]) for r in e["_runs"].values())))
            for e in evals_in(state).values()
        ),
        "test_sets": Counter((f["filename"].split(".")[0], f["bytes"]) for f in files_in(state, "evals").values()),
    }


def evals_in(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every eval the emulator holds (with its runs), by id."""
    return {eval_id: e for account in state["accounts"].values() for eval_id, e in account.get("evals", {}).items()}


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = {}
    for name, spec in EXAMPLE_SPECS.items():
        life = Lifecycle(spec, tmp_path_factory.mktemp(f"clean-{name}"))
        try:
            out[name] = end_state(life.up().state)
        finally:
            life.close()
    return out


CASES = [(name, seed) for name in EXAMPLE_SPECS for seed in SEEDS]


@pytest.mark.parametrize(("name", "seed"), CASES, ids=[f"{n}-seed{s}" for n, s in CASES])
def test_example_converges_under_faults_without_duplicates(
    baselines: dict[str, dict[str, Any]], tmp_path: Path, name: str, seed: int
) -> None:
    """``up`` under faults ends as a fault-free ``up`` does; a second ``up`` is a no-op; destroy empties it."""
    life = Lifecycle(EXAMPLE_SPECS[name], tmp_path, seed=1000 + seed, faults=fault_rules(seed))
    try:
        first = life.up()
        assert end_state(first.state) == baselines[name]
        again = life.second_up()
        assert again.ops() == {"same"}, again.steps()
        faults = [r for r in life.emulator.requests() if r["fault"]]
        assert faults, "faults were injected"
        destroyed = life.destroy()
        assert deployments_in(destroyed.state) == {}
        assert evals_in(destroyed.state) == {}
        assert files_in(destroyed.state, "evals") == {}
        assert not [j for j in jobs_in(destroyed.state).values() if j["status"] in ("pending", "running")]
        _report(name, seed, len(life.emulator.requests()), faults)
    finally:
        life.close()


def _report(name: str, seed: int, requests: int, faults: list[dict[str, Any]]) -> None:
    if REPORT is None:
        return
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with REPORT.open("a") as out:
        out.write(
            json.dumps(
                {
                    "example": name,
                    "seed": seed,
                    "requests": requests,
                    "faults": len(faults),
                    "resets": sum(1 for f in faults if f["reset"]),
                }
            )
            + "\n"
        )
