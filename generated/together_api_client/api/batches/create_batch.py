from http import HTTPStatus
from typing import Any, cast

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.batch_create_request import BatchCreateRequest
from ...models.batch_created import BatchCreated
from ...types import Response


def _get_kwargs(
    *,
    body: BatchCreateRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/batches",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | BatchCreated | None:
    if response.status_code == 200:
        response_200 = BatchCreated.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = BatchCreated.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = cast(Any, None)
        return response_400

    if response.status_code == 401:
        response_401 = cast(Any, None)
        return response_401

    if response.status_code == 402:
        response_402 = cast(Any, None)
        return response_402

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
) -> Response[Any | BatchCreated]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: BatchCreateRequest,
) -> Response[Any | BatchCreated]:
    """Create a batch job over an uploaded input file

     Starts a job. There is no idempotency key: two creates over one input file run (and bill)
    the file twice, so `wrapper` never resends a create once it may have been sent, and its CLI
    looks for a batch over the same input file before creating one.

    Args:
        body (BatchCreateRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | BatchCreated]
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
    body: BatchCreateRequest,
) -> Any | BatchCreated | None:
    """Create a batch job over an uploaded input file

     Starts a job. There is no idempotency key: two creates over one input file run (and bill)
    the file twice, so `wrapper` never resends a create once it may have been sent, and its CLI
    looks for a batch over the same input file before creating one.

    Args:
        body (BatchCreateRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | BatchCreated
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: BatchCreateRequest,
) -> Response[Any | BatchCreated]:
    """Create a batch job over an uploaded input file

     Starts a job. There is no idempotency key: two creates over one input file run (and bill)
    the file twice, so `wrapper` never resends a create once it may have been sent, and its CLI
    looks for a batch over the same input file before creating one.

    Args:
        body (BatchCreateRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | BatchCreated]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: BatchCreateRequest,
) -> Any | BatchCreated | None:
    """Create a batch job over an uploaded input file

     Starts a job. There is no idempotency key: two creates over one input file run (and bill)
    the file twice, so `wrapper` never resends a create once it may have been sent, and its CLI
    looks for a batch over the same input file before creating one.

    Args:
        body (BatchCreateRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | BatchCreated
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
