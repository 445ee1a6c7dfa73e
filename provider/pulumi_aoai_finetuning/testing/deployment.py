"""One command's run over the stack's state: the step for each resource, in the engine's order and wording.

``up`` and ``preview`` decide each registered resource's step (create, same, update, replace) from Check and
Diff, with the resource options applied; what the program no longer declares is deleted at the end, each
resource once its dependents are gone. Every mutating provider call is journalled as a pending operation
first, and the state file is rewritten as the steps complete. ``refresh`` and ``destroy`` run no program.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pulumi.runtime import rpc

from ..client.names import normalize_endpoint
from . import azure_native_types as extra_types
from .azure_native import ACCOUNT, RESOURCE_GROUP, _AzureNative, invoke_function
from .changes import _property_changes
from .context import _Context
from .dynamic import DYNAMIC_PREFIX, _Dynamic
from .journal import CREATING, DELETING, UPDATING, Journal
from .options import (
    OptionError,
    apply_ignore_changes,
    delete_protected_message,
    replace_protected_message,
    replacing_keys,
)
from .provider_calls import CheckFailed, ProviderError
from .results import HarnessError, ProgramStep, PropertyChange
from .scheduler import Slots, run_graph
from .stables import preview_update_outputs, update_stables
from .stack_reference import read_stack_reference
from .state import _Res, _reveal, _State

if TYPE_CHECKING:
    from .monitor import _Registration


def _dependents(resources: list[_Res]) -> Callable[[int], set[int]]:
    """For deletion: the indexes of the resources that depend on (or are children of) resource ``i``."""

    def of(index: int) -> set[int]:
        urn = resources[index].urn
        return {
            j for j, other in enumerate(resources) if j != index and (urn in other.dependencies or other.parent == urn)
        }

    return of


class _Deployment:
    """One command's run over the stack's state: the steps, the new state, the providers."""

    def __init__(self, ctx: _Context, state: _State, command: str, dynamic: _Dynamic) -> None:
        self.ctx = ctx
        self.command = command
        self.preview = command == "preview"
        self.state = state
        self.old: dict[str, _Res] = {r.urn: r for r in state.resources if not r.pending_delete}
        self.old_index = {id(r): i for i, r in enumerate(state.resources)}
        self.pending = [r for r in state.resources if r.pending_delete]
        self.new: dict[str, _Res] = {}
        self.condemned: list[_Res] = []  # old halves of replacements, deleted at the end
        self.steps: list[ProgramStep] = []
        self.drift: list[str] = []
        self.warnings: list[str] = []
        # Steps run in parallel: the lock guards the records above, never a provider call.
        self.lock = threading.Lock()
        self.started: set[str] = set()
        self.slots = Slots(ctx.parallel)
        self.error: HarnessError | None = None
        self.azure = _AzureNative(ctx)
        self.dynamic = dynamic
        dynamic.find_account = self.find_account
        # The engine journals every provider call that changes something; a preview changes nothing.
        self.journal = Journal(state.pending_operations, None if self.preview else self.save)
        self._save_lock = threading.Lock()
        self._asked = self._written = 0  # save generations: concurrent journal entries share one write
        self._asked_lock = threading.Lock()

    def save(self) -> None:
        """Write the state as it is at this moment of the run (the engine's snapshot after each journal entry).

        Calls that arrive while a write is running are served by the next write, which snapshots after all of
        them: every change made before a call returns is on disk, with one write per batch instead of per call
        (a whole-state write per provider call made a 200-resource first ``up`` quadratic).
        """
        with self._asked_lock:
            self._asked += 1
            asked = self._asked
        with self._save_lock:
            if self._written >= asked:
                return
            with self._asked_lock:
                upto = self._asked
            self._save_snapshot()
            self._written = upto

    def _save_snapshot(self) -> None:
        with self.lock:
            resources = self.new_state() if self.command == "up" else list(self.state.resources)
        snapshot = _State(
            self.state.project,
            self.state.stack,
            resources,
            self.state.outputs,
            self.state.secret_outputs,
            self.journal.operations(),
            self.state.crypter,
        )
        snapshot.save(self.ctx.state_file)

    def find_account(self, endpoint: str) -> _Res | None:
        """The stack's account with this data-plane endpoint (new state first)."""
        with self.lock:
            candidates = [*self.new.values(), *self.old.values()]
        for res in candidates:
            props = res.outputs.get("properties")
            if (
                res.type == ACCOUNT
                and res.id
                and isinstance(props, dict)
                and isinstance(props.get("endpoint"), str)
                and normalize_endpoint(props["endpoint"]) == endpoint
            ):
                return res
        return None

    def _step(
        self,
        urn: str,
        op: str,
        res: _Res | None = None,
        changed: tuple[PropertyChange, ...] = (),
        replaces: tuple[str, ...] = (),
    ) -> None:
        """Record a step as done (and ``res`` in the new state); one at a time, so printed lines stay whole."""
        with self.lock:
            if res is not None:
                self.new[urn] = res
            step = ProgramStep(urn, op, self.preview, changed, replaces)
            self.steps.append(step)
            if self.ctx.on_step is not None:
                self.ctx.on_step(step)
        if not self.preview and op not in ("same", "refresh"):
            self.save()

    def _provider(self, res_type: str) -> _AzureNative | _Dynamic:
        if res_type.startswith(DYNAMIC_PREFIX):
            return self.dynamic
        if res_type in (RESOURCE_GROUP, ACCOUNT) or res_type in extra_types.SERVED:
            return self.azure
        raise HarnessError(
            f"resource type {res_type} is not modelled by this harness: it runs dynamic resources "
            f"({DYNAMIC_PREFIX}/...), {RESOURCE_GROUP} and {ACCOUNT} (against the ARM emulator)"
        )

    # --- up and preview: the program registers resources ----------------------------------------------------

    def register(self, reg: _Registration) -> tuple[str, dict[str, Any]]:
        """Decide and carry out the step for one resource; returns its id and outputs (secrets re-marked)."""
        with self.lock:
            if self.error is not None:  # the engine starts no new step after a failure
                raise HarnessError(f"{reg.urn}: not started, because an earlier step failed")
            duplicate = reg.urn in self.started
            self.started.add(reg.urn)
        try:
            if duplicate:
                raise HarnessError(f"duplicate resource URN {reg.urn}: two resources have the same type and name")
            # Its dependencies' steps are done: the program registers a resource once their outputs resolve.
            with self.slots:
                res, outputs = self._register(reg)
        except Exception as exc:
            failure = _failure(reg.urn, exc)
            with self.lock:
                self.error = self.error or failure
            raise failure from None
        marked = {k: rpc.wrap_rpc_secret(v) if k in res.secret_keys else v for k, v in outputs.items()}
        return res.id, marked

    def _old(self, reg: _Registration) -> _Res | None:
        """The resource's old state: under its URN, or under one of its aliases (then it is renamed, not replaced)."""
        with self.lock:
            if reg.urn in self.old:
                return self.old[reg.urn]
            for alias in reg.aliases:
                if alias in self.old and alias not in self.started:
                    self.started.add(alias)  # no other resource takes it over, and it is not deleted at the end
                    return self.old.pop(alias)
        return None

    def _register(self, reg: _Registration) -> tuple[_Res, dict[str, Any]]:
        old = self._old(reg)
        revealed = {k: _reveal(v) for k, v in reg.inputs.items()}
        inputs = {k: v for k, (v, _) in revealed.items()}
        # The engine re-marks outputs named like a secret input, plus additional_secret_outputs.
        secret_keys = sorted({k for k, (_, s) in revealed.items() if s} | set(reg.additional_secret_outputs))
        res = _Res(
            reg.urn,
            reg.type,
            reg.custom,
            parent=reg.parent,
            dependencies=reg.dependencies,
            secret_keys=secret_keys,
            protect=reg.protect,
            retain_on_delete=reg.retain_on_delete,
            delete_before_replace=reg.delete_before_replace,
            custom_timeouts=reg.custom_timeouts,
            additional_secret_outputs=reg.additional_secret_outputs,
        )
        if not reg.custom:  # a component: recorded, never sent to a provider
            self._step(reg.urn, "same" if old is not None else "create", res)
            return res, {}
        provider = self._provider(reg.type)
        news = {k: v for k, v in inputs.items() if v is not None}
        if old is not None and reg.ignore_changes:  # applied before Check, as the engine does
            try:
                news = apply_ignore_changes(old.inputs, news, reg.ignore_changes)
            except OptionError as exc:
                raise HarnessError(f"{reg.urn}: ignore_changes: {exc}") from None
        olds = old.unsealed(old.inputs, news) if old is not None else {}
        checked = provider.check(res, olds, news)
        if isinstance(provider, _Dynamic):
            self.ctx.guard(reg.urn, checked)
        res.inputs = checked
        if old is None:
            return self._create(res, provider, "create")
        decision = provider.diff(old, checked)
        if decision.op == "update" and reg.replace_on_changes:
            forced = replacing_keys(decision.changed_keys, reg.replace_on_changes)
            if forced:
                decision = decision._replace(op="replace", replaces=forced)
        if decision.op == "replace" and reg.protect and old.protect:
            raise HarnessError(replace_protected_message(reg.urn))
        changed = _property_changes(old.unsealed(old.inputs, checked), checked, {*res.secret_keys, *old.secret_keys})
        if decision.op == "same":
            # A same step records the new inputs and keeps the old id and outputs.
            res.id, res.outputs = old.id, old.unsealed(old.outputs, checked)
            res.secret_keys = sorted(set(res.secret_keys) | set(old.secret_keys))
            self._step(reg.urn, "same", res)
            return res, res.outputs
        if decision.op == "update":
            res.id = old.id
            if self.preview:
                res.outputs = self._preview_outputs(provider, res, old)
            else:
                with self.journal.pending(UPDATING, old.to_json()):
                    if isinstance(provider, _Dynamic):
                        res.outputs = provider.update(old, checked, res.custom_timeouts.get("update", 0))
                    else:
                        res.outputs = provider.put(res, checked, create=False)[1]
            self._step(reg.urn, "update", res, changed)
            return res, res.outputs
        # A replacement is a new resource: Check again without olds, so that auto-names are chosen afresh.
        res.inputs = provider.check(res, {}, news)
        if reg.delete_before_replace or decision.delete_before_replace:
            if not self.preview:
                self._delete(old)
            with self.lock:
                self.old.pop(reg.urn, None)
        else:
            with self.lock:
                self.condemned.append(old)
        return self._create(res, provider, "replace", changed, tuple(decision.replaces))

    def _create(
        self,
        res: _Res,
        provider: _AzureNative | _Dynamic,
        op: str,
        changed: tuple[PropertyChange, ...] = (),
        replaces: tuple[str, ...] = (),
    ) -> tuple[_Res, dict[str, Any]]:
        if self.preview:
            res.outputs = self._preview_outputs(provider, res, None)
        else:
            with self.journal.pending(CREATING, res.to_json()):
                res.id, res.outputs = provider.put(res, res.inputs)
        self._step(res.urn, op, res, changed, replaces)
        return res, res.outputs

    def _preview_outputs(self, provider: _AzureNative | _Dynamic, res: _Res, old: _Res | None) -> dict[str, Any]:
        if isinstance(provider, _AzureNative):
            return provider.preview(res.type, res.inputs, old)
        # The dynamic server does not support preview: the engine takes the checked inputs as the state, and
        # every other output is unknown until the real Create/Update runs.
        if old is None:
            return dict(res.inputs)
        # An update keeps the outputs its provider declares stable (DiffResult.stables), so what depends only on
        # them is not shown replaced; unlike the CLI, which ignores them (see the stables module for the source).
        olds = old.unsealed(old.outputs, res.inputs)
        stables = update_stables(old.id, olds, res.inputs)
        res.secret_keys = sorted(set(res.secret_keys) | (set(old.secret_keys) & stables))
        return preview_update_outputs(res.inputs, olds, stables)

    def _delete(self, res: _Res) -> None:
        if res.protect:
            raise HarnessError(delete_protected_message(res.urn))
        if res.retain_on_delete or not res.custom:
            return
        try:
            provider = self._provider(res.type)
            if isinstance(provider, _Dynamic):
                self.ctx.guard(res.urn, res.inputs, res.outputs)
            with self.journal.pending(DELETING, res.to_json()):
                provider.delete(res)
        except Exception as exc:
            raise _failure(res.urn, exc) from None

    def finish_up(self) -> None:
        """After the program: delete what it no longer declares and the old halves of replacements."""
        gone = [r for urn, r in self.old.items() if urn not in self.new]
        doomed = sorted([*gone, *self.condemned, *self.pending], key=lambda r: self.old_index.get(id(r), -1))
        replaced = {id(r) for r in [*self.condemned, *self.pending]}

        def delete(res: _Res) -> None:
            if not self.preview:
                self._delete(res)
                with self.lock:
                    self.condemned = [r for r in self.condemned if r is not res]
                    self.pending = [r for r in self.pending if r is not res]
                    if id(res) not in replaced:
                        self.old.pop(res.urn, None)
            # The CLI's name for removing the old half of a replacement.
            self._step(res.urn, "delete-replaced" if id(res) in replaced else "delete")

        doomed.reverse()  # dependents were recorded after what they depend on: they start first
        run_graph(doomed, _dependents(doomed), delete, 1 if self.preview else self.ctx.parallel)

    def new_state(self) -> list[_Res]:
        """The resources after an ``up`` (complete or not): registered ones, untouched old ones, pending deletes."""
        kept = [r for urn, r in self.old.items() if urn not in self.new]
        doomed = [*self.condemned, *self.pending]
        for res in doomed:
            res.pending_delete = True
        return [*self.new.values(), *kept, *doomed]

    # --- refresh and destroy: no program ---------------------------------------------------------------

    def refresh(self) -> None:
        """Read every resource: drop the ones that are gone, take the fresh outputs of the others.

        First the pending creates: imported (``--import-pending-creates URN ID``: read by that id into the
        state), cleared (``--clear-pending-creates``), or else kept, as the CLI does without a terminal.
        """
        chosen, unused = self.journal.resolve_creates(
            clear=self.ctx.clear_pending_creates, imports=self.ctx.import_pending_creates
        )
        for urn in unused:
            self.warnings.append(f'"{urn}" did not correspond to a pending create')
        imported = set()
        for record, res_id in chosen:
            # Read with the id and the inputs the pending create recorded (they hold the dynamic __provider).
            res = _Res.from_json({**record, "id": res_id, "outputs": {}})
            self.state.resources.append(res)
            imported.add(res.urn)
        for res in list(self.state.resources):
            if not res.custom or res.pending_delete:
                self._step(res.urn, "refresh")
                continue
            provider = self._provider(res.type)
            try:
                if isinstance(provider, _Dynamic):
                    self.ctx.guard(res.urn, res.inputs, res.outputs)
                    new_id, outputs, inputs = provider.read(res)
                else:
                    (new_id, outputs), inputs = provider.read(res), None
            except Exception as exc:
                raise _failure(res.urn, exc) from None
            if new_id is None:
                self.state.resources.remove(res)
                self._step(res.urn, "refresh-deleted")
                continue
            drift = _property_changes(res.unsealed(res.outputs, outputs), outputs, set(res.secret_keys))
            if drift:
                self.drift.append(res.urn)
            res.id, res.outputs = new_id, outputs
            if inputs is not None:
                res.inputs = inputs
            if res.urn in imported:
                self._step(res.urn, "import")
                continue
            self._step(res.urn, "refresh", changed=drift)

    def destroy(self) -> None:
        """Delete everything, each resource once its dependents are gone, in parallel."""

        def delete(res: _Res) -> None:
            self._delete(res)
            with self.lock:
                self.state.resources = [r for r in self.state.resources if r is not res]
            self._step(res.urn, "delete")

        doomed = list(reversed(self.state.resources))
        run_graph(doomed, _dependents(doomed), delete, self.ctx.parallel)

    # --- invokes and stack references ---------------------------------------------------------------------

    def invoke(self, token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """The provider functions a program may call."""
        return invoke_function(self.ctx, token, args)

    def stack_reference(self, name: str) -> dict[str, Any]:
        """Another harness stack's outputs, read from its state file."""
        return read_stack_reference(self.ctx, name)


def _failure(urn: str, exc: Exception) -> HarnessError:
    """The CLI's wording: which resource, which call, why."""
    if isinstance(exc, HarnessError) and str(exc).startswith(urn):
        return exc
    if isinstance(exc, CheckFailed):
        reasons = "\n".join(f"    {p}: {r}" for p, r in exc.failures)
        return HarnessError(f"{urn}: the inputs failed Check:\n{reasons}")
    if isinstance(exc, ProviderError):
        return HarnessError(f"{urn}: {exc.method} failed:\n{exc.details.strip()}")
    if isinstance(exc, HarnessError):
        return HarnessError(f"{urn}: {exc}")
    return HarnessError(f"{urn}: {type(exc).__name__}: {exc}")
