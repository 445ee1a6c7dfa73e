"""The ASGI application: faults first, then the admin API, ARM or the data plane, each answer logged."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import socket
import struct
import sys
import time
import traceback
import uuid
from typing import Any

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

from . import admin, entra, errors
from .arm import router as arm_router
from .dataplane import files as data_files
from .dataplane import jobs as data_jobs
from .dataplane import router as data_router
from .errors import ServiceError
from .faults import FaultRule
from .http import Call, Reply
from .service import Service
from .uploads import parse_multipart

# Set by the server's protocol to the connection's transport, so a reset fault can abort it.
CURRENT_TRANSPORT: contextvars.ContextVar[Any] = contextvars.ContextVar("aoai_emulator_transport", default=None)


def _plane(path: str) -> str:
    if path.startswith(admin.PREFIX):
        return "admin"
    if arm_router.matches(path):
        return "arm"
    if entra.matches(path):
        return "entra"
    return "v1" if "/openai/v1" in path else "dated"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


class ConnectionResetFault(ConnectionResetError):
    """Raised in-process when a reset fault fires and there is no socket to abort."""


def _wire(headers: dict[str, str], body: bytes, form: Any) -> dict[str, Any]:
    """What the request log keeps of a request's shape: content type, body keys, a client request id or not.

    The body's values are never kept (they may hold secrets); its top-level keys are, and form field names.
    """
    keys: list[str] | None = None
    if form is not None:
        keys = sorted({str(k) for k in form.fields} | {str(k) for k in getattr(form, "files", {})})
    elif body:
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(body)
            keys = sorted(value) if isinstance(value, dict) else None
    content_type = headers.get("content-type")
    return {
        "content_type": content_type.split(";")[0].strip().lower() if content_type else None,
        "body_keys": keys,
        "client_request_id": "x-ms-client-request-id" in headers,
    }


async def _send_chunks(chunks: list[bytes], reply: Reply, headers: dict[str, str], send: Send) -> None:
    """Send a blob held in memory as it is, a chunk per message: no joined copy of it."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw += [(b"content-type", reply.media_type.encode()), (b"content-length", str(sum(map(len, chunks))).encode())]
    await send({"type": "http.response.start", "status": reply.status, "headers": raw})
    for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class EmulatorApp:
    """The emulator as one ASGI callable."""

    def __init__(self, service: Service) -> None:
        self.svc = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection event."""
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path: str = scope["path"]
        method: str = scope["method"]
        plane = _plane(path)
        started = time.monotonic()
        fault: FaultRule | None = None
        if plane != "admin":
            fault = self.svc.faults.match(method, path, "before")
            if fault is not None:
                if fault.latency_ms:
                    await asyncio.sleep(fault.latency_ms / 1000)
                if fault.kind == "latency":
                    fault = None
                elif fault.kind == "reset":
                    self._log(
                        method, path, scope, status=0, plane=plane, account=None, fault=fault, started=started, wire={}
                    )
                    self._reset()
                    return
        wire: dict[str, Any] = {}
        reply, account = await self._answer(request, method, path, plane, fault, wire=wire)
        if plane != "admin" and fault is None:
            after = self.svc.faults.match(method, path, "after")
            if after is not None:
                fault = after
                if after.kind == "latency":
                    # The service has done the work: log it now, whatever happens to the slow answer.
                    self._log(
                        method,
                        path,
                        scope,
                        status=reply.status,
                        plane=plane,
                        account=account,
                        fault=after,
                        started=started,
                        wire=wire,
                    )
                    await asyncio.sleep(after.latency_ms / 1000)
                    await self._send(reply, plane, scope, receive, send)
                    return
                if after.latency_ms:
                    await asyncio.sleep(after.latency_ms / 1000)
                if after.kind == "reset":
                    self._log(
                        method,
                        path,
                        scope,
                        status=0,
                        plane=plane,
                        account=account,
                        fault=after,
                        started=started,
                        wire=wire,
                    )
                    self._reset()
                    return
                if after.kind == "error":
                    reply = self._fault_reply(after, plane)
        self._log(
            method,
            path,
            scope,
            status=reply.status,
            plane=plane,
            account=account,
            fault=fault,
            started=started,
            wire=wire,
        )
        await self._send(reply, plane, scope, receive, send)

    async def _answer(
        self,
        request: Request,
        method: str,
        path: str,
        plane: str,
        fault: FaultRule | None,
        *,
        wire: dict[str, Any],
    ) -> tuple[Reply, str | None]:
        if fault is not None:
            return self._fault_reply(fault, plane), None
        headers = {k.lower(): v for k, v in request.headers.items()}
        form = None
        body = b""
        try:
            if headers.get("content-type", "").startswith("multipart/form-data"):
                form = await parse_multipart(headers["content-type"], request.stream(), self.svc.store.blobs)
            else:
                body = await request.body()
        except Exception as exc:
            return self._error_reply(errors.invalid_payload(f"The request body could not be read: {exc}"), plane), None
        wire.update(_wire(headers, body, form))
        call = Call(method, path, dict(request.query_params), headers, body, form, str(request.base_url).rstrip("/"))
        try:
            inline = self._answer_inline(call, plane)
            if inline is not None:
                return inline
            return await anyio.to_thread.run_sync(self._prepare_and_dispatch, call, plane)
        finally:
            if form is not None:
                form.discard()  # frees only the parts no handler kept

    def _answer_inline(self, call: Call, plane: str) -> tuple[Reply, str | None] | None:
        """The answer computed on the event loop, or None when the call must go to a worker thread.

        The hop to a worker thread and back costs more than most answers; it is kept for what may block
        (uploads received on disk, imports, state-file writes, dataset verdicts) and for when another request
        holds the lock. An upload held in memory is kept by reference: nothing to wait for.
        """
        svc = self.svc
        if (
            (call.form is not None and not all(f.blob.in_memory for f in call.form.files.values()))
            or svc.store.state_file is not None
            or call.path.endswith(("/files/import", "/complete"))  # both copy whole files
        ):
            return None
        if not svc.lock.acquire(blocking=False):
            return None
        try:
            if data_files.due_verdicts(svc, call) or data_jobs.due_token_counts(svc, call):
                return None
            return self._dispatch(call, plane)
        finally:
            svc.lock.release()

    def _prepare_and_dispatch(self, call: Call, plane: str) -> tuple[Reply, str | None]:
        """Compute the dataset verdicts and training-token counts the call may need without the lock, then answer."""
        svc = self.svc
        with svc.lock:
            due = data_files.due_verdicts(svc, call)
            counts = data_jobs.due_token_counts(svc, call)
        # A verdict or count that fails here fails again under the lock, which answers for it.
        for blob in due:
            with contextlib.suppress(Exception):
                svc.verdicts.get(blob, svc.limits.min_examples)
        for blob, encoding in counts:
            with contextlib.suppress(Exception):
                svc.tokens.get(blob, encoding)
        return self._dispatch(call, plane)

    def _dispatch(self, call: Call, plane: str) -> tuple[Reply, str | None]:
        svc = self.svc
        with svc.lock:
            svc.base_url = call.base_url
            account: str | None = None
            try:
                if plane == "admin":
                    reply = admin.dispatch(svc, call)
                elif plane == "arm":
                    reply, account = arm_router.dispatch(svc, call)
                elif plane == "entra":
                    reply = entra.dispatch(svc, call)
                elif data_router.matches(call.path):
                    reply, _, account = data_router.dispatch(svc, call)
                else:
                    raise errors.resource_not_found()
            except ServiceError as exc:
                reply = self._error_reply(exc, plane)
            except Exception:
                traceback.print_exc(file=sys.stderr)
                reply = Reply(
                    500, {"error": {"code": "InternalServerError", "message": "The emulator failed; see its log."}}
                )
            if reply.status < 500 and call.method != "HEAD":
                svc.save()
            return reply, account

    def _error_reply(self, exc: ServiceError, plane: str) -> Reply:
        body_plane = "dated" if plane == "admin" else plane
        return Reply(exc.status, exc.body(body_plane), dict(exc.headers))  # type: ignore[arg-type]

    def _fault_reply(self, rule: FaultRule, plane: str) -> Reply:
        code = rule.code or str(rule.status)
        message = rule.message or f"Injected fault {rule.id}: the service answered {rule.status}."
        if rule.status == 429:
            exc = errors.too_many_requests(rule.retry_after, code, rule.message)
        else:
            exc = ServiceError(rule.status, code, message, gateway=plane != "arm")
        reply = self._error_reply(exc, plane)
        reply.headers.update(rule.headers())
        return reply

    def _reset(self) -> None:
        transport = CURRENT_TRANSPORT.get()
        if transport is None:
            raise ConnectionResetFault("injected connection reset")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # An RST instead of a FIN: the client sees "connection reset by peer", as with a dropped gateway.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def _log(
        self,
        method: str,
        path: str,
        scope: Scope,
        *,
        status: int,
        plane: str,
        account: str | None,
        fault: FaultRule | None,
        started: float,
        wire: dict[str, Any],
    ) -> None:
        if plane == "admin":
            return
        query = scope.get("query_string", b"").decode("latin-1")
        self.svc.log(
            {
                "time": time.time(),
                "emulator_time": self.svc.now(),
                "method": method,
                "path": path,
                "query": query,
                "status": status,
                "plane": plane,
                "account": account,
                "fault": fault.id if fault else None,
                "reset": bool(fault and fault.kind == "reset"),
                "ms": round((time.monotonic() - started) * 1000, 3),
                "content_type": wire.get("content_type"),
                "bytes": _content_length(scope),  # what the client sent: shows a retry re-sent one part, not all
                "body_keys": wire.get("body_keys"),
                "client_request_id": wire.get("client_request_id", False),
            }
        )

    async def _send(self, reply: Reply, plane: str, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        headers = dict(reply.headers)
        if plane == "arm":
            headers.update(
                {
                    "x-ms-request-id": request_id,
                    "x-ms-correlation-request-id": request_id,
                    "x-ms-ratelimit-remaining-subscription-reads": "11999",
                    "x-ms-ratelimit-remaining-subscription-writes": "1199",
                }
            )
        elif plane != "admin":
            headers.update({"apim-request-id": request_id, "x-request-id": request_id, "x-ms-region": "emulator"})
        response: Response
        if reply.blob is not None:
            chunks = reply.blob.memory_chunks()
            if chunks is not None:
                await _send_chunks(chunks, reply, headers, send)
                return
            response = FileResponse(
                reply.blob.on_disk(), status_code=reply.status, headers=headers, media_type=reply.media_type
            )
        elif reply.raw is not None:
            response = Response(reply.raw, status_code=reply.status, headers=headers, media_type=reply.media_type)
        elif reply.body is None:
            response = Response(b"", status_code=reply.status, headers=headers)
            if reply.status in (202, 204) and "content-type" in response.headers:
                del response.headers["content-type"]
        else:
            response = Response(
                orjson.dumps(reply.body), status_code=reply.status, headers=headers, media_type="application/json"
            )
        await response(scope, receive, send)
