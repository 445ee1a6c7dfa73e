"""Drive the SDK's real dynamic-provider server (``python -m pulumi.dynamic``) the way the Pulumi engine does.

:class:`DynamicPlugin` starts the same server the CLI starts for ``pulumi-python`` resources and configures
it with stack config; :class:`EngineReplay` replays the engine's calls for ``up``, ``preview``, ``refresh``
and ``destroy`` of resources, keeping their state (id, inputs, outputs) between commands, as the CLI's
state file would. Nothing is mocked: providers are unpickled from ``__provider`` and run in the plugin.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

UNKNOWN = rpc.UNKNOWN  # put this in inputs to preview with a value not known yet


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


def to_struct(props: dict[str, Any]) -> Any:
    """Props as the engine sends them (a protobuf ``Struct``; secrets and unknowns encoded)."""
    loop = asyncio.new_event_loop()  # a private loop: asyncio.run would unset the main thread's loop
    try:
        return loop.run_until_complete(rpc.serialize_properties(props, {}))
    finally:
        loop.close()


def from_struct(struct: Any) -> dict[str, Any]:
    """Props from the engine's ``Struct``, unknowns kept."""
    return dict(rpc.deserialize_properties(struct, keep_unknowns=True))


def _clean(props: dict[str, Any]) -> dict[str, Any]:
    """What a program's props become on the wire: ``None`` values are not sent."""
    return {k: v for k, v in props.items() if v is not None}


class DynamicPlugin:
    """The real ``python -m pulumi.dynamic`` server in a subprocess, configured with stack config."""

    def __init__(
        self,
        config: dict[str, str] | None = None,
        *,
        secrets: set[str] | None = None,
        project: str = "proj",
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = dict(config or {})
        self.secrets = set(secrets or ())
        self.project = project
        self.cwd = str(cwd) if cwd else os.getcwd()
        self.env = {**os.environ, "PULUMI_PROJECT": project, **(env or {})}
        self._stderr = tempfile.NamedTemporaryFile(prefix="pulumi-dynamic-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            self.close()
            raise RuntimeError(f"the dynamic provider server did not start: {self.stderr()}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        args = {k: rpc.wrap_rpc_secret(v) if k in self.secrets else v for k, v in self.config.items()}
        self.configure_response = self.stub.Configure(
            provider_pb2.ConfigureRequest(
                args=to_struct(args),
                acceptSecrets=True,
                acceptResources=True,
                type="pulumi:providers:pulumi-python",
                name="default",
            )
        )

    def stderr(self) -> str:
        """What the plugin wrote on stderr so far (the engine shows it as diagnostics)."""
        return Path(self._stderr.name).read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the plugin, as when the CLI is killed in the middle of an operation."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.channel.close()

    def close(self) -> None:
        """Stop the plugin and remove its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if hasattr(self, "channel"):
            self.channel.close()
        if self.process.stdout:
            self.process.stdout.close()
        self._stderr.close()
        Path(self._stderr.name).unlink(missing_ok=True)

    def __enter__(self) -> DynamicPlugin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any) -> Any:
        """One RPC; a provider exception becomes :class:`ProviderError` with the engine's details."""
        try:
            return getattr(self.stub, method)(request)
        except grpc.RpcError as exc:
            raise ProviderError(method, exc.details() or str(exc)) from None


@dataclass
class ResourceState:
    """What the engine keeps for one resource between commands."""

    type: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class Step:
    """What one command did to one resource: create, same, update, replace, delete, or refresh-deleted."""

    op: str
    state: ResourceState | None
    replaces: list[str] = field(default_factory=list)


def resource_type(resource_class: type) -> str:
    """The type token the engine sees for a dynamic resource class (``pulumi-python:dynamic/m:N``)."""
    return "pulumi-python:" + str(resource_class._resource_type_name)  # type: ignore[attr-defined]


def provider_for(resource_class: type) -> Any:
    """The provider instance a resource class serialises (``<Class>Provider`` in its module)."""
    module = sys.modules[resource_class.__module__]
    return getattr(module, resource_class.__name__ + "Provider")()


class EngineReplay:
    """Replays the engine's calls for resources of one stack against a :class:`DynamicPlugin`."""

    def __init__(self, plugin: DynamicPlugin, stack: str = "dev") -> None:
        self.plugin = plugin
        self.stack = stack
        self.state: dict[str, ResourceState] = {}

    def urn(self, name: str, typ: str) -> str:
        """The resource's URN."""
        return f"urn:pulumi:{self.stack}::{self.plugin.project}::{typ}::{name}"

    def _news(self, resource_class: type, inputs: dict[str, Any]) -> dict[str, Any]:
        return {**_clean(inputs), "__provider": serialize_provider(provider_for(resource_class))}

    def _check(self, name: str, typ: str, olds: dict[str, Any], news: dict[str, Any]) -> Any:
        response = self.plugin.call(
            "Check",
            provider_pb2.CheckRequest(
                urn=self.urn(name, typ), name=name, type=typ, olds=to_struct(olds), news=to_struct(news)
            ),
        )
        if response.failures:
            raise CheckFailed([(f.property, f.reason) for f in response.failures])
        return response.inputs

    def _diff(self, name: str, old: ResourceState, checked: Any) -> Any:
        return self.plugin.call(
            "Diff",
            provider_pb2.DiffRequest(
                id=old.id,
                urn=self.urn(name, old.type),
                type=old.type,
                olds=to_struct(old.outputs),
                old_inputs=to_struct(old.inputs),
                news=checked,
            ),
        )

    def _create(self, name: str, typ: str, checked: Any) -> ResourceState:
        response = self.plugin.call(
            "Create", provider_pb2.CreateRequest(urn=self.urn(name, typ), name=name, type=typ, properties=checked)
        )
        return ResourceState(typ, response.id, from_struct(checked), from_struct(response.properties))

    def plan(self, name: str, resource_class: type, inputs: dict[str, Any]) -> Step:
        """``pulumi preview`` of one resource: Check and Diff only; nothing is created or changed."""
        typ = resource_type(resource_class)
        old = self.state.get(name)
        checked = self._check(name, typ, old.inputs if old else {}, self._news(resource_class, inputs))
        if old is None:
            return Step("create", None)
        diff = self._diff(name, old, checked)
        if diff.changes == provider_pb2.DiffResponse.DIFF_NONE:
            return Step("same", old)
        if diff.replaces:
            return Step("replace", old, list(diff.replaces))
        return Step("update", old)

    def up(self, name: str, resource_class: type, inputs: dict[str, Any]) -> Step:
        """``pulumi up`` of one resource: Check, then Create, or Diff and then nothing, Update or replace."""
        typ = resource_type(resource_class)
        old = self.state.get(name)
        checked = self._check(name, typ, old.inputs if old else {}, self._news(resource_class, inputs))
        if old is None:
            self.state[name] = self._create(name, typ, checked)
            return Step("create", self.state[name])
        diff = self._diff(name, old, checked)
        if diff.changes == provider_pb2.DiffResponse.DIFF_NONE:
            old.inputs = from_struct(checked)  # a same step records the new inputs and keeps the old outputs
            return Step("same", old)
        if diff.replaces:
            if diff.deleteBeforeReplace:
                self._delete(name, old)
                del self.state[name]
                new = self._create(name, typ, checked)
            else:
                new = self._create(name, typ, checked)  # create-before-delete, the engine's default
                self._delete(name, old)
            self.state[name] = new
            return Step("replace", new, list(diff.replaces))
        response = self.plugin.call(
            "Update",
            provider_pb2.UpdateRequest(
                id=old.id,
                urn=self.urn(name, typ),
                type=typ,
                olds=to_struct(old.outputs),
                old_inputs=to_struct(old.inputs),
                news=checked,
            ),
        )
        self.state[name] = ResourceState(typ, old.id, from_struct(checked), from_struct(response.properties))
        return Step("update", self.state[name])

    def refresh(self, name: str) -> Step:
        """``pulumi refresh`` of one resource: Read; an empty id drops it from the state."""
        old = self.state[name]
        response = self.plugin.call(
            "Read",
            provider_pb2.ReadRequest(
                id=old.id,
                urn=self.urn(name, old.type),
                type=old.type,
                properties=to_struct(old.outputs),
                inputs=to_struct(old.inputs),
            ),
        )
        if not response.id:
            del self.state[name]
            return Step("refresh-deleted", None)
        old.outputs = from_struct(response.properties)
        return Step("refresh", old)

    def _delete(self, name: str, old: ResourceState) -> None:
        self.plugin.call(
            "Delete",
            provider_pb2.DeleteRequest(
                id=old.id,
                urn=self.urn(name, old.type),
                type=old.type,
                properties=to_struct(old.outputs),
                old_inputs=to_struct(old.inputs),
            ),
        )

    def destroy(self, name: str) -> Step:
        """``pulumi destroy`` of one resource."""
        old = self.state[name]
        self._delete(name, old)  # a delete that fails or is interrupted leaves the resource in the state
        del self.state[name]
        return Step("delete", None)
