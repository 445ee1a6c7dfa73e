"""``TrainingFile``: a validated JSONL dataset uploaded (or imported) into one Azure OpenAI account."""

from __future__ import annotations

import contextlib
import os
import tempfile
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
)
from ..client.content import ContentUnavailableError, fetched, shown_url, url_filename
from ..client.waiting import adopt_or_create, poll_until
from ..datasets import validate_file
from ..inputs import Failures, check_endpoint, check_number, diff, is_unknown, user_inputs
from ._common import Provider, resource_props
from ._getters import outputs_as_getters

INPUTS = ("endpoint", "path", "content_url", "filename", "purpose", "validate", "timeout_minutes")
COMPUTED_INPUTS = ("sha256", "remote_filename")
OUTPUTS = ("file_id", "bytes", "status", "status_details", "examples", "format", "created_at")
# An import is known by its content (sha256, remote_filename), not its URL: a new SAS for the same blob is an
# in-place update that sends nothing.
REPLACE_ON = ("endpoint", "sha256", "remote_filename", "purpose")
UPDATE_ON = ("validate", "timeout_minutes", "path", "filename", "content_url")
SECRET_INPUTS = ("content_url",)  # a blob SAS URL is a credential: sealed in state, never shown
KEPT_BY_UPDATE = OUTPUTS  # an update touches no remote object: the same file, the same content
PURPOSES = ("fine-tune", "assistants", "batch", "evals")
DEFAULT_TIMEOUT_MINUTES = 30.0


def _remote_filename(filename: str, digest: str) -> str:
    """A content-addressed name (``train.<sha256 prefix>.jsonl``): how a re-run finds its own upload."""
    stem, ext = os.path.splitext(filename)
    return f"{stem}.{digest[:16]}{ext or '.jsonl'}"


class TrainingFileProvider(Provider):
    """Creates, adopts, refreshes and deletes one file in an account."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
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
        inputs = {**news, "purpose": purpose}
        filename = news.get("filename")
        if filename is not None and not is_unknown(filename):
            if not isinstance(filename, str) or not filename or "/" in filename:
                failures.add("filename", f"filename must be a plain file name such as train.jsonl, not {filename!r}")
            elif purpose == "fine-tune" and not filename.endswith(".jsonl"):
                failures.add("filename", f"fine-tuning files must be named *.jsonl; rename {filename!r}")
        if isinstance(path, str):
            self._check_path(failures, inputs, path, purpose, validate is not False)
        elif isinstance(url, str):
            if not url.startswith(("https://", "http://", "file://")):
                failures.add(
                    "content_url",
                    f"content_url must be an https:// URL (a blob SAS URL, say), not {shown_url(url)!r}",
                )
            else:
                self._check_url(failures, inputs, url, purpose, validate is not False)
        return CheckResult(inputs, failures.items)

    def _check_url(self, failures: Failures, inputs: dict[str, Any], url: str, purpose: Any, validate: bool) -> None:
        """Read the import's source once: its content, not its URL, names it (a rotated SAS changes nothing)."""
        filename = inputs.get("filename")
        name = filename if isinstance(filename, str) else (url_filename(url) or "import.jsonl")
        inputs["filename"] = name
        try:
            with fetched(url) as local:
                report = validate_file(local, use_cache=False)
                errors = [str(e).replace(str(local), shown_url(url)) for e in report.errors]
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
        inputs["sha256"] = report.sha256
        inputs["remote_filename"] = _remote_filename(str(name), report.sha256)
        inputs["examples"] = report.examples
        inputs["format"] = report.format
        inputs["bytes"] = report.size

    def _check_path(self, failures: Failures, inputs: dict[str, Any], path: str, purpose: Any, validate: bool) -> None:
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
        filename = inputs.get("filename") if isinstance(inputs.get("filename"), str) else file.name
        inputs["filename"] = filename
        inputs["sha256"] = report.sha256
        inputs["remote_filename"] = _remote_filename(str(filename), report.sha256)
        inputs["examples"] = report.examples
        inputs["format"] = report.format
        inputs["bytes"] = report.size

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Replace on content, source, name, purpose or account; the rest changes no remote object."""
        return diff(olds, news, replace=REPLACE_ON, update=UPDATE_ON, keeps=KEPT_BY_UPDATE)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Adopt the upload of an interrupted run, else upload (streamed) or import; wait for ``processed``."""
        inputs = user_inputs(props, INPUTS + COMPUTED_INPUTS + ("examples", "format", "bytes"))
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
                return dict(client.upload_file(inputs["path"], name, inputs["purpose"]))
            return dict(client.import_file(inputs["content_url"], name, inputs["purpose"]))

        return adopt_or_create(find, upload, attempts=settings.max_retries)

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
        inputs = user_inputs(props, INPUTS + COMPUTED_INPUTS + ("examples", "format"))
        return ReadResult(id_, self._outputs(inputs, file))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only settings that touch no remote object change in place: the outputs are carried over."""
        return UpdateResult({**olds, **user_inputs(news, INPUTS + COMPUTED_INPUTS)})

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
        """The content-addressed name in the account (``train.<sha256 prefix>.jsonl``): how a re-run finds it."""
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
        """
        props = resource_props("TrainingFile", args, kwargs, INPUTS, OUTPUTS + COMPUTED_INPUTS)
        for key in SECRET_INPUTS:
            if props.get(key) is not None:
                props[key] = pulumi.Output.secret(props[key])
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_INPUTS)))
        super().__init__(TrainingFileProvider(), resource_name, props, opts)
