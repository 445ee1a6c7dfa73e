"""ARM long-running operations: the strategy is picked by ``can_poll``, in azure-core's order of preference."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from pulumi_aoai_finetuning.client import BearerAuth, OperationFailedError
from pulumi_aoai_finetuning.client.arm import ArmClient

RID = "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a/deployments/d"
MONITOR = "https://management.azure.com/operations/op1"
LOCATION = "https://management.azure.com/operationResults/op1"


def _arm(handler: Any) -> ArmClient:
    return ArmClient(
        "https://management.azure.com",
        BearerAuth("t" * 20),
        transport=httpx2.MockTransport(handler),
        poll_interval=0.001,
        poll_max=0.002,
    )


def _resource(state: str) -> dict[str, Any]:
    return {"id": RID, "properties": {"provisioningState": state}}


@pytest.mark.parametrize(
    ("headers", "polled"),
    [
        ({"Azure-AsyncOperation": MONITOR, "Location": LOCATION}, MONITOR),  # the monitor wins over Location
        ({"Location": LOCATION}, LOCATION),
        ({}, f"https://management.azure.com{RID}"),  # neither: the resource's provisioningState
    ],
)
def test_a_put_is_followed_by_the_strategy_its_response_allows(headers: dict[str, str], polled: str) -> None:
    """Each protocol ends with the resource; only the URL the strategy follows is polled."""
    gets: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        url = str(request.url).split("?")[0]
        if request.method == "PUT":
            return httpx2.Response(201, headers=headers, json=_resource("Creating"))
        gets.append(url)
        if url == MONITOR:
            return httpx2.Response(200, json={"status": "InProgress" if len(gets) < 2 else "Succeeded"})
        if url == LOCATION:
            return httpx2.Response(202) if len(gets) < 2 else httpx2.Response(200, json=_resource("Succeeded"))
        return httpx2.Response(200, json=_resource("Creating" if len(gets) < 2 else "Succeeded"))

    result = _arm(handler).put(RID, {"properties": {}}, timeout_s=10)
    assert result["properties"]["provisioningState"] == "Succeeded"
    assert gets[0] == polled
    assert gets.count(polled) >= 2


def test_a_failed_operation_raises_with_its_error() -> None:
    """The monitor says Failed: the error's code and message reach the caller."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.method == "PUT":
            return httpx2.Response(201, headers={"Azure-AsyncOperation": MONITOR}, json=_resource("Creating"))
        return httpx2.Response(200, json={"status": "Failed", "error": {"code": "QuotaExceeded", "message": "no"}})

    with pytest.raises(OperationFailedError, match="QuotaExceeded"):
        _arm(handler).put(RID, {"properties": {}}, timeout_s=10)


def test_a_delete_without_a_monitor_waits_until_the_resource_is_gone() -> None:
    """202 with no header: GET until 404."""
    gets = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.method == "DELETE":
            return httpx2.Response(202)
        gets.append(request)
        return httpx2.Response(200, json=_resource("Deleting")) if len(gets) < 3 else httpx2.Response(404, json={})

    _arm(handler).delete(RID, timeout_s=10)
    assert len(gets) == 3
