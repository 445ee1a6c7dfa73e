"""The public entry points: validate (and hash) a dataset file, with the cache in front of the scan."""

from __future__ import annotations

import hashlib
import os
import stat
from typing import TYPE_CHECKING, BinaryIO

from . import cache
from .report import MAX_BYTES, MIN_EXAMPLES, RULES, DatasetError, DatasetReport

if TYPE_CHECKING:
    from .scan import _Scan


def _scan(f: BinaryIO, display: str, size: int, max_errors: int) -> tuple[_Scan, str]:
    """Read and check the file in one pass; the scan (msgspec, the checkers) is imported on the first miss.

    A preview whose datasets are all cached never reads one, so its plugin does not pay for those imports.
    """
    from .scan import scan  # noqa: PLC0415

    return scan(f, display, size, max_errors)


def _finish(report: DatasetReport, display: str, min_examples: int, max_errors: int) -> DatasetReport:
    """Apply the dataset-wide rules (they depend on arguments, so cached scans are stored without them)."""
    errors = [
        e if e.path == display else DatasetError(display, e.line, e.rule, e.message, e.fix) for e in report.errors
    ]
    errors = [e for e in errors if not e.rule.startswith("dataset.")]
    truncated = report.truncated or len(errors) > max_errors
    errors = errors[:max_errors]
    if not errors:
        if report.examples == 0:
            errors.append(
                DatasetError(display, None, "dataset.empty", "the file holds no examples", RULES["dataset.empty"])
            )
        elif report.examples < min_examples:
            errors.append(
                DatasetError(
                    display,
                    None,
                    "dataset.too-few-examples",
                    f"the file has {report.examples} examples; at least {min_examples} are required",
                    RULES["dataset.too-few-examples"],
                )
            )
    return DatasetReport(
        display,
        report.size,
        report.sha256,
        report.format,
        report.examples,
        report.tokens_estimate,
        tuple(errors),
        truncated,
    )


def _file_problem(display: str, size: int, rule: str, message: str) -> DatasetReport:
    error = DatasetError(display, None, rule, message, RULES[rule])
    return DatasetReport(display, size, "", None, 0, 0, (error,), False)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file's bytes, read in blocks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def validate_file(
    path: str | os.PathLike[str],
    *,
    min_examples: int = MIN_EXAMPLES,
    max_bytes: int = MAX_BYTES,
    max_errors: int = 20,
    use_cache: bool = True,
) -> DatasetReport:
    """Validate a fine-tuning JSONL file and hash it, in one streaming pass (or none, on a cache hit)."""
    if max_errors < 1:
        raise ValueError("max_errors must be at least 1")
    display = os.fspath(path)
    key = os.path.abspath(display)
    try:
        st = os.stat(key)
    except FileNotFoundError:
        return _file_problem(display, 0, "file.not-found", "no such file")
    except OSError as e:
        return _file_problem(display, 0, "file.unreadable", f"cannot read the file: {e.strerror}")
    if not stat.S_ISREG(st.st_mode):
        return _file_problem(display, 0, "file.not-a-file", "not a regular file")
    if st.st_size >= max_bytes:
        limit = f"{max_bytes:,} bytes" + (f" ({max_bytes / 2**20:g} MiB)" if max_bytes >= 2**20 else "")
        message = f"the file is {st.st_size:,} bytes; the service takes files smaller than {limit}"
        return _file_problem(display, st.st_size, "dataset.too-large", message)
    if use_cache:
        cached = cache.lookup(key, cache.Stamp.of(st), max_errors)
        if cached is not None:
            return _finish(cached, display, min_examples, max_errors)
    try:
        with open(key, "rb", buffering=0) as f:
            before = os.fstat(f.fileno())
            found, sha256 = _scan(f, display, before.st_size, max_errors)
            after = os.fstat(f.fileno())
    except OSError as e:
        return _file_problem(display, st.st_size, "file.unreadable", f"cannot read the file: {e.strerror}")
    report = DatasetReport(
        display,
        after.st_size,
        sha256,
        found.format,
        found.examples,
        found.example_bytes // 4,
        tuple(found.errors),
        found.truncated,
    )
    if use_cache:
        cache.store(key, before, after, max_errors, report)
    return _finish(report, display, min_examples, max_errors)
