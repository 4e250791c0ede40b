"""The no-double-create rule (issue 14), as a pure decision: which failed attempts of a create may be resent."""

from __future__ import annotations

import httpx
import pytest

from wrapper import APIConnectionError, APIResponseValidationError, APITimeoutError, RateLimitError, ServerError
from wrapper._errors import APIError
from wrapper._pipeline._call import Call, forbid_resend
from wrapper._policies._retryable import is_retryable


def create_call(resend: bool = False) -> Call:
    """A call like files.upload / batches.create (resend=False) or a read (resend=True)."""
    return Call(key="POST /batches", total=10.0, timeout=httpx.Timeout(10.0), resend=resend)


@pytest.mark.parametrize(("error", "retried"), [
    (APIConnectionError("refused", sent=False), True),           # never left: nothing can exist
    (RateLimitError("slow down", status_code=429), True),        # refused before any work
    (APITimeoutError("read timeout", sent=True), False),         # may have been created
    (APIConnectionError("reset after sending", sent=True), False),
    (ServerError("boom", status_code=500), False),
    (ServerError("gateway", status_code=502), False),
    (ServerError("unavailable", status_code=503), False),
    (ServerError("gateway timeout", status_code=504), False),
    (APIResponseValidationError("torn body", status_code=201, body="{"), False),
])
def test_a_create_is_resent_only_when_nothing_can_have_been_created(error: APIError, retried: bool) -> None:
    """After forbid_resend, the retry policy resends a create only for 'not sent' and 429."""
    forbid_resend(create_call(), error)
    assert retried == is_retryable(error, retry_read_timeouts=True)


def test_reads_keep_the_normal_policy() -> None:
    """A call that may be repeated (resend=True) is untouched: a 503 stays retryable."""
    error = ServerError("unavailable", status_code=503)
    forbid_resend(create_call(resend=True), error)
    assert (None, True) == (error.should_retry, is_retryable(error, retry_read_timeouts=False))
