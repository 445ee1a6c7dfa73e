"""The emulator's own small request and reply types, so handlers stay plain functions of data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .errors import ServiceError

if TYPE_CHECKING:
    from .blobs import Blob


@dataclass
class Call:
    """One request as the handlers see it: method, path, query, lower-cased headers and the raw body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    form: Any = None  # starlette FormData for multipart uploads
    base_url: str = ""

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or a 400 that says why it is not one."""
        if not self.body:
            raise ServiceError(400, "invalidPayload", "The request body is empty; a JSON object is required.")
        try:
            value = orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise ServiceError(400, "invalidPayload", f"The request body is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ServiceError(400, "invalidPayload", "The request body must be a JSON object.")
        return value


@dataclass
class Reply:
    """A response: JSON-able ``body``, raw bytes, or a stored blob streamed from memory or disk."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    blob: Blob | None = None
    media_type: str = "application/json"


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without the emulator's private ``_`` keys, as clients see it."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}
