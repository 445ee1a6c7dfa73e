"""The Evals API of one account: evals, their runs and the runs' output items, on either URL dialect.

On ``/openai/v1`` the API is a preview opted into with the ``aoai-evals: preview`` header; on the dated
dialect it exists in ``2025-04-01-preview`` (not in GA versions), so that version is sent whatever version
the rest of the client speaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .dataplane import V1, DataPlaneClient
from .errors import ConflictError

EVALS_HEADER = {"aoai-evals": "preview"}
EVALS_API_VERSION = "2025-04-01-preview"
RUN_TERMINAL = frozenset({"completed", "failed", "canceled"})
CRITERION_LABEL = re.compile(r"(.+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class EvalsClient:
    """Calls the Evals API through a :class:`DataPlaneClient` (its credentials, retries and connection pool)."""

    def __init__(self, client: DataPlaneClient) -> None:
        self.client = client

    def url(self, path: str) -> str:
        """The full URL of an Evals path such as ``evals/eval_1/runs``."""
        base = self.client.endpoint
        return f"{base}openai/{path}" if self.client.dated else f"{base}openai/{V1}/{path}"

    def _params(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        version = {"api-version": EVALS_API_VERSION} if self.client.dated else {}
        return {**version, **(extra or {})}

    def _headers(self) -> dict[str, str] | None:
        return None if self.client.dated else dict(EVALS_HEADER)

    def _request(self, method: str, path: str, *, body: Any = None, retry_post: bool = False) -> dict[str, Any]:
        headers = self._headers()
        if method == "POST" and body is None:
            headers = {"Content-Type": "application/json", **(headers or {})}
        response = self.client.http.request(
            method, self.url(path), params=self._params(), json=body, headers=headers, retry_post=retry_post
        )
        return dict(response.json()) if response.content else {}

    def _pages(self, path: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            query = dict(params or {})
            if after:
                query["after"] = after
            page = self.client.http.request(
                "GET", self.url(path), params=self._params(query), headers=self._headers()
            ).json()
            data = page.get("data") or []
            yield from data
            if not data or not page.get("has_more"):
                return
            after = str(page.get("last_id") or data[-1]["id"])

    # --- evals ----------------------------------------------------------------------------------------------

    def list_evals(self) -> Iterator[dict[str, Any]]:
        """Every eval of the account, newest first, across pages."""
        return self._pages("evals", {"limit": "100", "order": "desc"})

    def get_eval(self, eval_id: str) -> dict[str, Any]:
        """One eval."""
        return self._request("GET", f"evals/{eval_id}")

    def create_eval(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create an eval: not retried blindly (the caller looks for it by its metadata before trying again)."""
        return self._request("POST", "evals", body=body)

    def delete_eval(self, eval_id: str) -> None:
        """Delete an eval and its runs (404 is the caller's business)."""
        self._request("DELETE", f"evals/{eval_id}")

    # --- runs -----------------------------------------------------------------------------------------------

    def list_runs(self, eval_id: str) -> Iterator[dict[str, Any]]:
        """Every run of an eval, oldest first, across pages."""
        return self._pages(f"evals/{eval_id}/runs", {"limit": "100", "order": "asc"})

    def get_run(self, eval_id: str, run_id: str) -> dict[str, Any]:
        """One run, with its result counts once completed."""
        return self._request("GET", f"evals/{eval_id}/runs/{run_id}")

    def create_run(self, eval_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Start a run (paid sampling): not retried blindly (the caller adopts by metadata first)."""
        return self._request("POST", f"evals/{eval_id}/runs", body=body)

    def cancel_run(self, eval_id: str, run_id: str) -> dict[str, Any]:
        """Cancel a run; one already finished is left as it is (a retried cancel meets a 409)."""
        try:
            return self._request("POST", f"evals/{eval_id}/runs/{run_id}/cancel", retry_post=True)
        except ConflictError:
            run = self.get_run(eval_id, run_id)
            if run.get("status") in RUN_TERMINAL:
                return run
            raise

    def delete_run(self, eval_id: str, run_id: str) -> None:
        """Delete a run and its output items."""
        self._request("DELETE", f"evals/{eval_id}/runs/{run_id}")

    def output_items(self, eval_id: str, run_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """The graded items of a completed run (``status`` ``pass`` or ``fail`` to filter)."""
        params = {"limit": "100", **({"status": status} if status else {})}
        return list(self._pages(f"evals/{eval_id}/runs/{run_id}/output_items", params))


def pass_rates(run: dict[str, Any], names: list[str]) -> dict[str, float]:
    """Each criterion's pass rate in a completed run (passed / (passed + failed)), by the criterion's name.

    The service reports a criterion as ``<name>-<uuid>``, in the order the criteria were given.
    """
    rows = run.get("per_testing_criteria_results") or []
    out: dict[str, float] = {}
    for index, row in enumerate(rows):
        label = str(row.get("testing_criteria", ""))
        suffixed = CRITERION_LABEL.fullmatch(label)
        name: str | None = suffixed.group(1) if suffixed else label
        if name not in names:
            name = names[index] if index < len(names) else None
        graded = int(row.get("passed", 0)) + int(row.get("failed", 0))
        if name is not None:
            out[name] = round(int(row.get("passed", 0)) / graded, 6) if graded else 0.0
    return out


def overall_rate(counts: dict[str, Any] | None) -> float:
    """The share of items that passed every criterion."""
    total = int((counts or {}).get("total") or 0)
    return round(int((counts or {}).get("passed") or 0) / total, 6) if total else 0.0
