"""Clients' JSON views of stored files, serialized once and reused until the file changes.

A list of a thousand files would otherwise copy and serialize every record on every request. A file's
public fields change only when it settles (``status``, then ``status_details``), so a cached view stays
valid while the record is the same object with the same status and number of keys. Entries hold the
record itself, so an ``id()`` is never reused while its entry lives.
"""

from __future__ import annotations

import orjson

from .http import public
from .state import Obj

MAX_ENTRIES = 100_000


class ViewCache:
    """Serialized public views of file records, for list answers built from bytes."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Obj, str, int, bytes]] = {}

    def file_json(self, file: Obj) -> bytes:
        """The file's public JSON, as ``orjson.dumps(public(file))`` would write it."""
        entry = self._entries.get(id(file))
        if entry is not None and entry[0] is file and entry[1] == file["status"] and entry[2] == len(file):
            return entry[3]
        raw = orjson.dumps(public(file))
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()  # drops records deleted since; live ones are serialized again on demand
        self._entries[id(file)] = (file, file["status"], len(file), raw)
        return raw


def json_list(views: list[bytes], has_more: bool, ids: tuple[str | None, str | None] | None) -> bytes:
    """A list page's JSON from its items' views, byte for byte what ``orjson.dumps`` writes for the dict."""
    out = b'{"object":"list","data":[' + b",".join(views) + b'],"has_more":' + (b"true" if has_more else b"false")
    if ids is not None:
        out += b',"first_id":' + orjson.dumps(ids[0]) + b',"last_id":' + orjson.dumps(ids[1])
    return out + b"}"
