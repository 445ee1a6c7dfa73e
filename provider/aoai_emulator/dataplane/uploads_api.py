"""The Uploads API: a large file sent in parts (``/uploads``, ``/parts``, ``/complete``, ``/cancel``).

Azure serves it on the dated preview api-versions (``UploadFile_Start/Part/Complete/Cancel`` in
2025-04-01-preview) and on v1. An upload is ``pending`` for an hour, then ``expired``; ``complete`` checks that
the listed parts add up to the declared ``bytes`` (and ``md5`` when given) and turns them into a File.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import errors, lifecycle
from ..catalog import UPLOAD_PURPOSES
from ..http import Reply, public
from ..state import Obj
from .context import Ctx
from .files import _check_purpose, _store, blob_of

EXPIRY_SECONDS = 3600
MAX_PART_BYTES = 64 * 1024 * 1024


def _uploads(ctx: Ctx) -> dict[str, Obj]:
    found: dict[str, Obj] = ctx.account.setdefault("uploads", {})
    return found


def _get(ctx: Ctx, upload_id: str) -> Obj:
    upload = _uploads(ctx).get(upload_id)
    if upload is None:
        raise errors.not_found("upload", upload_id)
    if upload["status"] == "pending" and ctx.svc.now() >= upload["_since"] + EXPIRY_SECONDS:
        upload["status"] = "expired"
        _drop_parts(ctx, upload)
    return upload


def _drop_parts(ctx: Ctx, upload: Obj) -> None:
    for part_id in upload["_parts"]:
        ctx.svc.store.blobs.drop(part_id)
    upload["_parts"] = {}


def _pending(upload: Obj) -> None:
    if upload["status"] != "pending":
        raise errors.invalid_payload(
            f"The upload '{upload['id']}' is {upload['status']}; only a pending upload takes parts or completes.",
            "upload_id",
        )


def _render(upload: Obj) -> dict[str, Any]:
    return public(upload)


def start(ctx: Ctx, _: dict[str, str]) -> Reply:
    """``POST /uploads``: declare the file (purpose, filename, bytes, mime_type) before sending parts."""
    body = ctx.call.json()
    filename = body.get("filename")
    if not isinstance(filename, str) or not filename:
        raise errors.invalid_payload("'filename' is required.", "filename")
    mime = body.get("mime_type")
    if not isinstance(mime, str) or not mime:
        raise errors.invalid_payload("'mime_type' is required.", "mime_type")
    size = body.get("bytes")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise errors.invalid_payload("'bytes' must be a positive integer: the size of the whole file.", "bytes")
    purpose = _check_purpose(ctx, body.get("purpose"), filename)
    if purpose not in UPLOAD_PURPOSES:  # pragma: no cover - _check_purpose refuses it first
        raise errors.invalid_payload("'purpose' is not valid.", "purpose")
    if size > ctx.svc.limits.max_file_bytes:
        raise errors.invalid_payload(
            f"The file is {size} bytes; the maximum is {ctx.svc.limits.max_file_bytes} bytes (512 MB).", "bytes"
        )
    now = ctx.svc.now()
    upload: Obj = {
        "object": "upload",
        "id": ctx.svc.store.ids.new("upload").replace("-", "_", 1),
        "created_at": lifecycle.epoch_seconds(now),
        "expires_at": lifecycle.epoch_seconds(now + EXPIRY_SECONDS),
        "bytes": size,
        "filename": filename,
        "purpose": purpose,
        "status": "pending",
        "file": None,
        "_since": now,
        "_mime_type": mime,
        "_parts": {},
    }
    _uploads(ctx)[upload["id"]] = upload
    return Reply(200, _render(upload))


def add_part(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /uploads/{id}/parts``: one part (multipart field ``data``, at most 64 MB)."""
    upload = _get(ctx, params["upload"])
    _pending(upload)
    form = ctx.call.form
    part = form.files.get("data") if form is not None else None
    if part is None:
        raise errors.invalid_payload("A part must be multipart/form-data with a file field 'data'.", "data")
    if part.size > MAX_PART_BYTES:
        raise errors.invalid_payload(f"A part is at most {MAX_PART_BYTES} bytes (64 MB), not {part.size}.", "data")
    part_id = ctx.svc.store.ids.new("part").replace("-", "_", 1)
    ctx.svc.store.blobs.put(part_id, part.blob)
    upload["_parts"][part_id] = part.size
    return Reply(
        200,
        {
            "object": "upload.part",
            "id": part_id,
            "created_at": lifecycle.epoch_seconds(ctx.svc.now()),
            "upload_id": upload["id"],
        },
    )


def _md5(ctx: Ctx, part_ids: list[str]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for part_id in part_ids:
        for chunk in blob_of(ctx.svc, part_id).iter_chunks():
            digest.update(chunk)
    return digest.hexdigest()


def complete(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /uploads/{id}/complete``: join the listed parts, in order, into a File."""
    upload = _get(ctx, params["upload"])
    _pending(upload)
    body = ctx.call.json()
    part_ids = body.get("part_ids")
    if not isinstance(part_ids, list) or not part_ids or not all(isinstance(p, str) for p in part_ids):
        raise errors.invalid_payload("'part_ids' must list the upload's parts, in order.", "part_ids")
    unknown = [p for p in part_ids if p not in upload["_parts"]]
    if unknown or len(set(part_ids)) != len(part_ids):
        raise errors.invalid_payload(
            f"'part_ids' names parts that are not this upload's or repeats one: {unknown or part_ids}.", "part_ids"
        )
    total = sum(upload["_parts"][p] for p in part_ids)
    if total != upload["bytes"]:
        raise errors.invalid_payload(
            f"The parts add up to {total} bytes; the upload declared {upload['bytes']}.", "part_ids"
        )
    md5 = body.get("md5")
    if md5 is not None and md5 != _md5(ctx, part_ids):
        raise errors.invalid_payload("'md5' does not match the joined parts.", "md5")
    # Copying every part through Python (and hashing it when no md5 was asked for) made completing an upload
    # cost as much as receiving it, which the client benchmarks would have charged to the Uploads API: the
    # store joins parts held in memory without a copy, and parts on disk by renaming the first one.
    joined = ctx.svc.store.blobs.join(upload["id"], part_ids)
    stored = _store(ctx, joined, upload["purpose"], upload["filename"], None)
    _drop_parts(ctx, upload)
    upload["status"] = "completed"
    upload["file"] = stored.body
    return Reply(200, _render(upload))


def cancel(ctx: Ctx, params: dict[str, str]) -> Reply:
    """``POST /uploads/{id}/cancel``: a pending upload ends ``cancelled`` and its parts are dropped."""
    upload = _get(ctx, params["upload"])
    _pending(upload)
    upload["status"] = "cancelled"
    _drop_parts(ctx, upload)
    return Reply(200, _render(upload))
