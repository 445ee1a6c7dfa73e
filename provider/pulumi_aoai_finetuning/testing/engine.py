"""Replay the Pulumi engine's calls for resources of one stack against the SDK's real dynamic-provider server.

:class:`DynamicPlugin` starts the same server the CLI starts for ``pulumi-python`` resources and configures
it with stack config; :class:`EngineReplay` replays the engine's calls for ``up``, ``preview``, ``refresh``
and ``destroy`` of resources, keeping their state (id, inputs, outputs) between commands, as the CLI's
state file would. Nothing is mocked: providers are unpickled from ``__provider`` and run in the plugin.
The requests themselves are made by :mod:`~pulumi_aoai_finetuning.testing.provider_calls`, as the program
harness makes them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from . import provider_calls
from .plugin import DynamicPlugin
from .provider_calls import UNKNOWN, CheckFailed, ProviderError, from_struct, to_struct
from .pulumi_internals import serialize_provider

__all__ = [
    "UNKNOWN",
    "CheckFailed",
    "DynamicPlugin",
    "EngineReplay",
    "ProviderError",
    "ResourceState",
    "Step",
    "from_struct",
    "provider_for",
    "resource_type",
    "to_struct",
]


def _clean(props: dict[str, Any]) -> dict[str, Any]:
    """What a program's props become on the wire: ``None`` values are not sent."""
    return {k: v for k, v in props.items() if v is not None}


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

    def _target(self, name: str, old: ResourceState) -> provider_calls.Target:
        return provider_calls.Target(self.urn(name, old.type), old.type, old.id)

    def _news(self, resource_class: type, inputs: dict[str, Any]) -> dict[str, Any]:
        return {**_clean(inputs), "__provider": serialize_provider(provider_for(resource_class))}

    def _check(self, name: str, typ: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        return provider_calls.check(self.plugin.call, provider_calls.Target(self.urn(name, typ), typ), olds, news)

    def _diff(self, name: str, old: ResourceState, checked: dict[str, Any]) -> provider_calls.Diff:
        return provider_calls.diff(self.plugin.call, self._target(name, old), old.outputs, old.inputs, checked)

    def _create(self, name: str, typ: str, checked: dict[str, Any]) -> ResourceState:
        id_, outputs = provider_calls.create(self.plugin.call, provider_calls.Target(self.urn(name, typ), typ), checked)
        return ResourceState(typ, id_, checked, outputs)

    def plan(self, name: str, resource_class: type, inputs: dict[str, Any]) -> Step:
        """``pulumi preview`` of one resource: Check and Diff only; nothing is created or changed."""
        typ = resource_type(resource_class)
        old = self.state.get(name)
        checked = self._check(name, typ, old.inputs if old else {}, self._news(resource_class, inputs))
        if old is None:
            return Step("create", None)
        diff = self._diff(name, old, checked)
        if diff.changes == "none":
            return Step("same", old)
        if diff.replaces:
            return Step("replace", old, diff.replaces)
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
        if diff.changes == "none":
            old.inputs = checked  # a same step records the new inputs and keeps the old outputs
            return Step("same", old)
        if diff.replaces:
            if diff.delete_before_replace:
                self._delete(name, old)
                del self.state[name]
                new = self._create(name, typ, checked)
            else:
                new = self._create(name, typ, checked)  # create-before-delete, the engine's default
                self._delete(name, old)
            self.state[name] = new
            return Step("replace", new, diff.replaces)
        outputs = provider_calls.update(self.plugin.call, self._target(name, old), old.outputs, old.inputs, checked)
        self.state[name] = ResourceState(typ, old.id, checked, outputs)
        return Step("update", self.state[name])

    def refresh(self, name: str) -> Step:
        """``pulumi refresh`` of one resource: Read; an empty id drops it from the state."""
        old = self.state[name]
        new_id, outputs, _ = provider_calls.read(self.plugin.call, self._target(name, old), old.outputs, old.inputs)
        if new_id is None:
            del self.state[name]
            return Step("refresh-deleted", None)
        old.outputs = outputs
        return Step("refresh", old)

    def _delete(self, name: str, old: ResourceState) -> None:
        provider_calls.delete(self.plugin.call, self._target(name, old), old.outputs, old.inputs)

    def destroy(self, name: str) -> Step:
        """``pulumi destroy`` of one resource."""
        old = self.state[name]
        self._delete(name, old)  # a delete that fails or is interrupted leaves the resource in the state
        del self.state[name]
        return Step("delete", None)
