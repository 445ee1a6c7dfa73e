"""Dynamic resources, driven through one real plugin per command as the engine drives them.

The plugin is configured once, as the engine configures a provider; when the harness stands in for
Entra ID and lists an account's key (see ``docs/harness.md``, data-plane credentials), a fresh plugin is
started with it once the calls in flight on the old one are done.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..client.names import normalize_endpoint
from . import azure_native_types as extra_types
from . import provider_calls
from .changes import _changed, _Diff
from .context import _API_KEYS
from .plugin import DynamicPlugin
from .results import HarnessError
from .state import _Res

if TYPE_CHECKING:
    from .context import _Context

DYNAMIC_PREFIX = "pulumi-python:dynamic"


class _Dynamic:
    """Dynamic resources through one real plugin per command, started when first needed."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.find_account: Callable[[str], _Res | None] = lambda _endpoint: None  # set by the deployment
        self.plugin: DynamicPlugin | None = None
        self.plugin_keys: dict[str, str] = {}
        self.diagnostics: list[str] = []
        self._gate = threading.Condition()  # guards the plugin, its keys and the count of calls in flight
        self._in_flight = 0
        self._learning = threading.Lock()
        self._closed = False  # the command is over: a straggling step must not start a plugin nobody stops

    def close(self) -> None:
        with self._gate:
            self._closed = True
            self._stop()

    def _stop(self) -> None:
        if self.plugin is not None:
            self.diagnostics.append(self.plugin.stderr())
            self.plugin.close()
            self.plugin = None

    def _learn_key(self, endpoint: Any) -> None:
        """Before a call that reaches an account's data plane: list its key if the stack made the account."""
        if not isinstance(endpoint, str) or not self.ctx.fetch_keys:
            return
        key = normalize_endpoint(endpoint)
        with self._learning:  # one listKeys per account, however many steps need it at once
            if key in self.ctx.known_keys() or key in self.ctx.configured_keys:
                return
            account = self.find_account(key)
            if account is not None and not extra_types.local_auth_disabled(account.outputs):
                self.ctx.remember_key(key, self.ctx.arm.list_keys(account.id)["key1"])

    def _call(self, method: str, request: Any, endpoint: Any = None) -> Any:
        """One RPC to the plugin, which is (re)started with every key learnt so far.

        The engine configures a provider once, so a key learnt later needs a fresh plugin; it is started
        once the calls in flight on the old one are done (stopping it would kill them).
        """
        self._learn_key(endpoint)
        with self._gate:
            while True:
                if self._closed:
                    raise HarnessError("the command has ended: no provider call is made after it")
                keys = self.ctx.known_keys()
                if self.plugin is not None and self.plugin_keys == keys:
                    break
                if self._in_flight == 0:
                    self._stop()
                    self._start(keys)
                    break
                self._gate.wait()
            self._in_flight += 1
            plugin = self.plugin
        assert plugin is not None
        try:
            return plugin.call(method, request)
        finally:
            with self._gate:
                self._in_flight -= 1
                self._gate.notify_all()

    def _start(self, keys: dict[str, str]) -> None:
        plugin_config = dict(self.ctx.config)
        secret = set(self.ctx.secret_keys)
        if keys:
            plugin_config[_API_KEYS] = json.dumps({**self.ctx.configured_keys, **keys})
            secret.add(_API_KEYS)
        self.plugin = DynamicPlugin(
            plugin_config,
            secrets=secret,
            project=self.ctx.project.name,
            cwd=self.ctx.project.directory,
            env=self.ctx.entra.plugin_env() if self.ctx.entra else None,
        )
        self.plugin_keys = keys

    def _send(self, endpoint: Any = None) -> provider_calls.Send:
        """How the provider calls reach the plugin: through :meth:`_call`, learning ``endpoint``'s key first."""
        return functools.partial(self._call, endpoint=endpoint)

    def check(self, res: _Res, olds: Mapping[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        return provider_calls.check(self._send(), _target(res), olds, news)

    def diff(self, old: _Res, checked: Mapping[str, Any]) -> _Diff:
        olds = old.unsealed(old.outputs, checked)
        old_inputs = old.unsealed(old.inputs, checked)
        response = provider_calls.diff(self._send(), _target(old), olds, old_inputs, checked)
        replaces = response.replaces
        if response.changes == "none":
            return _Diff("same", [], False)
        changed: list[str] = []
        if response.changes == "unknown":
            changed = _changed(old_inputs, checked)  # the engine's fallback: old inputs against new, __provider too
            if not replaces and not changed:
                return _Diff("same", [], False)
        # With DIFF_SOME the Python server sends no changed keys: the engine then knows none.
        op = "replace" if replaces else "update"
        return _Diff(op, replaces, response.delete_before_replace, tuple(changed))

    def put(self, res: _Res, checked: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        send = self._send(checked.get("endpoint"))
        return provider_calls.create(send, _target(res), checked, timeout=res.custom_timeouts.get("create", 0))

    def update(self, old: _Res, checked: Mapping[str, Any], timeout: float = 0) -> dict[str, Any]:
        olds = old.unsealed(old.outputs, checked)
        old_inputs = old.unsealed(old.inputs, checked)
        send = self._send(checked.get("endpoint"))
        return provider_calls.update(send, _target(old), olds, old_inputs, checked, timeout=timeout)

    def read(self, old: _Res) -> tuple[str | None, dict[str, Any], dict[str, Any] | None]:
        send = self._send(old.outputs.get("endpoint", old.inputs.get("endpoint")))
        return provider_calls.read(send, _target(old), old.outputs, old.inputs)

    def delete(self, old: _Res) -> None:
        send = self._send(old.outputs.get("endpoint", old.inputs.get("endpoint")))
        timeout = old.custom_timeouts.get("delete", 0)
        provider_calls.delete(send, _target(old), old.outputs, old.inputs, timeout=timeout)


def _target(res: _Res) -> provider_calls.Target:
    return provider_calls.Target(res.urn, res.type, res.id)
