"""Which tokenizer a model uses, and a fast offline token counter for it.

Models map to OpenAI's encodings as tiktoken's own model table does (``tiktoken/model.py``, 0.14):
``o200k_base`` for gpt-4o, gpt-4o-mini, gpt-4.1 (and -mini, -nano), gpt-5 and the o-series (o1, o3, o4-mini);
``cl100k_base`` for gpt-4, gpt-35-turbo / gpt-3.5-turbo, and the base models babbage-002 and davinci-002
(``"davinci-002": "cl100k_base"``, ``"babbage-002": "cl100k_base"`` in that table). A fine-tuned model or a
checkpoint (``<base>.ft-<hex>``, ``<base>.ft-<hex>:ckpt-step-N``, OpenAI's ``ft:<base>:...``) uses its base's.

The counter is bpe-openai's Rust tokenizer (GitHub's ``bpe-openai`` crate), chosen by measurement on this
project's generated chat dataset (``benchmarks/_data.py``, 49 MB of message text, one core): its ``count``
ran at 44.5 MB/s, tiktoken's ``encode_ordinary`` at 30.6 MB/s and bpe-openai's tiktoken-compatible
``Encoding.encode_ordinary`` at 26.7 MB/s; the ids were identical to tiktoken's on all 105,542 strings tried,
for both encodings. The wheel ships both encodings' ranks, whose sha256 equal the hashes tiktoken pins for
OpenAI's published files, so nothing is downloaded at run time (tiktoken would fetch them from the internet).

Text is counted as ordinary text: a dataset that contains ``<|endoftext|>`` is charged for those characters,
not for one special token, which is what ``encode_ordinary`` does too.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Protocol, cast

__all__ = ["ENCODINGS", "UnknownModelError", "base_model", "counter", "encoding_for_model"]

ENCODINGS = ("o200k_base", "cl100k_base")
"""The encodings this package counts with."""

# Exact names first, then prefixes (longest first), as tiktoken resolves them; Azure spells gpt-3.5 "gpt-35".
_MODELS: dict[str, str] = {
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4-mini": "o200k_base",
    "gpt-5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "davinci-002": "cl100k_base",
    "babbage-002": "cl100k_base",
}
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("chatgpt-4o-", "o200k_base"),
    ("gpt-4.1-", "o200k_base"),
    ("gpt-4.5-", "o200k_base"),
    ("gpt-4o-", "o200k_base"),
    ("o4-mini-", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("o1-", "o200k_base"),
    ("o3-", "o200k_base"),
    ("gpt-35-turbo-", "cl100k_base"),
    ("gpt-3.5-turbo-", "cl100k_base"),
    ("gpt-4-", "cl100k_base"),
)


class UnknownModelError(ValueError):
    """A model name this package cannot map to a tokenizer."""


class _Counter(Protocol):
    def count(self, text: str) -> int: ...


def base_model(model: str) -> str:
    """The base model under a fine-tuned model or checkpoint name (``gpt-4o-mini-2024-07-18.ft-abc`` -> base)."""
    name = model.strip()
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    return name.split(":ckpt-step-", 1)[0].split(".ft-", 1)[0]


def encoding_for_model(model: str) -> str:
    """The encoding name (``o200k_base`` or ``cl100k_base``) a model's tokens are counted with."""
    name = base_model(model).lower()
    if name in _MODELS:
        return _MODELS[name]
    for prefix, encoding in _PREFIXES:
        if name.startswith(prefix):
            return encoding
    raise UnknownModelError(
        f"model {model!r}: no known tokenizer for it (rule tokens.unknown-model); use a base model name such as "
        "gpt-4o-mini-2024-07-18, gpt-4.1-2025-04-14, gpt-35-turbo-0125 or babbage-002, or a fine-tuned model "
        "named after one"
    )


_BINDINGS = "bpe_openai._bindings"


def _load_bindings() -> ModuleType:
    """bpe-openai's compiled module, loaded without running the package's ``__init__``.

    Importing the ``bpe_openai`` package parses every encoding's ranks into Python dictionaries (about a second)
    for its tiktoken-compatible wrapper, and warns about a deprecated ``importlib.resources`` call; the compiled
    tokenizer needs neither. The module is registered under its own name, so a later ``import bpe_openai``
    reuses it rather than initialising the extension twice.
    """
    loaded = sys.modules.get(_BINDINGS)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("bpe_openai")
    folders = package.submodule_search_locations if package is not None else None
    for folder in folders or ():
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"_bindings{suffix}"
            if path.is_file():
                loader = importlib.machinery.ExtensionFileLoader(_BINDINGS, str(path))
                spec = importlib.util.spec_from_file_location(_BINDINGS, path, loader=loader)
                if spec is None:  # pragma: no cover - a file location always yields a spec
                    break
                module = importlib.util.module_from_spec(spec)
                loader.exec_module(module)
                sys.modules[_BINDINGS] = module
                return module
    return importlib.import_module(_BINDINGS)  # an unusual layout: let the import system find it


@functools.cache
def _backend(encoding: str) -> _Counter:
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    # The compiled module's count() skips building the id list that the tiktoken-compatible wrapper returns:
    # 1.7x the wrapper's speed. tests/test_tokens.py pins it to tiktoken's own counts, so an upgrade cannot drift.
    return cast(_Counter, _load_bindings().tokenizer_for_encoding(encoding))


def counter(encoding: str) -> Callable[[str], int]:
    """A function that counts a string's tokens in ``encoding`` (``o200k_base`` or ``cl100k_base``)."""
    return _backend(encoding).count
