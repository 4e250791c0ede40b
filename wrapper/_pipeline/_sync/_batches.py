"""The Batch API namespaces, ``client.files`` and ``client.batches``: each generated endpoint wrapped in one line.

Every method builds an uncharged :class:`~.._call.Call` (the cost of a batch is settled by the caller from the
output file, at the batch price) and awaits the generated endpoint function through :class:`~._stack.AsyncStack`:
retries, the breaker (one per endpoint) and the limiter, exactly as for ``/models``.

**Creates are never sent twice.** Together documents no idempotency key for ``POST /files/upload`` or
``POST /batches``, and a second create makes (and bills) a second object. So those two calls carry
``Call(resend=False)``: the stack's :func:`~.._call.forbid_resend` marks any failure that may have reached
Together (a 5xx, a 504, a connection lost after sending, an unreadable 2xx) as final, and only failures that
provably created nothing are retried (not sent at all; 429). The CLI then reconciles an uncertain create by
listing (``files.list()`` by the unique file name, ``batches.list()`` by ``input_file_id``) before creating
again. Reads and ``cancel`` (idempotent by nature) use the normal retry policy.

Generated from ``_async/_batches.py`` by ``scripts/generate_sync.py``: do not edit by hand.
"""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from together_api_client.api.batches import cancel_batch, create_batch, list_batches, retrieve_batch
from together_api_client.api.files import list_files, retrieve_file, retrieve_file_content, upload_file
from together_api_client.models.batch_create_request import BatchCreateRequest
from together_api_client.models.file_upload_form import FileUploadForm
from together_api_client.models.file_upload_form_purpose import check_file_upload_form_purpose
from together_api_client.types import UNSET, File

from ..._errors import RequestValidationError
from ..._types import BatchJob, FileObject
from .._call import Call, attempt_timeout, check_timeout
from .._io import SyncEndpoint, offload
from ._stack import SyncStack

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["Batches", "Files"]

CHAT_ENDPOINT = "/v1/chat/completions"


def _call(client: Client, key: str, timeout: float | None, *, resend: bool = True) -> Call:
    s = client.settings
    total = check_timeout(timeout) if timeout is not None else s.timeout
    return Call(key=key, total=total, timeout=attempt_timeout(total, s.connect_timeout), resend=resend)


def _send(client: Client, fn: SyncEndpoint, call: Call, **kwargs: Any) -> Any:
    """One wrapped endpoint, awaited on the client's generated client (rebuilt for a new event loop)."""
    return fn(call, client=client._client(), **kwargs)


def _read(source: bytes | str | os.PathLike[str]) -> bytes:
    return source if isinstance(source, bytes) else Path(source).read_bytes()


class Files:
    """``client.files``: upload a Batch API input, read a file's metadata and its bytes."""

    def __init__(self, client: Client) -> None:
        self._client = client
        stack = SyncStack(client._rt)
        self._upload = stack.wrap(upload_file.sync_detailed)
        self._list = stack.wrap(list_files.sync_detailed)
        self._retrieve = stack.wrap(retrieve_file.sync_detailed)
        self._content = stack.wrap(retrieve_file_content.sync_detailed)

    def upload(self, file: bytes | str | os.PathLike[str], *, file_name: str | None = None,
                     purpose: str = "batch-api", timeout: float | None = None,  # noqa: ASYNC109, RUF100 - per attempt
                     ) -> FileObject:
        """Upload a file (by default a Batch API input: JSONL, ``purpose="batch-api"``).

        Args:
            file: the bytes, or a path to read (off the event loop).
            file_name: the name stored with it (default: the path's name, or ``batch.jsonl``); a unique name
                lets a caller find the file again with :meth:`list` after an uncertain failure.
            purpose: ``batch-api``, ``fine-tune`` or ``eval``.
            timeout: seconds for the whole attempt (large files need more than ``TOGETHER_TIMEOUT``).

        Returns:
            The stored file (``id``, ``bytes``, ``filename``).

        Raises:
            RequestValidationError: an unknown ``purpose``, before any I/O.
            APIStatusError: Together's error; never retried once the upload may have arrived.
            APIConnectionError: the connection failed (retried only when nothing was sent).
        """
        data = offload(_read, file)
        name = file_name or (Path(file).name if not isinstance(file, bytes) else "batch.jsonl")
        try:
            checked = check_file_upload_form_purpose(purpose)
        except (TypeError, ValueError) as exc:
            raise RequestValidationError("purpose", "must be batch-api, fine-tune or eval") from exc
        form = FileUploadForm(purpose=checked, file_name=name, file_type="jsonl",
                              file=File(payload=BytesIO(data), file_name=name, mime_type="application/jsonl"))
        client = self._client
        stored: FileObject = _send(client, self._upload, _call(client, "POST /files/upload", timeout,
                                                                           resend=False), body=form)
        return stored

    def list(self) -> list[FileObject]:
        """Every file of the key (newest last, as Together lists them)."""
        client = self._client
        listing = _send(client, self._list, _call(client, "GET /files", None))
        files: list[FileObject] = listing.data
        return files

    def retrieve(self, file_id: str) -> FileObject:
        """One file's metadata.

        Raises:
            NotFoundError: no such file.
        """
        client = self._client
        found: FileObject = _send(client, self._retrieve, _call(client, "GET /files/{id}", None),
                                                     id=file_id)
        return found

    def content(self, file_id: str, *, timeout: float | None = None) -> bytes:  # noqa: ASYNC109, RUF100
        """A file's bytes (a batch's output or error JSONL).

        Raises:
            NotFoundError: no such file.
        """
        client = self._client
        got: File = _send(client, self._content, _call(client, "GET /files/{id}/content", timeout),
                                             id=file_id)
        return got.payload.read()


class Batches:
    """``client.batches``: create, retrieve, list and cancel Batch API jobs."""

    def __init__(self, client: Client) -> None:
        self._client = client
        stack = SyncStack(client._rt)
        self._create = stack.wrap(create_batch.sync_detailed)
        self._retrieve = stack.wrap(retrieve_batch.sync_detailed)
        self._list = stack.wrap(list_batches.sync_detailed)
        self._cancel = stack.wrap(cancel_batch.sync_detailed)

    def create(self, *, input_file_id: str, endpoint: str = CHAT_ENDPOINT, model_id: str | None = None,
                     completion_window: str | None = None) -> BatchJob:
        """Start a batch job over an uploaded input file.

        Args:
            input_file_id: the uploaded JSONL's id.
            endpoint: where each line goes (``/v1/chat/completions``).
            model_id: the model of every line, when all lines use one.
            completion_window: how long Together may take (e.g. ``"24h"``).

        Returns:
            The job (``id``, ``status``); a warning from Together is dropped here (see the log).

        Raises:
            APIStatusError: Together's error; never retried once the create may have arrived.
            APIConnectionError: the connection failed (retried only when nothing was sent).
        """
        body = BatchCreateRequest(endpoint=endpoint, input_file_id=input_file_id,
                                  model_id=model_id if model_id is not None else UNSET,
                                  completion_window=completion_window if completion_window is not None else UNSET)
        client = self._client
        created = _send(client, self._create, _call(client, "POST /batches", None, resend=False),
                                           body=body)
        job: BatchJob = created.job
        return job

    def retrieve(self, batch_id: str) -> BatchJob:
        """A job's status, progress and (when done) its output and error file ids."""
        client = self._client
        job: BatchJob = _send(client, self._retrieve, _call(client, "GET /batches/{id}", None),
                                                 id=batch_id)
        return job

    def list(self) -> list[BatchJob]:
        """Every batch job of the key."""
        client = self._client
        jobs: list[BatchJob] = _send(client, self._list, _call(client, "GET /batches", None))
        return jobs

    def cancel(self, batch_id: str) -> BatchJob:
        """Ask Together to stop a job; rows already done are still delivered (and billed)."""
        client = self._client
        job: BatchJob = _send(client, self._cancel, _call(client, "POST /batches/{id}/cancel", None),
                                                 id=batch_id)
        return job
