"""An evaluation's test set checked offline: JSONL objects whose items hold every field the templates quote."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

MAX_ERRORS = 10


def _lookup(item: Any, dotted: str) -> bool:
    value = item
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False
    return True


def check_test_set(path: Path, fields: Iterable[str]) -> tuple[int, list[str]]:
    """The number of items in the file and its errors, each ``file:line: rule; fix`` (at most ``MAX_ERRORS``).

    A line is ``{"item": {...}}`` or the item itself (a fine-tuning file evaluated as it is), as the Evals
    API reads it; every ``{{item.<field>}}`` the testing criteria or the input messages quote must exist.
    """
    wanted = sorted(set(fields))
    errors: list[str] = []
    items = 0
    with path.open("rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                errors.append(f"{where}: not JSON ({exc}); each line must be one JSON object")
            else:
                item = row.get("item", row) if isinstance(row, dict) else None
                if not isinstance(item, dict):
                    errors.append(f'{where}: each line must be a JSON object, {{"item": {{...}}}} or the item itself')
                else:
                    items += 1
                    missing = [f for f in wanted if not _lookup(item, f)]
                    if missing:
                        quoted = ", ".join("{{item." + f + "}}" for f in missing)
                        errors.append(
                            f"{where}: the item has no {', '.join(missing)}, which the evaluation quotes as "
                            f"{quoted}; add it to every item or fix the template"
                        )
            if len(errors) >= MAX_ERRORS:
                errors.append(f"{path}: more errors not shown; fix these and preview again")
                break
    if items == 0 and not errors:
        errors.append(f"{path}: the test set holds no items; add one JSON object per line")
    return items, errors
