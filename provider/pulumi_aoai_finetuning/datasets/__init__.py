"""Streaming validation and hashing of fine-tuning datasets (JSON Lines).

One pass over the file both checks it against the service's data-format rules and computes its sha256, so
``TrainingFile.check`` can refuse a bad dataset at preview time, before anything is uploaded or paid for, and
can key the upload on the content hash. The same pass backs the ``aoai-ft validate`` command.

What is checked (each problem is a :class:`DatasetError` with a ``rule`` id from :data:`RULES`):

- the file: it exists, is smaller than ``max_bytes`` (from its size, before reading), holds examples;
- the encoding: UTF-8, a byte-order mark (BOM) only at the very start, not UTF-16;
- the lines: one JSON object per line, no blank lines (the final newline is optional);
- the format, one per file: chat ``{"messages": [...], "tools"?: [...]}``, completion
  ``{"prompt": str, "completion": str}`` or preference (DPO)
  ``{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}``, with the
  roles, ``weight`` (0 or 1, assistant only), content parts (text, images), tool calls and tool definitions;
- the dataset: at least ``min_examples`` examples.

How it is fast: msgspec decodes a whole chunk of valid lines straight into strict schema structs in one call
(the typed path), a helper thread hashes the blocks (hashlib releases the GIL), and only a chunk the typed
path refuses is parsed again by orjson, where quick checks vouch for its plain lines and the detailed checker
words the problem of the others. It runs in one process: on 2 cores a second process checking part of the
file (the design before this one) lost to one process at the median, since the hash already takes the
second core. Verdicts are cached per file on disk (see ``cache``), so an unchanged file is read once.

The modules, one concern each: ``report`` (the report, errors, rules and limits), ``rules`` (the detailed
checker, which words every error), ``typed`` (msgspec decoding of whole chunks into schema types, the fast
path for valid data), ``quick`` (C-level checks of orjson-parsed chunks, the next fastest), ``scan`` (one
pass: read, hash on a helper thread, check chunk by chunk), ``cache`` (verdicts kept per file on disk) and
``validate`` (the entry points).
"""

from __future__ import annotations

from .cache import _MEMORY as _MEMORY  # the in-process verdicts, which test fixtures empty
from .report import FORMATS, MAX_BYTES, MIN_EXAMPLES, RULES, DatasetError, DatasetReport
from .validate import sha256_file, validate_file

__all__ = [
    "FORMATS",
    "MAX_BYTES",
    "MIN_EXAMPLES",
    "RULES",
    "DatasetError",
    "DatasetReport",
    "sha256_file",
    "validate_file",
]
