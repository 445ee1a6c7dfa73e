"""The Pulumi deployment schema vendored in ``pulumi_schema/`` (see its README), as a validator."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).parent / "pulumi_schema"


@cache
def deployment_validator() -> jsonschema.Draft202012Validator:
    """A validator of ``pulumi stack export`` documents, resolving the schema's cross-file references offline."""
    schemas = [
        json.loads((SCHEMA_DIR / name).read_text())
        for name in ("deployments.json", "resources.json", "property-values.json")
    ]
    registry: Registry[Any] = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    return jsonschema.Draft202012Validator(schemas[0], registry=registry)


def schema_errors(document: Any) -> list[str]:
    """Every violation of the schema in ``document``, as ``path: message``; empty when it validates."""
    leaves = [leaf for error in deployment_validator().iter_errors(document) for leaf in _leaves(error)]
    return [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in leaves]


def _leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The innermost causes of a ``oneOf`` failure (its own message names no property)."""
    return [leaf for cause in error.context for leaf in _leaves(cause)] if error.context else [error]
