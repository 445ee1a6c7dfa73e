"""The engine's resource monitor for a program run under the SDK's mocks: registrations become real steps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks
from pulumi.runtime.proto import resource_pb2

from .deployment import _Deployment
from .options import OptionError, alias_urns, custom_timeouts
from .pulumi_internals import MockMonitor
from .results import HarnessError
from .thread_loop import ClosingMockMonitor, thread_loop

STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


@dataclass
class _Registration:
    """A ``RegisterResource`` request, as the engine reads it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    additional_secret_outputs: list[str]
    replace_on_changes: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # the URNs the resource had before
    custom_timeouts: dict[str, float] = field(default_factory=dict)


class _Mocks(Mocks):
    """Invokes go to the deployment; resources never come here (the monitor handles them)."""

    def __init__(self, deployment: _Deployment) -> None:
        self.deployment = deployment

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Answer a provider function."""
        return self.deployment.invoke(args.token, args.args), []  # the SDK's mock monitor iterates the failures

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Unused: the monitor registers resources itself, with what the mock arguments leave out."""
        raise HarnessError(f"unexpected registration of {args.typ} {args.name}")


class _Monitor(ClosingMockMonitor):
    """The engine's resource monitor: engine URNs, dependencies and options, real steps instead of echoes.

    Invokes are the SDK's mock monitor's, each in a loop closed after it (:class:`.thread_loop.ClosingMockMonitor`).
    """

    def __init__(self, mocks: _Mocks, deployment: _Deployment) -> None:
        super().__init__(mocks)
        self.deployment = deployment

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The engine's rule: a parent's qualified type prefixes the type, except the root stack's."""
        if parent and parent.split("::")[2] != STACK_TYPE:
            type_ = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{self.deployment.ctx.stack}::{self.deployment.ctx.project.name}::{type_}::{name}"

    def alias_urn(self, parent: str, type_: str, name: str, stack: str, project: str) -> str:
        """The URN an alias names: the engine's rule, in the alias's stack and project."""
        urn = self.make_urn(parent, type_, name)
        return f"urn:pulumi:{stack}::{project}::" + urn.split("::", 2)[2]

    def _timeouts(self, request: Any, urn: str) -> dict[str, float]:
        try:
            return custom_timeouts(request, urn)
        except OptionError as exc:
            failure = HarnessError(str(exc))
            with self.deployment.lock:  # a failed step: the engine starts no other
                self.deployment.error = self.deployment.error or failure
            raise failure from None

    def RegisterResource(self, request: Any) -> Any:
        """Register one resource: plan and run its step."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        with thread_loop() as loop:
            return self._register(urn, request, loop)

    def _register(self, urn: str, request: Any, loop: asyncio.AbstractEventLoop) -> Any:
        if request.importId:
            raise HarnessError(f"{urn}: import (ResourceOptions(import_=...)) is not modelled by this harness")
        deps = set(request.dependencies)
        for prop in request.propertyDependencies.values():
            deps.update(prop.urns)
        reg = _Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent,
            custom=bool(request.custom),
            inputs=dict(rpc.deserialize_properties(request.object, keep_unknowns=True)),
            dependencies=sorted(deps),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            ignore_changes=list(request.ignoreChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            replace_on_changes=list(request.replaceOnChanges),
            aliases=alias_urns(request, self.deployment.ctx.stack, self.deployment.ctx.project.name, self.alias_urn),
            custom_timeouts=self._timeouts(request, urn),
        )
        id_, outputs = self.deployment.register(reg)
        obj = loop.run_until_complete(rpc.serialize_properties(outputs, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, outputs)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

    def ReadResource(self, request: Any) -> Any:
        """Only stack references are read; other reads of existing resources are not modelled."""
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type != STACK_REFERENCE:
            raise HarnessError(
                f"{urn}: reading an existing resource (ResourceOptions(id=...) or .get()) is not modelled"
            )
        with self.deployment.lock:
            props = self.deployment.stack_reference(request.id or request.name)
        with thread_loop() as loop:
            obj = loop.run_until_complete(rpc.serialize_properties(props, {}))
        return resource_pb2.ReadResourceResponse(urn=urn, properties=obj)
