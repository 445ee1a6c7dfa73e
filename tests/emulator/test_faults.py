"""Fault rules change what clients see: throttling with retry headers, resets, lost answers, seeded randomness."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import openai
import pytest

from aoai_emulator import Emulator, FaultRule, create_emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = create_emulator(seed=11)
    emu.serve()
    yield emu
    emu.close()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[openai.AzureOpenAI]:
    account = emulator.seed_account("faulty")
    with openai.AzureOpenAI(
        azure_endpoint=account["endpoint"], api_key=account["keys"][0], api_version="2024-10-21", max_retries=2
    ) as c:
        yield c


def _file_list_statuses(emulator: Emulator) -> list[int]:
    return [r["status"] for r in emulator.requests() if r["path"].endswith("/openai/files") and r["method"] == "GET"]


def test_429_with_retry_after_is_retried_by_openai_python(emulator: Emulator, client: openai.AzureOpenAI) -> None:
    """One 429 carrying ``Retry-After`` is retried by the client, which then succeeds."""
    emulator.add_fault({"path": "/openai/files$", "method": "GET", "status": 429, "retry_after": 0.05, "count": 1})
    assert list(client.files.list()) == []
    assert _file_list_statuses(emulator) == [429, 200]


def test_retry_after_ms_is_sent_and_429_reaches_a_client_without_retries(
    emulator: Emulator, client: openai.AzureOpenAI
) -> None:
    """With retries off the client sees Azure's 429 envelope and both retry headers."""
    emulator.add_fault({"path": "/openai/files$", "status": 429, "retry_after": 1, "retry_after_ms": 20})
    with pytest.raises(openai.RateLimitError) as info:
        client.with_options(max_retries=0).files.list()
    assert info.value.response.headers["retry-after-ms"] == "20"
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.body == {"code": "429", "message": info.value.body["message"]}  # type: ignore[index]


def test_connection_reset_is_seen_as_a_connection_error_and_retried(
    emulator: Emulator, client: openai.AzureOpenAI
) -> None:
    """A reset fault drops the TCP connection; openai-python retries it as a connection error."""
    emulator.add_fault({"path": "/openai/files$", "kind": "reset", "count": 1})
    assert list(client.files.list()) == []
    resets = [r for r in emulator.requests() if r["reset"]]
    assert len(resets) == 1
    emulator.add_fault({"path": "/openai/files$", "kind": "reset", "count": 1})
    with pytest.raises(openai.APIConnectionError):
        client.with_options(max_retries=0).files.list()


def test_fault_after_the_service_acted_loses_the_answer_not_the_work(emulator: Emulator) -> None:
    """A ``when=after`` fault answers 500 although the service did the work: the trap behind duplicate jobs."""
    account = emulator.seed_account("after")
    emulator.add_fault({"path": "/openai/files$", "method": "POST", "status": 500, "when": "after", "count": 1})
    with openai.AzureOpenAI(
        azure_endpoint=account["endpoint"], api_key=account["keys"][0], api_version="2024-10-21", max_retries=0
    ) as c:
        with pytest.raises(openai.InternalServerError):
            c.files.create(file=("notes.jsonl", b"{}\n"), purpose="fine-tune")
        assert len(list(c.files.list())) == 1


def test_skip_count_and_method_select_which_requests_fail(emulator: Emulator) -> None:
    """``skip`` lets the first matches through, ``count`` bounds the failures, ``method`` narrows the match."""
    emulator.add_fault({"path": "/openai/models$", "method": "GET", "status": 503, "skip": 1, "count": 2})
    account = emulator.seed_account("counts")
    url = f"{account['endpoint']}openai/models"
    with httpx2.Client() as http:
        statuses = [
            http.get(url, params={"api-version": "2024-10-21"}, headers={"api-key": account["keys"][0]}).status_code
            for _ in range(5)
        ]
        post = http.post(url, params={"api-version": "2024-10-21"}, headers={"api-key": account["keys"][0]})
    assert statuses == [200, 503, 503, 200, 200]
    assert post.status_code != 503


def test_probability_is_reproducible_from_the_seed() -> None:
    """Two rules with the same seed and probability fire on the same requests."""
    patterns = []
    for _ in range(2):
        rule = FaultRule(path="x", probability=0.5, seed=1234)
        patterns.append([rule._rng.random() < rule.probability for _ in range(50)])
    assert patterns[0] == patterns[1]
    assert 10 < sum(patterns[0]) < 40


def test_latency_fault_delays_without_failing(emulator: Emulator) -> None:
    """A latency rule slows the matching request down and lets it succeed."""
    account = emulator.seed_account("slow")
    emulator.add_fault({"path": "/openai/models$", "kind": "latency", "latency_ms": 150, "count": 1})
    with httpx2.Client() as http:
        response = http.get(
            f"{account['endpoint']}openai/models",
            params={"api-version": "2024-10-21"},
            headers={"api-key": account["keys"][0]},
        )
    assert response.status_code == 200
    assert emulator.requests()[-1]["ms"] >= 150


def test_bad_fault_rules_are_refused_with_the_reason() -> None:
    """Rules with an unknown field, kind or a broken regex are rejected up front."""
    from aoai_emulator.faults import parse_rule

    with pytest.raises(ValueError, match="unknown fault field"):
        parse_rule("path=/x,colour=red")
    with pytest.raises(ValueError, match="kind"):
        parse_rule({"kind": "explode"})
    with pytest.raises(ValueError, match="regular expression"):
        parse_rule({"path": "("})
