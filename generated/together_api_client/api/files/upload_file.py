from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.file_object import FileObject
from ...models.file_upload_form import FileUploadForm
from ...types import Response


def _get_kwargs(
    *,
    body: FileUploadForm,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/files/upload",
    }

    _kwargs["files"] = body.to_multipart()

    headers["Content-Type"] = "multipart/form-data; boundary=+++"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | FileObject | None:
    if response.status_code == 200:
        response_200 = FileObject.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = cast(Any, None)
        return response_400

    if response.status_code == 401:
        response_401 = cast(Any, None)
        return response_401

    if response.status_code == 413:
        response_413 = cast(Any, None)
        return response_413

    if response.status_code == 429:
        response_429 = cast(Any, None)
        return response_429

    if response.status_code == 500:
        response_500 = cast(Any, None)
        return response_500

    if response.status_code == 503:
        response_503 = cast(Any, None)
        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | FileObject]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: FileUploadForm,
) -> Response[Any | FileObject]:
    """Upload a file (a Batch API input is JSONL with purpose batch-api)

     Creates a file object. Together documents no idempotency key for this request, so a second
    upload of the same bytes creates a second file: `wrapper` never resends it once it may
    have been sent (see `wrapper/_pipeline/_async/_batches.py`).

    Args:
        body (FileUploadForm):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | FileObject]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: FileUploadForm,
) -> Any | FileObject | None:
    """Upload a file (a Batch API input is JSONL with purpose batch-api)

     Creates a file object. Together documents no idempotency key for this request, so a second
    upload of the same bytes creates a second file: `wrapper` never resends it once it may
    have been sent (see `wrapper/_pipeline/_async/_batches.py`).

    Args:
        body (FileUploadForm):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | FileObject
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: FileUploadForm,
) -> Response[Any | FileObject]:
    """Upload a file (a Batch API input is JSONL with purpose batch-api)

     Creates a file object. Together documents no idempotency key for this request, so a second
    upload of the same bytes creates a second file: `wrapper` never resends it once it may
    have been sent (see `wrapper/_pipeline/_async/_batches.py`).

    Args:
        body (FileUploadForm):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | FileObject]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: FileUploadForm,
) -> Any | FileObject | None:
    """Upload a file (a Batch API input is JSONL with purpose batch-api)

     Creates a file object. Together documents no idempotency key for this request, so a second
    upload of the same bytes creates a second file: `wrapper` never resends it once it may
    have been sent (see `wrapper/_pipeline/_async/_batches.py`).

    Args:
        body (FileUploadForm):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | FileObject
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
