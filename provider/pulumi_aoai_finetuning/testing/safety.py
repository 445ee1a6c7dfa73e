"""The program harness's guard: it calls loopback endpoints (the emulator) only, unless told to call Azure.

A user who runs a stack through the harness with ``az login`` active, and no ``azure-openai:armEndpoint``,
would otherwise create a real resource group, account and paid training job. So the harness refuses,
before any request, an ARM endpoint or a data-plane endpoint that is not on this machine, unless the run
was started with ``--allow-azure`` (``allow_azure=True``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

ARM_ENDPOINT_KEY = "azure-openai:armEndpoint"
ALLOW_FLAG = "--allow-azure (allow_azure=True)"
EMULATOR_FLAG = "--emulator (emulator=True)"


class NotLoopbackError(Exception):
    """An endpoint the harness would call is not on this machine, and calling Azure was not allowed."""


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine: ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback_arm(arm_endpoint: str, configured: bool) -> None:
    """Refuse an ARM endpoint off this machine; ``configured`` says whether the stack config set it."""
    if is_loopback(arm_endpoint):
        return
    where = f"is {arm_endpoint}" if configured else f"is not set, so providers would call Azure's ARM ({arm_endpoint})"
    raise NotLoopbackError(
        f"{ARM_ENDPOINT_KEY} {where}: this harness calls only endpoints on this machine unless told otherwise. "
        f"Run with {EMULATOR_FLAG} for a private emulator, set {ARM_ENDPOINT_KEY} to a local emulator's URL, "
        f"or pass {ALLOW_FLAG} to create real, billed Azure resources."
    )


def _urls(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _urls(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _urls(item, f"{path}[{index}]")
    elif isinstance(value, str) and "endpoint" in path.lower() and value.startswith(("http://", "https://")):
        yield path, value


def require_loopback_properties(urn: str, properties: Mapping[str, Any]) -> None:
    """Refuse a resource whose ``*endpoint*`` properties (nested ones too) name a host off this machine."""
    for path, url in _urls(properties, ""):
        if not is_loopback(url):
            raise NotLoopbackError(
                f"{urn}: property {path} is {url}, which is not on this machine: this harness calls only local "
                f"endpoints (the emulator) unless told otherwise. Point it at the emulator, run with "
                f"{EMULATOR_FLAG}, or pass {ALLOW_FLAG} to call Azure for real."
            )
