"""Files: multipart upload, import from a URL, list, get, content and delete."""

from __future__ import annotations

import tempfile
import urllib.parse
from pathlib import Path
from typing import IO, Any

import httpx2

from .. import endpoints, errors, lifecycle
from ..blobs import Blob
from ..catalog import UPLOAD_PURPOSES
from ..http import Call, Reply, public
from ..results import results_csv
from ..service import Service
from ..state import Obj
from ..views import json_list
from .context import PREFIX_RE, Ctx, page_slice

EXPIRY_RANGE = (1_209_600, 2_592_000)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _settled(ctx: Ctx, file: Obj, read: bool = True) -> dict[str, Any]:
    settle(ctx, file, read)
    return public(file)


def settle(ctx: Ctx, file: Obj, read: bool) -> None:
    """Move a file on; when its processing ends, run the service's dataset rules over its bytes."""
    svc = ctx.svc
    lifecycle.settle_file(
        file,
        svc.now(),
        svc.timings,
        svc.step(read),
        check=lambda f: _verdict(ctx, f),
    )


def _verdict(ctx: Ctx, file: Obj) -> list[str]:
    if file["purpose"] != "fine-tune":
        return []
    verdict = ctx.svc.verdicts.get(blob_of(ctx.svc, file["id"]), ctx.svc.limits.min_examples)
    file.update(_format=verdict.format, _examples=verdict.examples, _tokens=verdict.tokens)
    if verdict.errors:
        file["status_details"] = verdict.status_details()
    return verdict.errors


def blob_of(svc: Service, file_id: str) -> Blob:
    """The bytes of a stored file, or the error a reader of a file whose bytes are gone gets."""
    blob = svc.store.blobs.get(file_id)
    if blob is None:
        raise FileNotFoundError(f"the bytes of {file_id} are gone from the blob store")
    return blob


def due_verdicts(svc: Service, call: Call) -> list[Blob]:
    """Blobs whose verdict ``call`` may need and nobody has computed yet (call with the service lock held).

    Over-approximates: a verdict computed ahead is only CPU spent early, never a change of state.
    """
    m = PREFIX_RE.match(call.path)
    if m is None:
        return []
    rest = m["rest"] or "/"
    if call.method == "GET" and rest == "/files":
        wanted = None
    elif call.method == "GET" and rest.startswith("/files/") and rest.count("/") == 2:
        wanted = rest[len("/files/") :]
    elif call.method == "POST" and rest == "/fine_tuning/jobs":
        wanted = None
    else:
        return []
    account = endpoints.by_subdomain(svc, m["account"]) if m["account"] else None
    if account is None:
        return []
    files: dict[str, Obj] = account["files"]
    candidates = list(files.values()) if wanted is None else [f for f in (files.get(wanted),) if f is not None]
    now, stepwise = svc.now(), svc.clock.stepwise and call.method == "GET"
    due = []
    for file in candidates:
        if file["status"] != "pending" or file["purpose"] != "fine-tune":
            continue
        if stepwise or (not svc.clock.stepwise and now >= file["_since"] + svc.timings.file_processing):
            blob = svc.store.blobs.get(file["id"])
            if blob is not None and not svc.verdicts.ready(blob, svc.limits.min_examples):
                due.append(blob)
    return due


def get_file(ctx: Ctx, file_id: str) -> Obj:
    """The file record, or the 404 the service answers."""
    file: Obj | None = ctx.account["files"].get(file_id)
    if file is None:
        raise errors.not_found("file", file_id)
    return file


def _expiry(ctx: Ctx, fields: dict[str, Any], now: float) -> int | None:
    anchor = fields.get("expires_after[anchor]", fields.get("expires_after.anchor"))
    seconds = fields.get("expires_after[seconds]", fields.get("expires_after.seconds"))
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise errors.invalid_payload("'expires_after.anchor' must be 'created_at'.", "expires_after.anchor")
    try:
        secs = int(str(seconds))
    except (TypeError, ValueError):
        raise errors.invalid_payload("'expires_after.seconds' must be an integer.", "expires_after.seconds") from None
    low, high = EXPIRY_RANGE
    if not low <= secs <= high:
        raise errors.invalid_payload(
            f"'expires_after.seconds' must be between {low} (14 days) and {high} (30 days), not {secs}.",
            "expires_after.seconds",
        )
    return int(now) + secs


def _check_purpose(ctx: Ctx, purpose: Any, filename: str) -> str:
    if not isinstance(purpose, str) or not purpose:
        raise errors.invalid_payload("'purpose' is required.", "purpose")
    if purpose not in UPLOAD_PURPOSES:
        raise errors.invalid_payload(
            f"'purpose' must be one of {', '.join(sorted(UPLOAD_PURPOSES))}, not {purpose!r}.", "purpose"
        )
    if purpose == "fine-tune":
        if not filename.lower().endswith(".jsonl"):
            raise errors.invalid_payload(
                f"Invalid file format: '{filename}'. Fine-tuning files must be JSON Lines with a .jsonl name.", "file"
            )
        count = sum(1 for f in ctx.account["files"].values() if f["purpose"] == "fine-tune")
        if count >= ctx.svc.limits.max_files:
            raise errors.quota_exceeded(
                f"The account already holds {count} fine-tuning files, the maximum; delete some first."
            )
    return purpose


def _store(ctx: Ctx, source: Blob, purpose: str, filename: str, expires_at: int | None) -> Reply:
    """Keep an uploaded file: its bytes kept under its id; the dataset check runs when processing ends."""
    svc = ctx.svc
    size = source.size
    if size > svc.limits.max_file_bytes:
        source.discard()
        raise errors.invalid_payload(
            f"The file is {size} bytes; the maximum is {svc.limits.max_file_bytes} bytes (512 MB).", "file"
        )
    file_id = svc.store.ids.new("file")
    svc.store.blobs.put(file_id, source)
    now = svc.now()
    file: Obj = {
        "object": "file",
        "id": file_id,
        "created_at": lifecycle.epoch_seconds(now),
        "status": "pending",
        "bytes": size,
        "purpose": purpose,
        "filename": filename,
        "_since": now,
    }
    if expires_at is not None:
        file["expires_at"] = expires_at
    ctx.account["files"][file_id] = file
    return ctx.created(public(file), f"files/{file_id}")


def upload(ctx: Ctx, _: dict[str, str]) -> Reply:
    """``POST /files``: a multipart upload."""
    form = ctx.call.form
    if form is None:
        raise errors.invalid_payload("Uploads must be multipart/form-data with 'purpose' and 'file'.", "file")
    part = form.files.get("file")
    if part is None:
        raise errors.invalid_payload("'file' is required and must be a file part.", "file")
    filename = part.filename or "upload"
    purpose = _check_purpose(ctx, form.fields.get("purpose"), filename)
    expires_at = _expiry(ctx, form.fields, ctx.svc.now())
    return _store(ctx, part.blob, purpose, filename, expires_at)


def _open_source(url: str) -> IO[bytes]:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.parse.unquote(parsed.path))
        if not path.is_file():
            raise errors.ServiceError(
                400, "fileImportFailed", f"The file at '{url}' could not be read.", target="content_url"
            )
        return path.open("rb")
    if parsed.scheme in ("http", "https") and parsed.hostname in LOOPBACK_HOSTS:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
        try:
            with httpx2.stream("GET", url, timeout=30.0) as response:
                if response.status_code != 200:
                    raise errors.ServiceError(
                        400, "fileImportFailed", f"GET {url} answered {response.status_code}.", target="content_url"
                    )
                for chunk in response.iter_bytes():
                    spool.write(chunk)
        except httpx2.HTTPError as exc:
            raise errors.ServiceError(
                400, "fileImportFailed", f"GET {url} failed: {exc}.", target="content_url"
            ) from None
        spool.seek(0)
        return spool
    raise errors.ServiceError(
        400,
        "fileImportFailed",
        f"The emulator imports only file:// and loopback http(s) URLs, not '{url}'.",
        target="content_url",
    )


def import_file(ctx: Ctx, _: dict[str, str]) -> Reply:
    """``POST /files/import``: the service fetches the content from a URL."""
    body = ctx.call.json()
    filename = body.get("filename")
    if not isinstance(filename, str) or not filename:
        raise errors.invalid_payload("'filename' is required.", "filename")
    url = body.get("content_url")
    if not isinstance(url, str) or not url:
        raise errors.invalid_payload("'content_url' is required.", "content_url")
    purpose = _check_purpose(ctx, body.get("purpose"), filename)
    expiry = body.get("expires_after") or {}
    fields = {f"expires_after.{k}": v for k, v in expiry.items()} if isinstance(expiry, dict) else {}
    expires_at = _expiry(ctx, fields, ctx.svc.now())
    with _open_source(url) as source:
        blob = ctx.svc.store.blobs.from_stream(source)
    return _store(ctx, blob, purpose, filename, expires_at)


def list_files(ctx: Ctx, _: dict[str, str]) -> Reply:
    """``GET /files`` with ``purpose``, ``limit``, ``after``, ``order``."""
    purpose = ctx.call.query.get("purpose")
    order = ctx.call.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise errors.invalid_payload(f"'order' must be 'asc' or 'desc', not {order!r}.", "order")
    files = [f for f in ctx.account["files"].values() if purpose is None or f["purpose"] == purpose]
    files.sort(key=lambda f: (f["created_at"], f["_since"]), reverse=order == "desc")
    for file in files:
        if file["status"] == "pending":  # settling a file in any other status changes nothing
            settle(ctx, file, True)
    chunk, has_more = page_slice(ctx, files, 10_000)
    ids = (chunk[0]["id"] if chunk else None, chunk[-1]["id"] if chunk else None) if ctx.v1 else None
    view = ctx.svc.views.file_json
    return Reply(200, raw=json_list([view(f) for f in chunk], has_more, ids))


def retrieve(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /files/{id}``."""
    return Reply(200, _settled(ctx, get_file(ctx, params["file"])))


def delete(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``DELETE /files/{id}``: allowed even when a job used the file."""
    file = get_file(ctx, params["file"])
    del ctx.account["files"][file["id"]]
    blob = ctx.svc.store.blobs.get(file["id"])
    if blob is not None:
        ctx.svc.verdicts.forget(blob)
        ctx.svc.tokens.forget(blob)
    ctx.svc.store.blobs.drop(file["id"])
    return Reply(200, {"object": "file", "deleted": True, "id": file["id"]})


def content(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``GET /files/{id}/content``: the raw bytes (a job's ``results.csv`` is generated)."""
    file = get_file(ctx, params["file"])
    job_id = file.get("_generated_by")
    if job_id:
        job = ctx.account["jobs"].get(job_id)
        if job is None:
            raise errors.not_found("file", file["id"])
        raw = results_csv(job["seed"], job["_total_steps"], job["_steps_per_epoch"], bool(job.get("validation_file")))
        return Reply(200, raw=raw, media_type="application/octet-stream")
    return Reply(200, blob=blob_of(ctx.svc, file["id"]), media_type="application/octet-stream")
