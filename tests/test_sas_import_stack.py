"""A stack importing its dataset from a SAS URL, run through the program harness: the SAS never lands in state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aoai_emulator import Emulator, create_emulator
from pulumi_aoai_finetuning.testing.program import run_program
from tests.emulator.support import chat_dataset

PROGRAM = Path(__file__).parent / "programs" / "sas"
ARM_TOKEN = "arm-token-of-the-sas-stack"
SIGS = ("Zmlyc3Qtc2lnbmF0dXJlLXNlY3JldA%3D%3D", "c2Vjb25kLXNpZ25hdHVyZS1zZWNyZXQ%3D")
MUTATING = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def served() -> Iterator[tuple[Emulator, str]]:
    emulator = create_emulator(seed=616)
    server = emulator.serve()
    try:
        yield emulator, server.url
    finally:
        emulator.close()


def test_sas_rotation_on_a_finished_stack_makes_no_mutating_request(
    served: tuple[Emulator, str], tmp_path: Path
) -> None:
    """The SAS is sealed in state; a new signature for the same blob makes zero mutating requests on up.

    The stack is finished (its job trained, its model deployed): nothing downstream of the dataset is retrained
    or redeployed either.
    """
    emulator, url = served
    dataset = chat_dataset(tmp_path / "train.jsonl")
    state = tmp_path / "state" / "dev.json"

    def up(sig: str, **secrets: str):  # type: ignore[no-untyped-def]
        content_url = f"{dataset.as_uri()}?sv=2024-11-04&sp=r&sig={sig}"
        return run_program(
            "up",
            PROGRAM,
            state,
            config={
                "azure-openai:armEndpoint": url,
                "azure-openai:pollIntervalSeconds": "0.01",
                "azure-openai:pollMaxSeconds": "0.05",
                "sas-import:contentUrl": content_url,
            },
            secrets={"azure-openai:armToken": ARM_TOKEN, **secrets},
            stack="dev",
        )

    first = up(SIGS[0])
    assert first.outputs["sha256"] is not None
    stored = state.read_text()
    assert SIGS[0] not in stored
    assert "sig=" not in stored
    # The account key as a user sets it (`pulumi config set --secret azure-openai:apiKey`): no listKeys needed.
    (account,) = emulator.state()["accounts"].values()
    mark = len(emulator.requests())
    second = up(SIGS[1], **{"azure-openai:apiKey": account["keys"][0]})
    assert [s.op for s in second.steps if s.name == "imported"] == ["update"]
    assert [(r["method"], r["path"]) for r in emulator.requests()[mark:] if r["method"] in MUTATING] == []
    assert second.outputs["training_file_id"] == first.outputs["training_file_id"]
    assert first.outputs["fine_tuned_model"]
    assert (second.outputs["job_id"], second.outputs["fine_tuned_model"]) == (
        first.outputs["job_id"],
        first.outputs["fine_tuned_model"],
    )
    assert {s.name: s.op for s in second.steps if s.name in ("job", "served")} == {"job": "same", "served": "same"}
    (after,) = emulator.state()["accounts"].values()
    assert len(after["jobs"]) == 1
    assert list(after["deployments"]) == ["served"]
    assert SIGS[1] not in state.read_text()
