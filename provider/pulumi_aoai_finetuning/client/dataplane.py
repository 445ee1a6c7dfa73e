"""The Azure OpenAI data-plane client: files, fine-tuning jobs, checkpoints and copies, in both URL dialects."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2

from .auth import Auth
from .errors import ConflictError
from .http import HttpClient
from .names import normalize_endpoint
from .retry import RetryPolicy
from .security import require_secure

COPY_HEADER = {"aoai-copy-ft-checkpoints": "preview", "Accept": "application/json"}
V1 = "v1"
UPLOADS_SINCE = "2025-04-01"  # the first dated api-version (2025-04-01-preview) whose spec has UploadFile_*
# The states a job is in once a pause, resume or cancel has been accepted.
PAUSED = frozenset({"pausing", "paused"})
RESUMED = frozenset({"resuming", "running", "queued", "pending"})
CANCELLED = frozenset({"cancelling", "cancelled"})


class DataPlaneClient:
    """Calls one account's data plane. ``api_version`` is ``v1`` (``/openai/v1/...``) or a dated version."""

    def __init__(
        self,
        endpoint: str,
        auth: Auth | None,
        *,
        api_version: str = V1,
        transport: httpx2.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        verify: Any = True,
        client: httpx2.Client | None = None,
    ) -> None:
        require_secure(endpoint)
        self.endpoint = normalize_endpoint(endpoint)
        self.api_version = api_version
        self.http = HttpClient(auth, transport=transport, policy=policy, verify=verify, client=client)

    @property
    def dated(self) -> bool:
        """True for a dated api-version (``/openai/...?api-version=``)."""
        return self.api_version != V1

    def close(self) -> None:
        """Close connections."""
        self.http.close()

    def url(self, path: str) -> str:
        """The full URL of an API path such as ``files/file-1``."""
        return f"{self.endpoint}openai/{path}" if self.dated else f"{self.endpoint}openai/v1/{path}"

    def _params(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        params = {"api-version": self.api_version} if self.dated else {}
        return {**params, **(extra or {})}

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self.http.request("GET", self.url(path), params=self._params(params)).json()

    def _post(
        self, path: str, body: Any = None, *, retry_post: bool = False, headers: dict[str, str] | None = None
    ) -> Any:
        if body is None:
            # A bodyless POST (pause, resume, cancel) is declared JSON with no body, as openai-python sends it.
            headers = {"Content-Type": "application/json", **(headers or {})}
        response = self.http.request(
            "POST", self.url(path), params=self._params(), json=body, retry_post=retry_post, headers=headers
        )
        return response.json() if response.content else {}

    def _pages(self, path: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            query = dict(params or {})
            if after:
                query["after"] = after
            page = self._get(path, query)
            data = page.get("data") or []
            yield from data
            if not data or page.get("has_more") is False or "has_more" not in page:
                return
            after = data[-1]["id"]

    # --- files ------------------------------------------------------------------------------------------

    def list_files(self, purpose: str | None = None) -> list[dict[str, Any]]:
        """Every file of the account (optionally of one purpose)."""
        return list(self._pages("files", {"purpose": purpose} if purpose else None))

    def get_file(self, file_id: str) -> dict[str, Any]:
        """One file."""
        return dict(self._get(f"files/{file_id}"))

    def upload_file(self, path: str | Path, filename: str, purpose: str) -> dict[str, Any]:
        """Upload a local file, streamed from disk (memory stays flat whatever its size).

        Not retried on server errors: the caller looks for the file first (adoption) and retries itself.
        """
        with open(path, "rb") as fh:
            response = self.http.request(
                "POST",
                self.url("files"),
                params=self._params(),
                files={"file": (filename, fh, "application/octet-stream")},
                data={"purpose": purpose},
                rewind=fh,
            )
        return dict(response.json())

    def import_file(self, content_url: str, filename: str, purpose: str) -> dict[str, Any]:
        """Have the service fetch the file from a URL (dated api-versions)."""
        body = {"purpose": purpose, "filename": filename, "content_url": content_url}
        response = self.http.request(
            "POST",
            f"{self.endpoint}openai/files/import",
            params={"api-version": self.api_version if self.dated else "2025-04-01-preview"},
            json=body,
        )
        return dict(response.json())

    def delete_file(self, file_id: str) -> None:
        """Delete a file (404 is the caller's business)."""
        self.http.request("DELETE", self.url(f"files/{file_id}"), params=self._params())

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a file."""
        return self.http.request("GET", self.url(f"files/{file_id}/content"), params=self._params()).content

    # --- uploads (a file in parts; see :mod:`.uploads`) ---------------------------------------------------

    @property
    def has_uploads(self) -> bool:
        """True when this api-version serves the Uploads API (v1, and dated versions from 2025-04-01-preview)."""
        return not self.dated or self.api_version[:10] >= UPLOADS_SINCE

    def start_upload(self, filename: str, purpose: str, size: int, mime_type: str) -> dict[str, Any]:
        """Declare a file to send in parts; a repeat only leaves an unused upload, which expires in an hour."""
        body = {"filename": filename, "purpose": purpose, "bytes": size, "mime_type": mime_type}
        return dict(self._post("uploads", body, retry_post=True))

    def add_upload_part(self, upload_id: str, data: Any) -> dict[str, Any]:
        """Send one part (``data``: bytes, or a seekable reader rewound before each retry).

        Retried like an idempotent call: a part stored twice is harmless, since only the part ids listed at
        completion make up the file.
        """
        response = self.http.request(
            "POST",
            self.url(f"uploads/{upload_id}/parts"),
            params=self._params(),
            files={"data": ("part", data, "application/octet-stream")},
            retry_post=True,
            rewind=None if isinstance(data, bytes) else data,
        )
        return dict(response.json())

    def complete_upload(self, upload_id: str, part_ids: list[str], md5: str | None = None) -> dict[str, Any]:
        """Join the parts, in this order, into a File (returned under ``file``)."""
        body: dict[str, Any] = {"part_ids": part_ids}
        if md5 is not None:
            body["md5"] = md5
        return dict(self._post(f"uploads/{upload_id}/complete", body))

    def cancel_upload(self, upload_id: str) -> dict[str, Any]:
        """Cancel a pending upload; its parts are dropped."""
        return dict(self._post(f"uploads/{upload_id}/cancel", retry_post=True))

    # --- jobs ---------------------------------------------------------------------------------------------

    def list_jobs(self) -> Iterator[dict[str, Any]]:
        """Jobs, newest first, across pages."""
        return self._pages("fine_tuning/jobs", {"limit": "100"})

    def get_job(self, job_id: str) -> dict[str, Any]:
        """One job."""
        return dict(self._get(f"fine_tuning/jobs/{job_id}"))

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """Submit a job: a paid call, never retried blindly (the caller adopts before retrying)."""
        return dict(self._post("fine_tuning/jobs", body))

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Cancel a job; one already cancelling or cancelled is success (a retried cancel meets a 409)."""
        return self._transition(job_id, "cancel", CANCELLED)

    def pause_job(self, job_id: str) -> dict[str, Any]:
        """Pause a running job; one already pausing or paused is success."""
        return self._transition(job_id, "pause", PAUSED)

    def resume_job(self, job_id: str) -> dict[str, Any]:
        """Resume a paused job; one already resuming or running again is success."""
        return self._transition(job_id, "resume", RESUMED)

    def _transition(self, job_id: str, action: str, reached: frozenset[str]) -> dict[str, Any]:
        try:
            return dict(self._post(f"fine_tuning/jobs/{job_id}/{action}", retry_post=True))
        except ConflictError:
            # The 409 may answer our own earlier attempt (its reply was lost): the job is where we asked.
            job = self.get_job(job_id)
            if job.get("status") in reached:
                return job
            raise

    def delete_job(self, job_id: str) -> None:
        """Delete a finished job's record (dated api-versions only)."""
        self.http.request("DELETE", self.url(f"fine_tuning/jobs/{job_id}"), params=self._params())

    def job_events(self, job_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest events of a job."""
        return list(self._get(f"fine_tuning/jobs/{job_id}/events", {"limit": str(limit)}).get("data") or [])

    def job_checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        """All checkpoints of a job, newest first."""
        return list(self._pages(f"fine_tuning/jobs/{job_id}/checkpoints"))

    def results(self, file_id: str) -> list[dict[str, str]]:
        """The rows of a job's ``results.csv``."""
        text = self.file_content(file_id).decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))

    # --- models -------------------------------------------------------------------------------------------

    def delete_model(self, model: str) -> None:
        """Delete a fine-tuned model that nothing deploys (404 is the caller's business).

        Only the v1 API has this operation (``DELETE /openai/v1/models/{model}``; no dated api-version
        defines it): it is sent there whatever ``api_version`` is, as checkpoint copies are.
        """
        self.http.request("DELETE", f"{self.endpoint}openai/{V1}/models/{model}")

    # --- checkpoint copy (preview, v1 path) ---------------------------------------------------------------

    def _copy_url(self, job_id: str, checkpoint: str) -> str:
        return f"{self.endpoint}openai/{V1}/fine_tuning/jobs/{job_id}/checkpoints/{checkpoint}/copy"

    def start_copy(self, job_id: str, checkpoint: str, destination_id: str, region: str) -> dict[str, Any]:
        """Start copying a checkpoint to another account (repeating it adopts the copy in progress)."""
        body = {"destinationResourceId": destination_id, "region": region}
        return dict(
            self.http.request(
                "POST", self._copy_url(job_id, checkpoint), json=body, headers=COPY_HEADER, retry_post=True
            ).json()
        )

    def copy_status(self, job_id: str, checkpoint: str) -> dict[str, Any]:
        """The status of the copies of a checkpoint."""
        return dict(self.http.request("GET", self._copy_url(job_id, checkpoint), headers=COPY_HEADER).json())


def final_metrics(rows: list[dict[str, str]]) -> dict[str, float]:
    """The final metrics of a job from its ``results.csv``: the last value of every column, under its own name."""
    out: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            if key and value not in (None, ""):
                try:
                    out[key] = float(value)
                except ValueError:
                    continue
    return out
