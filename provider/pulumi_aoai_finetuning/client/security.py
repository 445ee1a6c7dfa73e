"""Where a credential may be sent: https anywhere, plain http only to this machine (the emulator, a proxy)."""

from __future__ import annotations

import ipaddress
import urllib.parse

from .errors import InsecureEndpointError

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1: traffic that never leaves the machine."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def insecure_reason(url: str) -> str | None:
    """Why ``url`` must not receive a key or token (not https, or plain http off this machine), else None."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https" and parsed.hostname:
        return None
    if parsed.scheme == "http" and parsed.hostname:
        if is_loopback(parsed.hostname):
            return None
        return (
            f"plain http to {parsed.hostname} would send the key in cleartext; use https:// "
            "(http:// is accepted only for localhost, 127.0.0.0/8 and ::1, such as the emulator)"
        )
    return "it must be an https:// URL such as https://<account>.openai.azure.com/"


def require_secure(url: str, what: str = "endpoint") -> None:
    """Raise :class:`InsecureEndpointError` before any request to a URL that would expose credentials."""
    reason = insecure_reason(url)
    if reason is not None:
        raise InsecureEndpointError(f"{what} {url!r} refused: {reason}")
