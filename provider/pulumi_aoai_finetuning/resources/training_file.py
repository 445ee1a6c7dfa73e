"""``TrainingFile``: a validated JSONL dataset uploaded (or imported) into one Azure OpenAI account."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from .. import config
from ..client import (
    AzureOpenAIError,
    NotFoundError,
    OperationFailedError,
    normalize_endpoint,
)
from ..client.content import ContentUnavailableError, content_version, fetched, shown_url, url_filename
from ..client.uploads import upload_file
from ..client.waiting import adopt_or_create, poll_until
from ..datasets import DatasetReport, cache, validate_file
from ..datasets.counts import count_tokens, over_limit
from ..encodings import UnknownModelError, encoding_for_model
from ..inputs import Failures, check_endpoint, check_number, diff, is_unknown, user_inputs
from ..tokens import example_token_limit
from ._common import Provider, resource_props
from ._getters import outputs_as_getters
from .shapes import TokenCountDict

# Counted at preview (check), so known before anything is uploaded; see _count_tokens.
TOKEN_OUTPUTS = ("tokens", "max_example_tokens", "token_count")
DEFAULT_ENCODING = "o200k_base"  # current models' (gpt-4o, gpt-4.1, o4-mini); set ``model`` for older ones

INPUTS = (
    "endpoint", "path", "content_url", "filename", "purpose", "validate", "timeout_minutes", "model", "count_tokens",
)  # fmt: skip
COMPUTED_INPUTS = ("sha256", "remote_filename")
OUTPUTS = ("file_id", "bytes", "status", "status_details", "examples", "format", "created_at", *TOKEN_OUTPUTS)
# An import is known by its content (sha256, remote_filename), not its URL: a new SAS for the same blob is an
# in-place update that sends nothing.
REPLACE_ON = ("endpoint", "sha256", "remote_filename", "purpose")
UPDATE_ON = ("validate", "timeout_minutes", "path", "filename", "content_url", "model", "count_tokens")
SECRET_INPUTS = ("content_url",)  # a blob SAS URL is a credential: sealed in state, never shown
# An update touches no remote object: the same file, the same content. The counts are not kept: a new model
# counts in its encoding, and count_tokens=false drops them.
KEPT_BY_UPDATE = tuple(key for key in OUTPUTS if key not in TOKEN_OUTPUTS)
PURPOSES = ("fine-tune", "assistants", "batch", "evals")
# Which resource declares the file (``<project>/<stack>/<name>``), given by the class: the dynamic provider is
# told no URN. It names the upload, so two resources of the same content in one account never share one.
OWNER_KEY = "resource_key"
DEFAULT_TIMEOUT_MINUTES = 30.0


def _seen_before(olds: dict[str, Any], version: str, purpose: Any, validate: bool) -> bool:
    """Whether the stack's last check read this very blob, under the same rules (its findings still hold)."""
    return (
        olds.get("source_version") == version
        and isinstance(olds.get("sha256"), str)
        and olds.get("purpose", "fine-tune") == purpose
        and (olds.get("validate", True) is not False) == validate
    )


def _remote_filename(filename: str, digest: str, owner: Any = None) -> str:
    """A content-addressed name (``train.<sha256 prefix>.<owner hash>.jsonl``): how a re-run finds its own upload.

    The owner's hash keeps two resources of the same content apart (each adopts, resumes and deletes its own).
    """
    stem, ext = os.path.splitext(filename)
    mine = f".{hashlib.sha256(owner.encode()).hexdigest()[:8]}" if isinstance(owner, str) and owner else ""
    return f"{stem}.{digest[:16]}{mine}{ext or '.jsonl'}"


def _name(inputs: dict[str, Any], olds: dict[str, Any], filename: str, digest: str) -> str:
    """The file's remote name: the one in the state while the content, name, purpose and account are the same.

    A file uploaded before names carried their owner keeps its name: a new name would replace it (and retrain).
    """
    kept = olds.get("remote_filename")
    same = all(
        olds.get(k) == v for k, v in (("sha256", digest), ("filename", filename), ("purpose", inputs["purpose"]))
    )
    endpoint = inputs.get("endpoint")
    if isinstance(kept, str) and same and (is_unknown(endpoint) or olds.get("endpoint") == endpoint):
        return kept
    return _remote_filename(filename, digest, inputs.get(OWNER_KEY))


def _record_shape(inputs: dict[str, Any], olds: dict[str, Any], filename: str, report: DatasetReport) -> None:
    """What a check read of the dataset, into the checked inputs: its digest, remote name, examples, format, size."""
    inputs["sha256"] = report.sha256
    inputs["remote_filename"] = _name(inputs, olds, filename, report.sha256)
    inputs["examples"] = report.examples
    inputs["format"] = report.format
    inputs["bytes"] = report.size


class TrainingFileProvider(Provider):
    """Creates, adopts, refreshes and deletes one file in an account."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the inputs and the dataset itself, offline; add its hash and remote name."""
        failures = Failures()
        check_endpoint(failures, news)
        path, url = news.get("path"), news.get("content_url")
        if (path is None) == (url is None):
            failures.add("path", "give exactly one of path (a local JSONL file) or content_url (a URL to import from)")
        purpose = news.get("purpose", "fine-tune")
        if not is_unknown(purpose) and purpose not in PURPOSES:
            failures.add("purpose", f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
        check_number(failures, news, "timeout_minutes", low=0.01, high=7 * 24 * 60)
        validate = news.get("validate", True)
        if not isinstance(validate, bool) and not is_unknown(validate):
            failures.add("validate", f"validate must be true or false, not {validate!r}")
        _check_token_inputs(failures, news)
        inputs = {**news, "purpose": purpose}
        filename = news.get("filename")
        if filename is not None and not is_unknown(filename):
            if not isinstance(filename, str) or not filename or "/" in filename:
                failures.add("filename", f"filename must be a plain file name such as train.jsonl, not {filename!r}")
            elif purpose == "fine-tune" and not filename.endswith(".jsonl"):
                failures.add("filename", f"fine-tuning files must be named *.jsonl; rename {filename!r}")
        if isinstance(path, str):
            self._check_path(failures, inputs, path, purpose, validate is not False, olds=olds)
        elif isinstance(url, str):
            if not url.startswith(("https://", "http://", "file://")):
                failures.add(
                    "content_url",
                    f"content_url must be an https:// URL (a blob SAS URL, say), not {shown_url(url)!r}",
                )
            else:
                self._check_url(failures, inputs, url, purpose, validate is not False, olds=olds)
        return CheckResult(inputs, failures.items)

    def _check_url(
        self,
        failures: Failures,
        inputs: dict[str, Any],
        url: str,
        purpose: Any,
        validate: bool,
        *,
        olds: dict[str, Any],
    ) -> None:
        """Read the import's source once: its content, not its URL, names it (a rotated SAS changes nothing)."""
        filename = inputs.get("filename")
        name = filename if isinstance(filename, str) else (url_filename(url) or "import.jsonl")
        inputs["filename"] = name
        # A HEAD only when the last check recorded a version to compare with; else the download below gives it.
        version = content_version(url) if olds.get("source_version") else None
        same_counting = all(olds.get(k) == inputs.get(k) for k in ("model", "count_tokens"))
        if version is not None and same_counting and _seen_before(olds, version, purpose, validate):
            # The blob is the one the last (successful) check read: its digest, shape and counts still hold.
            inputs["source_version"] = version
            inputs["sha256"] = olds["sha256"]
            inputs["remote_filename"] = _name(inputs, olds, str(name), olds["sha256"])
            for key in ("examples", "format", "bytes", *TOKEN_OUTPUTS):
                if key in olds:
                    inputs[key] = olds[key]
            return
        try:
            with fetched(url) as (local, fetched_version):
                report = validate_file(local, use_cache=urllib.parse.urlsplit(url).scheme == "file")
                errors = [str(e).replace(str(local), shown_url(url)) for e in report.errors]
                if validate and purpose == "fine-tune" and report.ok:
                    # Counted while the download is still on disk: the temporary copy goes with the block.
                    _count_tokens(failures, inputs, local, shown_url(url), "content_url", use_cache=False)
        except ContentUnavailableError as exc:
            failures.add(
                "content_url",
                f"content_url: {exc}. The dataset is known by its content, so its URL must be readable when "
                "previewing: give a URL that serves the file (a SAS with read permission that has not expired)",
            )
            return
        if validate and purpose == "fine-tune":
            for error in errors:
                failures.add("content_url", error)
        _record_shape(inputs, olds, str(name), report)
        if fetched_version is not None:
            inputs["source_version"] = fetched_version

    def _check_path(
        self,
        failures: Failures,
        inputs: dict[str, Any],
        path: str,
        purpose: Any,
        validate: bool,
        *,
        olds: dict[str, Any],
    ) -> None:
        file = Path(path)
        if not file.is_file():
            failures.add(
                "path", f"{path}: no such file (paths are relative to the Pulumi project directory, {Path.cwd()})"
            )
            return
        report = validate_file(file)
        if validate and purpose == "fine-tune":
            for error in report.errors:
                failures.add("path", str(error))
            if report.truncated:
                failures.add("path", f"{path}: more errors not shown; fix these and preview again")
            if report.ok:
                _count_tokens(failures, inputs, file, path, "path")
        filename = inputs.get("filename") if isinstance(inputs.get("filename"), str) else file.name
        inputs["filename"] = filename
        _record_shape(inputs, olds, str(filename), report)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Replace on content, source, name, purpose or account; the rest changes no remote object."""
        return diff(olds, news, replace=REPLACE_ON, update=UPDATE_ON, keeps=KEPT_BY_UPDATE)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Adopt the upload of an interrupted run, else upload (streamed) or import; wait for ``processed``."""
        inputs = user_inputs(props, INPUTS + COMPUTED_INPUTS + ("examples", "format", "bytes") + TOKEN_OUTPUTS)
        settings = config.current()
        client = settings.data_client(inputs["endpoint"])
        try:
            file = self._find_or_upload(client, inputs, settings)
            file = self._wait(client, file, inputs, settings)
            if "content_url" in inputs:
                inputs.update(_processed_shape(client, file["id"]))
        finally:
            client.close()
        return CreateResult(file["id"], self._outputs(inputs, file))

    def _find_or_upload(self, client: Any, inputs: dict[str, Any], settings: config.Settings) -> dict[str, Any]:
        name = inputs["remote_filename"]

        def find() -> dict[str, Any] | None:
            for file in client.list_files(inputs["purpose"]):
                if (
                    file.get("filename") == name
                    and file.get("status") not in ("error", "deleted", "deleting")
                    and ("bytes" not in inputs or file.get("bytes") in (None, inputs["bytes"]))
                ):
                    pulumi.log.info(f"adopting {file['id']} ({name}), uploaded by an earlier interrupted run")
                    return dict(file)
            return None

        def upload() -> dict[str, Any]:
            if "path" in inputs:
                return upload_file(
                    client, inputs["path"], name, inputs["purpose"], part_size=settings.upload_part_size,
                    journal_dir=cache.directory().parent / "uploads",
                )  # fmt: skip
            return dict(client.import_file(inputs["content_url"], name, inputs["purpose"]))

        key = ("file", normalize_endpoint(inputs["endpoint"]), inputs["purpose"], name)
        return adopt_or_create(find, upload, attempts=settings.max_retries, key=key)

    def _wait(
        self, client: Any, file: dict[str, Any], inputs: dict[str, Any], settings: config.Settings
    ) -> dict[str, Any]:
        timeout = float(inputs.get("timeout_minutes", DEFAULT_TIMEOUT_MINUTES)) * 60
        file = poll_until(
            lambda: dict(client.get_file(file["id"])),
            lambda f: f.get("status") in ("processed", "error", "deleted"),
            timeout_s=timeout,
            interval=settings.poll_interval,
            cap=settings.poll_max,
            describe=lambda f: (
                f"file {f['id']} is still {f.get('status')} after {timeout / 60:g} minutes; the next "
                "`pulumi up` adopts it and resumes the wait (raise timeout_minutes to wait longer)"
            ),
        )
        if file.get("status") != "processed":
            details = file.get("status_details") or "no details given"
            with contextlib.suppress(AzureOpenAIError):
                client.delete_file(file["id"])
            raise OperationFailedError(
                f"the service rejected {inputs['remote_filename']} ({file['id']}, now deleted): {details}"
            )
        return file

    def _outputs(self, inputs: dict[str, Any], file: dict[str, Any]) -> dict[str, Any]:
        return {
            **inputs,
            "file_id": file["id"],
            "filename": inputs.get("filename"),
            "bytes": file.get("bytes", inputs.get("bytes")),
            "status": file.get("status"),
            "status_details": file.get("status_details"),
            "examples": inputs.get("examples"),
            "format": inputs.get("format"),
            "created_at": file.get("created_at"),
        }

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: the file as the service has it now, or gone."""
        settings = config.current()
        client = settings.data_client(props["endpoint"])
        try:
            file = client.get_file(id_)
        except NotFoundError:
            return ReadResult(None, {})
        finally:
            client.close()
        inputs = user_inputs(props, INPUTS + COMPUTED_INPUTS + ("examples", "format") + TOKEN_OUTPUTS)
        return ReadResult(id_, self._outputs(inputs, file))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only settings that touch no remote object change in place: the outputs are carried over."""
        # The counts follow the new inputs (a new model counts in its encoding; count_tokens=false drops them).
        counted = {key: news.get(key) for key in TOKEN_OUTPUTS}
        return UpdateResult({**olds, **counted, **user_inputs(news, INPUTS + COMPUTED_INPUTS)})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the file (already gone is fine) and wait until the service no longer lists it."""
        settings = config.current()
        client = settings.data_client(props["endpoint"])
        try:
            try:
                client.delete_file(id_)
            except NotFoundError:
                return
            poll_until(
                lambda: _exists(client, id_),
                lambda state: not state["exists"],
                timeout_s=300,
                interval=settings.poll_interval,
                cap=settings.poll_max,
                describe=lambda _s: f"file {id_} was deleted but is still listed",
            )
        finally:
            client.close()


def _check_token_inputs(failures: Failures, news: dict[str, Any]) -> None:
    """``model`` names a model with a known tokenizer; ``count_tokens`` is a boolean."""
    model = news.get("model")
    if model is not None and not is_unknown(model):
        if not isinstance(model, str) or not model:
            failures.add("model", f"model must be a model name such as gpt-4o-mini-2024-07-18, not {model!r}")
        else:
            try:
                encoding_for_model(model)
            except UnknownModelError as exc:
                failures.add("model", f"model: {exc}")
    flag = news.get("count_tokens")
    if flag is not None and not is_unknown(flag) and not isinstance(flag, bool):
        failures.add("count_tokens", f"count_tokens must be true or false, not {flag!r}")


def _count_tokens(
    failures: Failures, inputs: dict[str, Any], file: Path, display: str, prop: str, *, use_cache: bool = True
) -> None:
    """Count a valid dataset's tokens into the inputs (known at preview); refuse an example over ``model``'s limit.

    The encoding is ``model``'s when it is given, else ``o200k_base`` (every current fine-tunable model's): a
    TrainingFile does not know which job trains on it. A FineTuningJob given ``token_count`` refuses counts
    made in another encoding than its model's, so an estimate is never made with the wrong tokenizer.
    """
    model = inputs.get("model")
    if inputs.get("count_tokens") is False or is_unknown(model) or is_unknown(inputs.get("count_tokens")):
        return
    try:
        encoding = encoding_for_model(model) if isinstance(model, str) else DEFAULT_ENCODING
    except UnknownModelError:
        return  # reported by _check_token_inputs
    counts = count_tokens(file, encoding, use_cache=use_cache)
    inputs["tokens"] = counts.tokens
    inputs["max_example_tokens"] = counts.max_example_tokens
    inputs["token_count"] = {
        "encoding": encoding,
        "file": display.rstrip("/").rsplit("/", 1)[-1],  # the name, not the path: a moved file is the same data
        "examples": counts.examples,
        "tokens": counts.tokens,
        "max_example_tokens": counts.max_example_tokens,
        "max_example_line": counts.max_line,
        "estimated_examples": counts.estimated_examples,
    }
    over = over_limit(counts, example_token_limit(model) if isinstance(model, str) else None)
    if over is not None:
        failures.add(prop, over.message(display, model if isinstance(model, str) else None))


def _processed_shape(client: Any, file_id: str) -> dict[str, Any]:
    """``sha256``, ``examples`` and ``format`` of a file as the service holds it (an import's, after processing)."""
    with tempfile.TemporaryDirectory(prefix="aoai-processed-") as directory:
        local = Path(directory) / "processed.jsonl"
        local.write_bytes(client.file_content(file_id))
        report = validate_file(local, use_cache=False)
    return {"sha256": report.sha256, "examples": report.examples, "format": report.format}


def _exists(client: Any, file_id: str) -> dict[str, Any]:
    try:
        client.get_file(file_id)
    except NotFoundError:
        return {"exists": False}
    return {"exists": True}


@dataclass
class TrainingFileArgs:
    """The inputs of a :class:`TrainingFile`."""

    endpoint: pulumi.Input[str]
    """The account's endpoint (``https://<account>.openai.azure.com/``), e.g. the account's ``properties.endpoint``."""
    path: pulumi.Input[str] | None = None
    """A local JSONL file, relative to the project directory; give this or ``content_url``."""
    content_url: pulumi.Input[str] | None = None
    """A URL the service imports the file from (a blob SAS URL, say; kept secret); give this or ``path``."""
    filename: pulumi.Input[str] | None = None
    """The name to give the file (``*.jsonl``); default: the local or URL file name."""
    purpose: pulumi.Input[str] | None = None
    """``fine-tune`` (default), ``assistants``, ``batch`` or ``evals``."""
    validate: pulumi.Input[bool] | None = None
    """Check the dataset offline at preview (default true); only ``fine-tune`` files are checked."""
    timeout_minutes: pulumi.Input[float] | None = None
    """How long to wait for the service to process the file (default 30)."""
    model: pulumi.Input[str] | None = None
    """The model the file trains: its tokenizer counts the tokens and its per-example limit is checked at preview."""
    count_tokens: pulumi.Input[bool] | None = None
    """Count the dataset's tokens at preview (default true; false skips the counting pass on a huge file)."""


@outputs_as_getters
class TrainingFile(Resource, module="azure-openai", name="TrainingFile"):
    """A JSONL dataset, validated at preview, uploaded once into an Azure OpenAI account."""

    if TYPE_CHECKING:
        endpoint: pulumi.Output[str]
        """The account's endpoint."""
        path: pulumi.Output[str | None]
        """The local file uploaded, if any."""
        content_url: pulumi.Output[str | None]
        """The URL imported from, if any: a secret (a SAS URL is a credential)."""
        filename: pulumi.Output[str]
        """The file's name as given (or taken from ``path`` or ``content_url``)."""
        remote_filename: pulumi.Output[str]
        """The name in the account (``train.<sha256 prefix>.<owner hash>.jsonl``): how a re-run finds its upload."""
        purpose: pulumi.Output[str]
        """What the file is for (``fine-tune``...)."""
        validate: pulumi.Output[bool | None]
        """Whether the dataset is checked at preview."""
        timeout_minutes: pulumi.Output[float | None]
        """How long the upload waits for processing."""
        file_id: pulumi.Output[str]
        """The file's id (``file-...``): a FineTuningJob's ``training_file`` or ``validation_file``."""
        bytes: pulumi.Output[int]
        """The file's size in bytes."""
        sha256: pulumi.Output[str | None]
        """The SHA-256 of the dataset (a local file's, or an import's as the service processed it)."""
        status: pulumi.Output[str]
        """The service's status of the file (``processed`` once usable)."""
        status_details: pulumi.Output[str | None]
        """The service's explanation when processing failed."""
        examples: pulumi.Output[int | None]
        """How many training examples the dataset holds."""
        format: pulumi.Output[str | None]
        """The dataset's format (``chat``, ``preference``...), from the offline check."""
        created_at: pulumi.Output[int]
        """When the file was created (unix seconds)."""
        model: pulumi.Output[str | None]
        """The model whose tokenizer counted the tokens, if given."""
        count_tokens: pulumi.Output[bool | None]
        """Whether the tokens are counted."""
        tokens: pulumi.Output[int | None]
        """The dataset's exact token count (known at preview): what one epoch of training is billed for."""
        max_example_tokens: pulumi.Output[int | None]
        """The tokens of the dataset's longest example, to compare with a model's per-example limit."""
        token_count: pulumi.Output[TokenCountDict | None]
        """The counts, their encoding and the longest example's line: a FineTuningJob's ``training_token_count``."""
    else:
        # Pulumi reads these at run time to convert outputs (a float becomes an int, a dict must be a dict):
        # they stay as they were, so outputs keep their values; the precise shapes above are for type checkers.
        endpoint: pulumi.Output[str]
        path: pulumi.Output[str | None]
        content_url: pulumi.Output[str | None]
        filename: pulumi.Output[str]
        purpose: pulumi.Output[str]
        file_id: pulumi.Output[str]
        bytes: pulumi.Output[int]
        sha256: pulumi.Output[str | None]
        status: pulumi.Output[str]
        status_details: pulumi.Output[str | None]
        examples: pulumi.Output[int | None]
        format: pulumi.Output[str | None]
        created_at: pulumi.Output[int]
        tokens: pulumi.Output[int | None]
        max_example_tokens: pulumi.Output[int | None]
        token_count: pulumi.Output[dict[str, Any] | None]

    @overload
    def __init__(
        self, resource_name: str, args: TrainingFileArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None: ...

    @overload
    def __init__(
        self,
        resource_name: str,
        *,
        opts: pulumi.ResourceOptions | None = None,
        endpoint: pulumi.Input[str],
        path: pulumi.Input[str] | None = None,
        content_url: pulumi.Input[str] | None = None,
        filename: pulumi.Input[str] | None = None,
        purpose: pulumi.Input[str] | None = None,
        validate: pulumi.Input[bool] | None = None,
        timeout_minutes: pulumi.Input[float] | None = None,
        model: pulumi.Input[str] | None = None,
        count_tokens: pulumi.Input[bool] | None = None,
    ) -> None: ...

    def __init__(
        self,
        resource_name: str,
        args: TrainingFileArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Any,
    ) -> None:
        """Declare a dataset, from a :class:`TrainingFileArgs` or from keywords.

        :param resource_name: The resource's name in the stack.
        :param args: The inputs, as a :class:`TrainingFileArgs` (instead of keywords).
        :param opts: Options for the resource.
        :param endpoint: The account's endpoint (``https://<account>.openai.azure.com/``).
        :param path: A local JSONL file, relative to the project directory; give this or ``content_url``.
        :param content_url: A URL the service imports the file from (a blob SAS URL, say); give this or ``path``.
        :param filename: The name to give the file (``*.jsonl``); default: the local or URL file name.
        :param purpose: ``fine-tune`` (default), ``assistants``, ``batch`` or ``evals``.
        :param validate: Check the dataset offline at preview (default true).
        :param timeout_minutes: How long to wait for the service to process the file (default 30).
        :param model: The model the file trains (its tokenizer and per-example limit); default: count in o200k_base.
        :param count_tokens: Count the dataset's tokens at preview (default true).
        """
        props = resource_props("TrainingFile", args, kwargs, INPUTS, OUTPUTS + COMPUTED_INPUTS)
        for key in SECRET_INPUTS:
            if props.get(key) is not None:
                props[key] = pulumi.Output.secret(props[key])
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_INPUTS)))
        props[OWNER_KEY] = f"{pulumi.get_project()}/{pulumi.get_stack()}/{resource_name}"
        super().__init__(TrainingFileProvider(), resource_name, props, opts)
