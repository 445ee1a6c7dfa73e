"""What a preview knows of an in-place update: the outputs its provider declares stable keep their old values.

How the real engine (pulumi/pulumi at 1b59498) treats ``DiffResult.stables``:

* ``pkg/resource/plugin/provider_plugin.go`` (Diff) decodes ``DiffResponse.stables`` into ``StableKeys``, and
  ``pkg/resource/deploy/step_generator.go:2175`` hands them to ``NewUpdateStep`` ("an optional list of
  properties that won't change during this update", ``pkg/resource/deploy/step.go:901``).
* For a provider without ``supportsPreview`` (every dynamic provider), a preview's Update returns the new
  inputs as the state (``provider_plugin.go:1719``), and the SDK resolves every output missing from it as
  unknown. Nothing in the engine reads ``UpdateStep.stables`` at that commit, and the Python dynamic server
  (``pulumi/dynamic/__main__.py``, Diff) does not even forward them.

So under the CLI a dynamic resource's in-place update makes all its computed outputs unknown in preview, and
what depends on them may preview as a replacement that ``up`` then does not perform (a moved dataset file
previews a paid retrain). This harness deliberately honours the declared stables instead, so that its preview
says what ``up`` will do: the real plugin still decides same/update/replace, and only for an update does the
harness ask the resource's own provider (deserialised from ``__provider`` as the plugin does) for its stables.
Anything it cannot learn that way stays unknown, the engine's conservative answer.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import dill

PROVIDER_KEY = "__provider"


def update_stables(id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> frozenset[str]:
    """The properties the provider in ``news`` declares unchanged by this in-place update (none if it cannot say)."""
    blob = news.get(PROVIDER_KEY)
    if not isinstance(blob, str):
        return frozenset()
    try:
        # The program registered this blob in this run (not read from state); the plugin unpickles the same.
        provider = dill.loads(base64.b64decode(blob))  # noqa: S301
        result = provider.diff(id_, dict(olds), dict(news))
    except Exception:  # a provider that cannot answer here declares nothing stable
        return frozenset()
    if not result.changes or result.replaces:
        return frozenset()  # not an in-place update after all: nothing is promised
    return frozenset(str(key) for key in result.stables or ())


def preview_update_outputs(
    checked: Mapping[str, Any], old_outputs: Mapping[str, Any], stables: frozenset[str]
) -> dict[str, Any]:
    """The outputs a preview shows for an update: the checked inputs, and the stable outputs' old values."""
    outputs = dict(checked)
    for key in stables:
        if key in old_outputs and key != PROVIDER_KEY:
            outputs[key] = old_outputs[key]
    return outputs
