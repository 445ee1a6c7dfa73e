"""The calls the engine makes to a resource provider: each request built, sent, and its response decoded.

One layer for every replay of the engine in this package: :class:`~.engine.EngineReplay` and the program
harness both make their Check, Diff, Create, Update, Read and Delete calls here, through a ``send``
function (``DynamicPlugin.call``, or the harness's wrapper of it that restarts the plugin with new keys).
Properties go in and come out as Python values (secrets and unknowns encoded as the SDK's ``rpc`` module
encodes them); a failed Check raises :class:`CheckFailed`, a provider exception :class:`ProviderError`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from google.protobuf import struct_pb2  # type: ignore[import-untyped]  # protobuf ships no stubs
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

UNKNOWN = rpc.UNKNOWN  # put this in inputs to preview with a value not known yet

Send = Callable[[str, Any], Any]
"""Sends one request by method name (``"Check"``, ...) and returns the response."""


class CheckFailed(Exception):
    """``Check`` returned failures; ``failures`` holds ``(property, reason)`` pairs."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        super().__init__("; ".join(f"{p}: {r}" for p, r in failures))


class ProviderError(Exception):
    """A provider method raised; ``details`` is what the engine would print (the traceback)."""

    def __init__(self, method: str, details: str) -> None:
        self.method = method
        self.details = details
        last = details.strip().splitlines()[-1] if details.strip() else ""
        super().__init__(f"{method} failed: {last}")


class _ThreadLoop:
    """One private event loop per thread, closed when the thread's locals go (a loop per call cost a lot)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        self.loop.close()


_loops = threading.local()


def to_struct(props: Mapping[str, Any]) -> Any:
    """Props as the engine sends them (a protobuf ``Struct``; secrets and unknowns encoded).

    Plain data (what the harness holds: JSON values, with secrets and unknowns already in their wire form) is
    copied straight into the ``Struct``, as the engine marshals a property map; the SDK's serializer, which
    awaits each value as a possible ``Output``, is kept for anything else (an asset, say).
    """
    struct = struct_pb2.Struct()
    try:
        struct.update({k: v for k, v in props.items() if v is not None})  # the SDK sends no None property
        return struct
    except (TypeError, ValueError):
        pass  # not JSON data all through: protobuf refuses it, the SDK serializes it
    holder: _ThreadLoop | None = getattr(_loops, "holder", None)
    if holder is None:
        # A private loop, not asyncio.run: that would unset the thread's current loop (the runtime's, in main).
        holder = _loops.holder = _ThreadLoop()
    return holder.loop.run_until_complete(rpc.serialize_properties(dict(props), {}))


def from_struct(struct: Any) -> dict[str, Any]:
    """Props from the engine's ``Struct``, unknowns kept."""
    return dict(rpc.deserialize_properties(struct, keep_unknowns=True))


class Diff(NamedTuple):
    """What a provider's ``Diff`` answered."""

    changes: str  # "none", "some" or "unknown" (the provider left it to the engine)
    replaces: list[str]
    delete_before_replace: bool


_CHANGES = {
    provider_pb2.DiffResponse.DIFF_NONE: "none",
    provider_pb2.DiffResponse.DIFF_SOME: "some",
    provider_pb2.DiffResponse.DIFF_UNKNOWN: "unknown",
}


class Target(NamedTuple):
    """The resource a call is about: its URN and type, and its id once it exists."""

    urn: str
    type: str
    id: str = ""

    @property
    def name(self) -> str:
        """The logical name (the URN's last part)."""
        return self.urn.rsplit("::", 1)[-1]


def check(send: Send, target: Target, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    """``Check``: the checked inputs, or :class:`CheckFailed`."""
    request = provider_pb2.CheckRequest(
        urn=target.urn, name=target.name, type=target.type, olds=to_struct(olds), news=to_struct(news)
    )
    response = send("Check", request)
    if response.failures:
        raise CheckFailed([(f.property, f.reason) for f in response.failures])
    return from_struct(response.inputs)


def diff(
    send: Send, target: Target, olds: Mapping[str, Any], old_inputs: Mapping[str, Any], news: Mapping[str, Any]
) -> Diff:
    """``Diff`` of the old outputs and inputs against the checked new inputs."""
    request = provider_pb2.DiffRequest(
        id=target.id,
        urn=target.urn,
        type=target.type,
        olds=to_struct(olds),
        old_inputs=to_struct(old_inputs),
        news=to_struct(news),
    )
    response = send("Diff", request)
    return Diff(_CHANGES.get(response.changes, "unknown"), list(response.replaces), bool(response.deleteBeforeReplace))


def create(
    send: Send, target: Target, properties: Mapping[str, Any], *, timeout: float = 0
) -> tuple[str, dict[str, Any]]:
    """``Create``: the new id and outputs."""
    request = provider_pb2.CreateRequest(
        urn=target.urn, name=target.name, type=target.type, properties=to_struct(properties), timeout=timeout
    )
    response = send("Create", request)
    return str(response.id), from_struct(response.properties)


def update(
    send: Send,
    target: Target,
    olds: Mapping[str, Any],
    old_inputs: Mapping[str, Any],
    news: Mapping[str, Any],
    *,
    timeout: float = 0,
) -> dict[str, Any]:
    """``Update`` in place: the new outputs."""
    request = provider_pb2.UpdateRequest(
        id=target.id,
        urn=target.urn,
        type=target.type,
        olds=to_struct(olds),
        old_inputs=to_struct(old_inputs),
        news=to_struct(news),
        timeout=timeout,
    )
    return from_struct(send("Update", request).properties)


def read(
    send: Send, target: Target, properties: Mapping[str, Any], inputs: Mapping[str, Any]
) -> tuple[str | None, dict[str, Any], dict[str, Any] | None]:
    """``Read``: the id (None when the resource is gone), the outputs, and the inputs if the provider sent any."""
    request = provider_pb2.ReadRequest(
        id=target.id, urn=target.urn, type=target.type, properties=to_struct(properties), inputs=to_struct(inputs)
    )
    response = send("Read", request)
    if not response.id:
        return None, {}, None
    read_inputs = from_struct(response.inputs) if response.HasField("inputs") else {}
    return str(response.id), from_struct(response.properties), read_inputs or None


def delete(
    send: Send, target: Target, properties: Mapping[str, Any], old_inputs: Mapping[str, Any], *, timeout: float = 0
) -> None:
    """``Delete``."""
    request = provider_pb2.DeleteRequest(
        id=target.id,
        urn=target.urn,
        type=target.type,
        properties=to_struct(properties),
        old_inputs=to_struct(old_inputs),
        timeout=timeout,
    )
    send("Delete", request)
