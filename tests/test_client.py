"""The data-plane client: retries and their headers, error mapping, redaction, dialects; on a mock transport."""

from __future__ import annotations

import httpx2
import pytest

from pulumi_aoai_finetuning.client import (
    ApiKeyAuth,
    DataPlaneClient,
    InvalidRequestError,
    NotFoundError,
    RetryPolicy,
    ServerError,
    ThrottledError,
    TransportError,
    final_metrics,
    redact,
)
from pulumi_aoai_finetuning.client.retry import retry_after_seconds

KEY = "k" * 32
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)


def _client(handler, version: str = "v1") -> DataPlaneClient:  # type: ignore[no-untyped-def]
    return DataPlaneClient(
        "https://acct.openai.azure.com",
        ApiKeyAuth(KEY),
        api_version=version,
        transport=httpx2.MockTransport(handler),
        policy=FAST,
    )


def test_dialects_build_azure_urls() -> None:
    """v1 paths live under /openai/v1/; dated ones under /openai/ with ?api-version."""
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return httpx2.Response(200, json={"id": "file-1"})

    _client(handler).get_file("file-1")
    _client(handler, "2024-10-21").get_file("file-1")
    assert seen == [
        "https://acct.openai.azure.com/openai/v1/files/file-1",
        "https://acct.openai.azure.com/openai/files/file-1?api-version=2024-10-21",
    ]


def test_get_is_retried_after_429_honouring_retry_after_ms() -> None:
    """A throttled GET is retried; ``retry-after-ms`` comes before ``Retry-After``."""
    calls = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx2.Response(
                429,
                headers={"retry-after-ms": "5", "retry-after": "60"},
                json={"error": {"code": "429", "message": "slow down"}},
            )
        return httpx2.Response(200, json={"id": "file-1"})

    assert _client(handler).get_file("file-1") == {"id": "file-1"}
    assert len(calls) == 2
    assert calls[0].headers["api-key"] == KEY


def test_job_submit_is_not_blindly_retried_after_a_server_error() -> None:
    """A 500 on a job create is raised, not repeated: the provider looks for the job before trying again."""
    calls = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        return httpx2.Response(500, json={"error": {"code": "internalFailure", "message": "boom"}})

    with pytest.raises(ServerError):
        _client(handler).create_job({"model": "m", "training_file": "f"})
    assert len(calls) == 1


def test_job_submit_is_retried_after_429_which_does_no_work() -> None:
    """429 is answered in front of the service, so a POST can safely be sent again."""
    statuses = iter([429, 200])

    def handler(request: httpx2.Request) -> httpx2.Response:
        status = next(statuses)
        return httpx2.Response(status, json={"id": "ftjob-1"} if status == 200 else {"error": {"code": "429"}})

    assert _client(handler).create_job({"model": "m"})["id"] == "ftjob-1"


@pytest.mark.parametrize(
    ("status", "body", "exc", "code"),
    [
        (
            400,
            {"error": {"code": "invalidPayload", "message": "bad", "target": "suffix"}},
            InvalidRequestError,
            "invalidPayload",
        ),
        (404, {"error": {"code": "notFound", "message": "no such file"}}, NotFoundError, "notFound"),
        (429, {"error": {"code": "429", "message": "throttled"}}, ThrottledError, "429"),
        (503, {"error": {"code": "503", "message": "down"}}, ServerError, "503"),
    ],
)
def test_errors_map_to_the_tree_with_code_and_request_id(status: int, body: dict, exc: type, code: str) -> None:  # type: ignore[type-arg]
    """Each status maps to its exception, carrying the service code, message and request id."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json=body, headers={"apim-request-id": "req-42"})

    with pytest.raises(exc) as info:
        _client(handler).get_file("file-1")
    assert info.value.code == code
    assert info.value.request_id == "req-42"
    assert KEY not in str(info.value)


def test_connection_failures_become_transport_errors_without_secrets() -> None:
    """A refused connection, after retries, is a TransportError whose text holds no key."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError(f"refused; headers were api-key: {KEY}")

    with pytest.raises(TransportError) as info:
        _client(handler).get_file("file-1")
    assert KEY not in str(info.value)


def test_redact_hides_keys_and_bearer_tokens() -> None:
    """Header-shaped secrets and bearer tokens are masked, known secrets anywhere too."""
    text = f"api-key: {KEY} Authorization: Bearer eyJhbGciOi.abc.def and {KEY}"
    out = redact(text, (KEY,))
    assert KEY not in out
    assert "eyJhbGciOi" not in out


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    """``Retry-After`` is seconds or an HTTP date; ``retry-after-ms`` is milliseconds."""
    assert retry_after_seconds(httpx2.Headers({"retry-after": "2.5"})) == 2.5
    assert retry_after_seconds(httpx2.Headers({"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(httpx2.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after_seconds(httpx2.Headers({})) is None


def test_backoff_grows_exponentially_with_a_cap() -> None:
    """Backoff doubles per attempt, within 25 % jitter, and never passes the cap."""
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    delays = [policy.backoff(n) for n in range(1, 8)]
    assert 0.75 <= delays[0] <= 1.0
    assert 1.5 <= delays[1] <= 2.0
    assert all(d <= 8.0 for d in delays)


def test_final_metrics_take_the_last_value_of_each_column() -> None:
    """Full-validation columns are filled only at epoch ends: their last filled value counts."""
    rows = [
        {"step": "1", "train_loss": "2.0", "full_valid_loss": "1.5", "validation_mean_token_accuracy": "0.5"},
        {"step": "2", "train_loss": "1.0", "full_valid_loss": "", "validation_mean_token_accuracy": "0.7"},
    ]
    metrics = final_metrics(rows)
    assert metrics["train_loss"] == 1.0
    assert metrics["full_valid_loss"] == 1.5
    assert metrics["validation_mean_token_accuracy"] == 0.7
    assert "valid_mean_token_accuracy" not in metrics  # columns keep their own names; no alias to undo
