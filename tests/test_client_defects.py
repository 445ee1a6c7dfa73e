"""Client defects a review found: malformed Retry-After, lost causes and ARM details, cleartext endpoints."""

from __future__ import annotations

import httpx2
import pytest

from pulumi_aoai_finetuning.client import (
    ApiKeyAuth,
    ArmClient,
    BearerAuth,
    DataPlaneClient,
    InsecureEndpointError,
    InvalidRequestError,
    RetryPolicy,
    TransportError,
)
from pulumi_aoai_finetuning.client.retry import retry_after_seconds

KEY = "k" * 32
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)


def _client(handler, endpoint: str = "https://acct.openai.azure.com") -> DataPlaneClient:  # type: ignore[no-untyped-def]
    return DataPlaneClient(endpoint, ApiKeyAuth(KEY), transport=httpx2.MockTransport(handler), policy=FAST)


def test_a_retry_after_that_is_neither_seconds_nor_a_date_is_ignored() -> None:
    """``Retry-After: soon`` from a proxy: no crash; the request backs off and is retried."""
    assert retry_after_seconds(httpx2.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx2.Headers({"Retry-After": "Mon, 99 Foo 2026"})) is None
    calls = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx2.Response(503, headers={"Retry-After": "soon"}, json={"error": {"code": "busy"}})
        return httpx2.Response(200, json={"id": "file-1"})

    assert _client(handler).get_file("file-1") == {"id": "file-1"}
    assert len(calls) == 2


def test_a_transport_error_keeps_its_cause_and_says_whether_the_request_was_sent() -> None:
    """A refused connection never reached the service; a read timeout on a POST may have."""

    def refused(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    def timed_out(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("no answer", request=request)

    with pytest.raises(TransportError) as never:
        _client(refused).create_job({"model": "m", "training_file": "file-1"})
    assert isinstance(never.value.__cause__, httpx2.ConnectError)
    assert never.value.may_have_reached_service is False
    with pytest.raises(TransportError) as maybe:
        _client(timed_out).create_job({"model": "m", "training_file": "file-1"})
    assert isinstance(maybe.value.__cause__, httpx2.ReadTimeout)
    assert maybe.value.may_have_reached_service is True
    assert KEY not in str(maybe.value)


def test_arm_error_details_are_kept_on_the_exception() -> None:
    """ARM's ``error.details`` (the specific causes of a 400) reach the caller, as azure-core keeps them."""
    details = [{"code": "InvalidCapacity", "message": "capacity 0 is below 1", "target": "sku.capacity"}]

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = {"error": {"code": "InvalidResourceProperties", "message": "bad deployment", "details": details}}
        return httpx2.Response(400, json=body)

    arm = ArmClient("https://management.azure.com", BearerAuth("t" * 20), transport=httpx2.MockTransport(handler))
    with pytest.raises(InvalidRequestError) as raised:
        arm.get("/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a")
    assert raised.value.details == details
    assert raised.value.may_have_reached_service is True


@pytest.mark.parametrize(
    "endpoint", ["http://acct.openai.azure.com/", "http://10.0.0.5:8080/", "http://localhost.evil.example.com/"]
)
def test_plain_http_off_this_machine_is_refused_before_any_request(endpoint: str) -> None:
    """The key would travel in cleartext: both clients refuse the URL, and nothing is sent."""
    sent: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json={})

    with pytest.raises(InsecureEndpointError, match="cleartext"):
        _client(handler, endpoint).list_files()
    with pytest.raises(InsecureEndpointError, match="azure-openai:armEndpoint"):
        ArmClient(endpoint, BearerAuth("t" * 20), transport=httpx2.MockTransport(handler))
    assert sent == []


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:8080/", "http://127.9.9.9/", "http://localhost:1/", "http://[::1]:80/"]
)
def test_plain_http_to_loopback_is_allowed(endpoint: str) -> None:
    """The emulator and local proxies listen on loopback: plain http there never leaves the machine."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"data": [], "has_more": False})

    assert _client(handler, endpoint).list_files() == []


@pytest.mark.parametrize("version", ["v1", "2025-04-01-preview"])
def test_delete_model_goes_to_the_only_api_that_has_it(version: str) -> None:
    """Only the v1 API deletes a model: the client sends it there whatever the configured api-version."""
    seen: list[tuple[str, str]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append((request.method, str(request.url)))
        return httpx2.Response(200, json={"id": "m", "deleted": True})

    client = DataPlaneClient(
        "https://acct.openai.azure.com", ApiKeyAuth(KEY), api_version=version, transport=httpx2.MockTransport(handler)
    )
    client.delete_model("gpt-4o-mini-2024-07-18.ft-abc")
    assert seen == [("DELETE", "https://acct.openai.azure.com/openai/v1/models/gpt-4o-mini-2024-07-18.ft-abc")]
