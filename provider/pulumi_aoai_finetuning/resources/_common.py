"""What every provider shares: input hygiene, unknowns, diff rules, waiting with capped backoff, clients."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, ConfigureRequest, DiffResult, ResourceProvider

from .. import config, plugin_threads
from ..client import (
    ACCOUNT_ID_RE,
    ArmClient,
    DataPlaneClient,
    RetryPolicy,
    ServerError,
    ThrottledError,
    TransportError,
    WaitTimeoutError,
)

PROVIDER_KEY = "__provider"


def is_unknown(value: Any) -> bool:
    """True for a value not known yet (a preview of an output that does not exist yet)."""
    if isinstance(value, pulumi.output.Unknown):
        return True
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


def plain(value: Any) -> Any:
    """Protobuf turns every number into a float: give integral floats back their int type, recursively."""
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return int(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def user_inputs(props: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The declared inputs present in ``props`` (no ``__provider``, no ``None``), numbers normalised."""
    return {k: plain(props[k]) for k in names if k in props and props[k] is not None}


class Failures:
    """Collects :class:`CheckFailure` s, each naming the property, the rule and the fix."""

    def __init__(self) -> None:
        self.items: list[CheckFailure] = []

    def add(self, prop: str, reason: str) -> None:
        """Record one failure."""
        self.items.append(CheckFailure(prop, reason))

    def __bool__(self) -> bool:
        return bool(self.items)


def check_number(
    failures: Failures, props: Mapping[str, Any], name: str, *, low: float, high: float, integer: bool = False
) -> None:
    """A numeric input within bounds (unknowns pass)."""
    value = props.get(name)
    if value is None or is_unknown(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        failures.add(name, f"{name} must be a number, not {value!r}")
        return
    if integer and not float(value).is_integer():
        failures.add(name, f"{name} must be a whole number, not {value}")
    elif not low <= value <= high:
        failures.add(name, f"{name} must be between {low:g} and {high:g}, not {value:g}")


def check_endpoint(failures: Failures, props: Mapping[str, Any], name: str = "endpoint") -> None:
    """An account endpoint: an http(s) URL (unknowns pass)."""
    value = props.get(name)
    if value is None:
        failures.add(
            name,
            f"{name} is required: the account's endpoint, e.g. account.properties.endpoint "
            "(https://<account>.openai.azure.com/)",
        )
    elif not is_unknown(value) and (not isinstance(value, str) or not value.startswith(("https://", "http://"))):
        failures.add(name, f"{name} must be an https:// URL such as https://<account>.openai.azure.com/, not {value!r}")


def diff(
    olds: Mapping[str, Any], news: Mapping[str, Any], *, replace: Iterable[str], update: Iterable[str]
) -> DiffResult:
    """Compare our keys only (never ``__provider``); unknown counts as changed; list the exact replaces."""
    replaces: list[str] = []
    changed = False
    for key in replace:
        if _differs(olds.get(key), news.get(key)):
            replaces.append(key)
    for key in update:
        if _differs(olds.get(key), news.get(key)):
            changed = True
    return DiffResult(changes=bool(replaces) or changed, replaces=replaces, delete_before_replace=False)


def _differs(old: Any, new: Any) -> bool:
    if is_unknown(new):
        return True
    return bool(plain(old) != plain(new))


class Provider(ResourceProvider):
    """Base of our providers: stateless (nothing pickled but the class reference), configured per process."""

    def configure(self, req: ConfigureRequest) -> None:
        """Remember the stack config for this process: credentials are read from it per call."""
        config.set_stack_config(req.config.get)
        plugin_threads.widen(req.config.get)  # waiting creates must not hold all of the server's threads


def data_client(endpoint: str, settings: config.Settings) -> DataPlaneClient:
    """A data-plane client for one account, built per call (providers hold no clients)."""
    return DataPlaneClient(
        endpoint,
        settings.data_plane_auth(endpoint),
        api_version=settings.api_version,
        policy=RetryPolicy(max_attempts=settings.max_retries),
    )


def poll_until(
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    *,
    timeout_s: float,
    settings: config.Settings,
    describe: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
    """Poll with a growing, capped interval until ``done``; raise :class:`WaitTimeoutError` past the timeout.

    The interval starts at ``pollIntervalSeconds`` and grows 1.5x per poll up to ``pollMaxSeconds``: a one-hour
    job costs tens of calls instead of 720 at a fixed 5 s, and completion is noticed within the cap.
    """
    deadline = time.monotonic() + timeout_s
    interval = settings.poll_interval
    while True:
        state = fetch()
        if done(state):
            return state
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeoutError(describe(state))
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5 if interval > 0 else 0.0, settings.poll_max)


def adopt_or_create(
    find: Callable[[], dict[str, Any] | None], create: Callable[[], dict[str, Any]], *, attempts: int
) -> dict[str, Any]:
    """The object an earlier run already made (``find``), else a new one (``create``); never two.

    A create that gets no answer (a 5xx, a reset, throttling) may still have happened on the service, so it
    is not simply sent again: the next attempt looks for the object first. This is how an interrupted or
    unanswered upload or job submission is adopted instead of paid for twice.
    """
    policy = RetryPolicy(max_attempts=attempts)
    for attempt in range(1, attempts + 1):
        found = find()
        if found is not None:
            return found
        try:
            return create()
        except (ServerError, TransportError, ThrottledError):
            if attempt == attempts:
                raise
            time.sleep(policy.backoff(attempt))
    raise AssertionError("unreachable")


def arm_client(settings: config.Settings) -> ArmClient:
    """An ARM client for the configured endpoint and credentials, built per call."""
    return ArmClient(
        settings.arm_endpoint,
        settings.arm_auth(),
        policy=RetryPolicy(max_attempts=settings.max_retries),
        poll_interval=settings.poll_interval,
        poll_max=settings.poll_max,
    )


def check_account_id(failures: Failures, props: Mapping[str, Any], name: str, *, required: bool = True) -> None:
    """An account's ARM id (``/subscriptions/.../accounts/<name>``); unknowns pass."""
    value = props.get(name)
    if value is None:
        if required:
            failures.add(name, f"{name} is required: the account's ARM id, e.g. account.id")
        return
    if not is_unknown(value) and (not isinstance(value, str) or not ACCOUNT_ID_RE.match(value)):
        failures.add(
            name,
            f"{name} must be an account's ARM id "
            f"(/subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.CognitiveServices/accounts/<a>), "
            f"not {value!r}",
        )


def resource_props(
    kind: str, args: Any, kwargs: Mapping[str, Any], inputs: Iterable[str], outputs: Iterable[str]
) -> dict[str, Any]:
    """The props a resource registers: its inputs (from an Args object and/or keywords) and its outputs seeded.

    Outputs must be present (as ``None``) to exist on the resource at all (pulumi/pulumi#6678).
    """
    names = list(inputs)
    values = dict(vars(args)) if args is not None else {}
    unknown = set(kwargs) - set(names)
    if unknown:
        raise TypeError(f"{kind} got unknown argument(s) {sorted(unknown)}; known: {names}")
    values.update(kwargs)
    props = {name: values.get(name) for name in names}
    props.update(dict.fromkeys(outputs))
    return props
