"""The loguru adapter: structured, redacted logging — the only module that imports loguru.

Quiet by default: ``wrapper/__init__.py`` calls ``logger.disable("wrapper")``, so a
library never prints unless the application asks. To see the records, either::

    import wrapper
    wrapper.enable_json_logs()            # one JSON object per line on stderr

or, after importing ``wrapper`` (our import-time disable undoes an earlier enable)::

    from loguru import logger
    logger.enable("wrapper")              # then add sinks of your own

Every logger from :func:`get_logger` runs a redaction patch over the message and every
``extra`` value (recursively through str/dict/list/tuple) before any sink sees the record:
``sk-…`` and ``tgp_v1_…`` keys, ``Bearer <token>``, ``Authorization: <value>``,
``api_key=<value>``, 48+ character hex runs, and every exact value given to
:func:`register_secret` become ``[REDACTED]``; logged exceptions keep type and redacted
message but drop their traceback (see :func:`_redact_record`). Message contents (prompts, completions)
are never passed to these functions by the core unless the user opted in on the client.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TextIO, cast

import attrs
from loguru import logger

from .._redact import REDACTED, redact, register_secret
from ._events import Event

__all__ = ["REDACTED", "enable_json_logs", "get_logger", "log_attempt", "log_event", "redact", "register_secret"]


def _scrub(value: Any) -> Any:
    """Redact a value for ``extra``: containers are copied (never mutated), unknown objects become strings."""
    if value is None or isinstance(value, (bool, int, float, Decimal)):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {_scrub(k) if isinstance(k, str) else k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_scrub(v) for v in value]
    # An object's str() could embed a secret (a headers object, an exception): log its redacted text only.
    return redact(str(value))


class _LoggedError(Exception):
    """Stands in for a logged exception: its redacted text only, no traceback, no chained causes."""


def _redact_record(record: Any) -> None:
    """loguru patcher: scrub the message, every extra value and the exception, in place.

    The exception keeps its type and redacted message but loses its traceback: loguru's
    ``diagnose`` mode (on by default in ``logger.add``) prints every frame's local variables,
    which can hold the key (request headers, settings); a patch cannot scrub what the sink renders.
    """
    record["message"] = redact(record["message"])
    record["extra"] = {key: _scrub(val) for key, val in record["extra"].items()}
    exc = record["exception"]
    if exc is not None and exc.type is not None:
        record["exception"] = type(exc)(exc.type, _stand_in(exc.type)(_exception_text(exc.value)), None)


@functools.lru_cache(maxsize=256)
def _stand_in(original: type[BaseException]) -> type[_LoggedError]:
    """A _LoggedError subclass named like ``original``, so sinks still print the real exception type."""
    names = {"__module__": original.__module__, "__qualname__": original.__qualname__}
    return cast("type[_LoggedError]", type(original.__name__, (_LoggedError,), names))


def _exception_text(value: BaseException | None) -> str:
    """The redacted message of an exception and of its direct cause, on one line."""
    if value is None:
        return ""
    text = redact(str(value))
    cause = value.__cause__ or value.__context__
    return f"{text} (from {type(cause).__name__}: {redact(str(cause))})" if cause is not None else text


def get_logger(component: str) -> Any:
    """Return a redacting loguru logger bound to ``component`` (the ``extra.component`` field).

    Args:
        component: short name of the emitting part, e.g. ``"retry"``, ``"breaker"``, ``"client"``.

    Returns:
        A loguru logger; every record it emits passes through :func:`redact`.
    """
    return logger.patch(_redact_record).bind(component=component)


def enable_json_logs(sink: TextIO | Any = sys.stderr, level: str = "INFO") -> int:
    """Turn on wrapper's logs as one JSON object per line; the documented one-liner.

    Calls ``logger.enable("wrapper")`` and adds a serialized sink filtered to ``wrapper``
    records. ``diagnose`` is off so tracebacks never print local variables (which could
    hold a key). Remove it again with ``loguru.logger.remove(handler_id)``.

    So that each record is written once, and only where asked: if loguru's own default
    stderr handler (id 0) is still installed, it is replaced by an identical stderr handler
    that skips ``wrapper`` records (the application's other records still print as before).
    Handlers the application added itself are never touched.

    Args:
        sink: anything loguru accepts as a sink (stream, path, callable); default stderr.
        level: minimum level name, e.g. ``"DEBUG"`` to also see per-attempt records.

    Returns:
        The loguru handler id of the JSON sink.
    """
    logger.enable("wrapper")
    _replace_default_handler()
    return logger.add(sink, level=level, serialize=True, filter="wrapper", diagnose=False, backtrace=False)


def _not_ours(record: Any) -> bool:
    name = record["name"] or ""
    return not (name == "wrapper" or name.startswith("wrapper."))


def _replace_default_handler() -> None:
    """Remove loguru's default handler (id 0) if still there; re-add stderr for every record but ours."""
    try:
        logger.remove(0)
    except ValueError:  # already removed, by the application or by an earlier call
        return
    logger.add(sys.stderr, filter=_not_ours)


_events_log = get_logger("events")


def log_attempt(
    log: Any,
    *,
    request_id: str | None,
    model: str,
    status: int | None,
    latency_s: float | None,
    attempt: int,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cost_usd: Decimal | None,
    outcome: str,
) -> None:
    """Emit the one structured record for an attempt (INFO if ``ok``, WARNING otherwise).

    Args:
        log: a logger from :func:`get_logger` (its ``component`` is kept).
        request_id: Together's request id (``x-request-id``) or ours when none came back.
        model: model id.
        status: HTTP status, ``None`` when no response arrived.
        latency_s: seconds from send to settle, ``None`` if unknown.
        attempt: 1 for the first try, 2 for the first retry, ...
        prompt_tokens: tokens in, from usage (``None`` if not reported).
        completion_tokens: tokens out, from usage (``None`` if not reported).
        cost_usd: the charge for this attempt, ``None`` if not priced.
        outcome: a short fixed word (``ok``, ``error``, ``uncertain``, ``rate_limited`` ...).
    """
    # keyword arguments of a loguru call land in the record's extra, as bind() would put them, without the new
    # logger bind() builds: this runs once per attempt
    log.log("INFO" if outcome == "ok" else "WARNING", "attempt {} {} -> {} (status {})", attempt, model, outcome,
            status, event="attempt", request_id=request_id, model=model, status=status,
            latency_s=None if latency_s is None else round(latency_s, 6), attempt=attempt,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            cost_usd=None if cost_usd is None else str(cost_usd), outcome=outcome)


def log_event(event: Event) -> None:
    """Log a typed :class:`~wrapper._observe._events.Event` at WARNING; the default ``on_event`` hook.

    Each attrs field of the event becomes an ``extra`` field; Decimals are written as strings.
    """
    fields = {key: str(val) if isinstance(val, Decimal) else val for key, val in attrs.asdict(event).items()}
    name = type(event).__name__
    summary = ", ".join(f"{key}={val}" for key, val in fields.items() if key != "at")
    _events_log.bind(event=name, **fields).warning("{}: {}", name, summary)
