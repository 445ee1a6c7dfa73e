"""What every data-plane handler gets: the service, the account, the call and its dialect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import errors
from ..endpoints import PREFIX_RE
from ..http import Call, Reply
from ..service import Service
from ..state import Obj

__all__ = ["PREFIX_RE", "Ctx", "Handler", "page", "page_slice"]


@dataclass
class Ctx:
    """One data-plane request in context."""

    svc: Service
    account: Obj
    call: Call
    v1: bool
    version: str
    root: str  # the endpoint's path the call came in by: ``/<subdomain>`` or ``/_regional/<region>``

    @property
    def plane(self) -> str:
        """``v1`` or ``dated``: which error and body shapes to answer with."""
        return "v1" if self.v1 else "dated"

    def prefix(self) -> str:
        """The URL of this account's API root, for ``Location`` headers."""
        return f"{self.call.base_url}{self.root}/openai" + ("/v1" if self.v1 else "")

    def created(self, body: dict[str, Any], location: str) -> Reply:
        """Dated creates answer 201 with ``Location``; v1 answers 200."""
        if self.v1:
            return Reply(200, body)
        return Reply(201, body, {"Location": f"{self.prefix()}/{location}?api-version={self.version}"})

    def int_param(self, name: str, default: int, low: int, high: int) -> int:
        """An integer query parameter within bounds, or a 400 naming it."""
        raw = self.call.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise errors.invalid_payload(f"'{name}' must be an integer, not {raw!r}.", name) from None
        if not low <= value <= high:
            raise errors.invalid_payload(f"'{name}' must be between {low} and {high}, not {value}.", name)
        return value


Handler = Callable[[Ctx, dict[str, str]], Reply]


def page_slice(ctx: Ctx, items: list[dict[str, Any]], default_limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The items of a cursor page (``after``, ``limit``) of items already in answer order, and ``has_more``."""
    limit = ctx.int_param("limit", default_limit, 1, 10_000)
    after = ctx.call.query.get("after")
    if after:
        positions = [i for i, item in enumerate(items) if item["id"] == after]
        items = items[positions[0] + 1 :] if positions else []
    return items[:limit], len(items) > limit


def page(ctx: Ctx, items: list[dict[str, Any]], default_limit: int, ids_in_body: bool = False) -> Reply:
    """A cursor page (``after``, ``limit``) of items already in answer order."""
    chunk, has_more = page_slice(ctx, items, default_limit)
    body: dict[str, Any] = {"object": "list", "data": chunk, "has_more": has_more}
    if ids_in_body:
        body["first_id"] = chunk[0]["id"] if chunk else None
        body["last_id"] = chunk[-1]["id"] if chunk else None
    return Reply(200, body)
