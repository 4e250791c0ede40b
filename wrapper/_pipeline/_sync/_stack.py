"""The decorator stack around any generated endpoint function: ledger > retry > breaker > limiter > attempt.

``Stack(runtime).wrap(endpoint)`` gives ``endpoint`` (a generated endpoint function, or the stream opener) the
whole stack in one line; the result is called as ``wrapped(call, client=..., body=...)`` (awaited when async):

* **ledger** (outermost, once per call): reserve the call's worst case from the budget lease before anything is
  sent (in memory; a new lease is taken off the event loop), settle it once at the end -- commit the usage of the
  successful attempt, or release the rest (uncertain attempts were charged as they happened). Write-behind:
  nothing here waits for the database.
* **retry**: ``backoff.on_exception`` with our hint-aware wait generator (:func:`wrapper._policies._retry.retrying`).
* **breaker**: circuitbreaker's decorator, one breaker per ``call.key`` (:meth:`BreakerBoard.decorate`). It is
  outside the limiter, so an open circuit refuses a call *before* it queues for a rate slot; the limiter re-checks
  it while the call waits, so queued calls fail at once when the circuit opens.
* **limiter**: waits in our FIFO line for a request slot and the call's tokens (pyrate-limiter buckets).
* **attempt** (innermost): the generated call under a total deadline, then the core's verdict on the answer:
  the typed result, or the typed error to raise (the retry layer decides whether another attempt follows).

Generated from ``_async/_stack.py`` by ``scripts/generate_sync.py``: do not edit by hand.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..._errors import APIError, APIResponseValidationError
from ..._policies._retry import retrying
from ..._transport import ATTEMPT_OPTIONS, LAST_RESPONSE, map_transport_error
from .._call import Call, forbid_resend, status_error, unparseable
from .._io import SyncDeadline, SyncEndpoint, offload
from .._runtime import Runtime

__all__ = ["SyncStack"]

# What the generated parser raises on a 2xx body it cannot read (json.JSONDecodeError is a ValueError).
_PARSE_ERRORS = (ValueError, TypeError, KeyError, AttributeError)


class SyncStack:
    """Builds the stack for one client's runtime (see the module docstring)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def wrap(self, endpoint: SyncEndpoint) -> SyncEndpoint:
        """``endpoint`` with the ledger, retries, the breaker and the limiter around each attempt."""
        rt = self.rt
        fn: SyncEndpoint = self._attempt(endpoint)
        if rt.limiter is not None:
            fn = self._limited(fn)
        fn = rt.breakers.decorate(fn)
        fn = retrying(fn, rt.retry_policy, env=rt.wait_env, on_backoff=rt.retry_scheduled, on_giveup=rt.gave_up)
        return self._ledgered(fn)

    def _ledgered(self, fn: SyncEndpoint) -> SyncEndpoint:
        rt = self.rt

        def ledgered(call: Call, **kwargs: Any) -> Any:
            if call.estimate is not None and call.reservation is None:
                call.reservation = rt.try_reserve(call.estimate) or offload(rt.reserve, call.estimate)
            try:
                value = fn(call, **kwargs)
            except BaseException as exc:
                rt.call_failed(call, exc)
                raise
            if not call.stream:  # a stream settles when it ends (see _stream)
                rt.call_ok(call)
            return value

        return ledgered

    def _limited(self, fn: SyncEndpoint) -> SyncEndpoint:
        rt = self.rt
        limiter = rt.limiter
        assert limiter is not None

        def limited(call: Call, **kwargs: Any) -> Any:
            breaker = rt.breakers.get(call.key)
            rt.waited(limiter.acquire(call.tokens, precheck=breaker.check))
            return fn(call, **kwargs)

        return limited

    def _attempt(self, endpoint: SyncEndpoint) -> SyncEndpoint:
        rt = self.rt

        def attempt(call: Call, **kwargs: Any) -> Any:
            call.begin(rt.clock())
            LAST_RESPONSE.set(None)
            ATTEMPT_OPTIONS.set((call.timeout.as_dict(), call.headers))
            try:
                with SyncDeadline(call.total):
                    response = endpoint(**kwargs)
            except APIError as judged:  # the stream opener judged its first event itself
                self._failed(call, judged, None)
                raise
            except (httpx.HTTPError, UnicodeError) as exc:
                failed = map_transport_error(exc, call.attempts)
                self._failed(call, failed, None)
                raise failed from exc
            except _PARSE_ERRORS as exc:  # the generated parser rejected a 2xx body
                raw = LAST_RESPONSE.get()
                rejected = unparseable(call, raw, exc)
                self._failed(call, rejected, raw.headers if raw is not None else None)
                raise rejected from exc
            status = int(response.status_code)
            call.answered(status, response.headers)
            if 200 <= status < 300:
                if response.parsed is None:
                    empty = APIResponseValidationError(f"Together answered {status} without a body we know",
                                                       status_code=status, body=response.content[:2000].decode(
                                                           "utf-8", "replace"), request_id=call.request_id)
                    self._failed(call, empty, response.headers)
                    raise empty
                rt.attempt_ok(call, response.headers, getattr(response.parsed, "usage", None))
                return response.parsed
            error = status_error(call, status, response.headers, response.content, wall=rt.wall())
            self._failed(call, error, response.headers)
            raise error

        return attempt

    def _failed(self, call: Call, error: APIError, headers: Any) -> None:
        """Record a failed attempt; an uncertain one is charged (off the loop: it may take a lease)."""
        forbid_resend(call, error)  # a create that may have arrived is never sent again
        if self.rt.attempt_failed(call, error, headers):
            offload(self.rt.charge_uncertain, call, error)
