"""A run's data source: checked when the run is created, its items read from inline content or a JSONL file.

``jsonl`` sources grade the items (and the ``sample`` each row may carry) as they are; ``completions`` sources
name a model (a deployment, a base model or a model the account holds) that answers each item's messages first.
A file source is an uploaded file of purpose ``evals`` or ``fine-tune``; each line is ``{"item": {...},
"sample": {...}?}``, and a line without ``item`` is taken as the item itself (so a fine-tuning file can be used).
"""

from __future__ import annotations

from typing import Any

import orjson

from .. import errors, graders
from ..state import Obj
from . import files
from .answering import resolve
from .context import Ctx

SOURCE = "data_source.source"


def _row(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise errors.invalid_payload(f"'{where}' must be an object with an 'item' object.", where)
    if "item" not in raw:
        return {"item": raw}
    if not isinstance(raw["item"], dict):
        raise errors.invalid_payload(f"'{where}.item' must be an object.", f"{where}.item")
    sample = raw.get("sample")
    if sample is not None and not isinstance(sample, dict):
        raise errors.invalid_payload(f"'{where}.sample' must be an object.", f"{where}.sample")
    return {"item": raw["item"], "sample": sample}


def _file_rows(ctx: Ctx, file_id: Any) -> list[dict[str, Any]]:
    if not isinstance(file_id, str) or not file_id:
        raise errors.invalid_payload(f"'{SOURCE}.id' must be a file id.", f"{SOURCE}.id")
    file: Obj | None = ctx.account["files"].get(file_id)
    if file is None:
        raise errors.invalid_payload(f"The file '{file_id}' could not be found.", f"{SOURCE}.id")
    files.settle(ctx, file, read=False)
    if file["purpose"] not in ("evals", "fine-tune"):
        raise errors.invalid_payload(
            f"The file '{file_id}' has purpose '{file['purpose']}'; an eval run reads files of purpose 'evals' or "
            "'fine-tune'.",
            f"{SOURCE}.id",
        )
    if file["status"] != "processed":
        raise errors.invalid_payload(
            f"The file '{file_id}' is {file['status']}, not processed; wait until it is 'processed'.", f"{SOURCE}.id"
        )
    rows = []
    with files.blob_of(ctx.svc, file_id).open() as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{file.get('filename', file_id)}:{number}"
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise errors.invalid_payload(f"{where}: not a JSON object ({exc}).", f"{SOURCE}.id") from None
            try:
                rows.append(_row(raw, where))
            except errors.ServiceError as exc:
                raise errors.invalid_payload(exc.message, f"{SOURCE}.id") from None
    if not rows:
        raise errors.invalid_payload(f"The file '{file_id}' holds no items.", f"{SOURCE}.id")
    return rows


def _rows(ctx: Ctx, source: Any) -> list[dict[str, Any]]:
    if not isinstance(source, dict):
        raise errors.invalid_payload(f"'{SOURCE}' must be an object with a 'type'.", SOURCE)
    kind = source.get("type")
    if kind == "file_content":
        content = source.get("content")
        if not isinstance(content, list) or not content:
            raise errors.invalid_payload(f"'{SOURCE}.content' must be a non-empty array.", f"{SOURCE}.content")
        return [_row(raw, f"{SOURCE}.content[{i}]") for i, raw in enumerate(content)]
    if kind == "file_id":
        return _file_rows(ctx, source.get("id"))
    if kind == "stored_completions":
        raise errors.invalid_payload(
            "This resource keeps no stored completions to evaluate; use a 'file_content' or 'file_id' source.",
            f"{SOURCE}.type",
        )
    raise errors.invalid_payload(f"'{SOURCE}.type' must be 'file_content' or 'file_id'.", f"{SOURCE}.type")


def _check_items(rows: list[dict[str, Any]], config: dict[str, Any]) -> None:
    """Each item has the properties the eval's item schema requires (the part of the schema the emulator checks)."""
    item_schema = config.get("schema", {}).get("properties", {}).get("item", {})
    required = item_schema.get("required", []) if isinstance(item_schema, dict) else []
    for i, row in enumerate(rows):
        missing = [key for key in required if key not in row["item"]]
        if missing:
            raise errors.invalid_payload(
                f"Item {i} lacks {', '.join(missing)}, which the eval's item_schema requires.", SOURCE
            )


def _input_messages(raw: Any) -> dict[str, Any]:
    where = "data_source.input_messages"
    if not isinstance(raw, dict) or raw.get("type") not in ("template", "item_reference"):
        raise errors.invalid_payload(f"'{where}.type' must be 'template' or 'item_reference'.", f"{where}.type")
    if raw["type"] == "template":
        graders.validate_messages(raw.get("template"), f"{where}.template")
    elif not isinstance(raw.get("item_reference"), str) or not raw["item_reference"].startswith("item."):
        raise errors.invalid_payload(
            f"'{where}.item_reference' must name an item field, such as 'item.messages'.", f"{where}.item_reference"
        )
    return raw


SAMPLING_RANGES = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0)}


def _sampling_params(raw: Any) -> None:
    where = "data_source.sampling_params"
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise errors.invalid_payload(f"'{where}' must be an object.", where)
    for key, (low, high) in SAMPLING_RANGES.items():
        value = raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high
        ):
            raise errors.invalid_payload(
                f"'{where}.{key}' must be a number from {low:g} to {high:g}.", f"{where}.{key}"
            )
    for key, low in (("seed", 0), ("max_completion_tokens", 1)):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise errors.invalid_payload(f"'{where}.{key}' must be an integer of at least {low}.", f"{where}.{key}")


def check(ctx: Ctx, data_source: Any, config: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """The items of a run's data source and the model it samples (None for ``jsonl``), or the 400 the service gives."""
    if not isinstance(data_source, dict) or data_source.get("type") not in ("jsonl", "completions"):
        raise errors.invalid_payload("'data_source.type' must be 'jsonl' or 'completions'.", "data_source.type")
    model = None
    if data_source["type"] == "completions":
        name = data_source.get("model")
        if not isinstance(name, str) or not name:
            raise errors.invalid_payload("'data_source.model' is required for a completions run.", "data_source.model")
        if resolve(ctx, name) is None:
            raise errors.invalid_payload(
                f"The model '{name}' is neither a deployment of this resource nor a model it serves.",
                "data_source.model",
            )
        _input_messages(data_source.get("input_messages"))
        _sampling_params(data_source.get("sampling_params"))
        model = name
    rows = _rows(ctx, data_source.get("source"))
    _check_items(rows, config)
    return rows, model


def prompt_messages(data_source: dict[str, Any], item: dict[str, Any]) -> list[dict[str, str]]:
    """The messages a completions run sends the model for one item, templates filled."""
    spec = data_source["input_messages"]
    if spec["type"] == "item_reference":
        found = graders.lookup(spec["item_reference"], {"item": item})
        if isinstance(found, str):
            return [{"role": "user", "content": found}]
        if not isinstance(found, list):
            return []
        return [
            {"role": str(m.get("role", "user")), "content": graders.message_text(m)}
            for m in found
            if isinstance(m, dict)
        ]
    return [
        {"role": m["role"], "content": graders.render(graders.message_text(m), {"item": item})}
        for m in spec["template"]
    ]
