"""One connection pool per (origin, TLS settings) per process, shared by every call and thread, closed at exit.

A new ``httpx2.Client(verify=True)`` builds an SSL context (about 20 ms) and opens new connections; a plugin
process that serves hundreds of provider calls reuses one pool per account instead. Pools hold no
credentials: every request still reads them (:mod:`.auth`), so a rotated key takes effect on the next call.
"""

from __future__ import annotations

import atexit
import threading
import urllib.parse
from typing import Any

import httpx2

from .http import new_client

_lock = threading.Lock()
_clients: dict[tuple[str, Any, float], httpx2.Client] = {}
_created = 0


def _tls_key(verify: Any) -> Any:
    # True/False and a CA bundle path compare by value; an SSLContext by identity (it is not comparable).
    return verify if isinstance(verify, bool | str) else ("context", id(verify))


def shared_client(url: str, *, verify: Any = True, timeout: float = 120.0) -> httpx2.Client:
    """The process's client for ``url``'s origin with these TLS settings, made on first use."""
    global _created  # noqa: PLW0603 - the pool is process-wide by design
    parts = urllib.parse.urlsplit(url)
    key = (f"{parts.scheme}://{parts.netloc}".lower(), _tls_key(verify), timeout)
    with _lock:
        client = _clients.get(key)
        if client is None or client.is_closed:
            client = new_client(timeout=timeout, verify=verify)
            _clients[key] = client
            _created += 1
        return client


def clients_created() -> int:
    """How many pools this process has made (a second call to one account makes none)."""
    with _lock:
        return _created


def close_all() -> None:
    """Close every pool (registered with :mod:`atexit`; later calls make new ones)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


atexit.register(close_all)
