"""wrapper: a typed, budget-safe, resilient sync + async SDK for Together AI chat completions.

    from wrapper import Client

    with Client() as client:
        reply = client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], max_tokens=64)
        print(reply.choices[0].message.content)

Logging is off by default; turn it on with ``loguru.logger.enable("wrapper")`` after
importing this package, or ``wrapper.enable_json_logs()``.
"""

from __future__ import annotations

import contextlib as _contextlib
import importlib as _importlib
from typing import TYPE_CHECKING, Any

from loguru import logger as _logger

from ._version import __version__

# Quiet by default: the application opts in with logger.enable("wrapper") after importing us.
_logger.disable("wrapper")

# Every public name and the private module that defines it. Importing ``wrapper`` loads none of them: each is
# imported on first use, so ``import wrapper`` stays cheap (benchmarks/bench_import.py) and the CLI, the
# dashboard, prometheus and the database drivers load only when asked for.
_EXPORTS: dict[str, str] = {
    "APIConnectionError": "._errors",
    "APIError": "._errors",
    "APIResponseValidationError": "._errors",
    "APIStatusError": "._errors",
    "APITimeoutError": "._errors",
    "AssistantMessage": "._types",
    "AsyncClient": "._pipeline._async._client",
    "AsyncStream": "._pipeline._async._stream",
    "BatchJob": "._types",
    "AuthenticationError": "._errors",
    "BadRequestError": "._errors",
    "BreakerStateChanged": "._observe._events",
    "BudgetBoundExceeded": "._observe._events",
    "BudgetExceededError": "._errors",
    "BudgetThreshold": "._observe._events",
    "CallFailed": "._observe._events",
    "ChatCompletionChoice": "._types",
    "ChatCompletionChunk": "._types",
    "ChatCompletionResponse": "._types",
    "CircuitOpenError": "._errors",
    "Client": "._pipeline._sync._client",
    "CompletionParams": "._types",
    "ConfigError": "._errors",
    "ConfirmationRequiredError": "._errors",
    "CreditLimitError": "._errors",
    "ENV_VARS": "._settings",
    "Event": "._observe._events",
    "EventHook": "._observe._events",
    "FileObject": "._types",
    "FunctionMessage": "._types",
    "LocalRateLimitTimeout": "._errors",
    "MessageParam": "._types",
    "MetricsSnapshot": "._observe._snapshot",
    "ModelAlternative": "._pipeline._catalog",
    "ModelCheck": "._pipeline._catalog",
    "ModelFallback": "._observe._events",
    "ModelInfo": "._types",
    "ModelNotAvailableError": "._errors",
    "NotFoundError": "._errors",
    "PaymentRequiredError": "._errors",
    "PermissionDeniedError": "._errors",
    "Pricing": "._types",
    "QueueDepthHigh": "._observe._events",
    "RateLimitError": "._errors",
    "RateLimitStorm": "._observe._events",
    "RawResponse": "._types",
    "RateLimited": "._observe._events",
    "RequestValidationError": "._errors",
    "ResponseMessage": "._types",
    "RetryScheduled": "._observe._events",
    "Secret": "._settings_fields",
    "ServerError": "._errors",
    "Settings": "._settings",
    "Stream": "._pipeline._sync._stream",
    "StreamError": "._errors",
    "SystemMessage": "._types",
    "TogetherError": "._errors",
    "ToolCall": "._types",
    "ToolMessage": "._types",
    "UncertainCharge": "._observe._events",
    "UnprocessableEntityError": "._errors",
    "Usage": "._types",
    "UserMessage": "._types",
    "enable_json_logs": "._observe._log",
}

if TYPE_CHECKING:
    from . import reports
    from ._errors import (
        APIConnectionError,
        APIError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BudgetExceededError,
        CircuitOpenError,
        ConfigError,
        ConfirmationRequiredError,
        CreditLimitError,
        LocalRateLimitTimeout,
        ModelNotAvailableError,
        NotFoundError,
        PaymentRequiredError,
        PermissionDeniedError,
        RateLimitError,
        RequestValidationError,
        ServerError,
        StreamError,
        TogetherError,
        UnprocessableEntityError,
    )
    from ._observe._events import (
        BreakerStateChanged,
        BudgetBoundExceeded,
        BudgetThreshold,
        CallFailed,
        Event,
        EventHook,
        ModelFallback,
        QueueDepthHigh,
        RateLimited,
        RateLimitStorm,
        RetryScheduled,
        UncertainCharge,
    )
    from ._observe._log import (
        enable_json_logs,
    )
    from ._observe._snapshot import (
        MetricsSnapshot,
    )
    from ._pipeline._async._client import (
        AsyncClient,
    )
    from ._pipeline._async._stream import (
        AsyncStream,
    )
    from ._pipeline._catalog import (
        ModelAlternative,
        ModelCheck,
    )
    from ._pipeline._sync._client import (
        Client,
    )
    from ._pipeline._sync._stream import (
        Stream,
    )
    from ._settings import (
        ENV_VARS,
        Settings,
    )
    from ._settings_fields import (
        Secret,
    )
    from ._types import (
        AssistantMessage,
        BatchJob,
        ChatCompletionChoice,
        ChatCompletionChunk,
        ChatCompletionResponse,
        CompletionParams,
        FileObject,
        FunctionMessage,
        MessageParam,
        ModelInfo,
        Pricing,
        RawResponse,
        ResponseMessage,
        SystemMessage,
        ToolCall,
        ToolMessage,
        Usage,
        UserMessage,
    )

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AssistantMessage",
    "AsyncClient",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "BatchJob",
    "BreakerStateChanged",
    "BudgetBoundExceeded",
    "BudgetExceededError",
    "BudgetThreshold",
    "CallFailed",
    "ChatCompletionChoice",
    "ChatCompletionChunk",
    "ChatCompletionResponse",
    "CircuitOpenError",
    "Client",
    "CompletionParams",
    "ConfigError",
    "ConfirmationRequiredError",
    "CreditLimitError",
    "ENV_VARS",
    "Event",
    "EventHook",
    "FileObject",
    "FunctionMessage",
    "LocalRateLimitTimeout",
    "MessageParam",
    "MetricsSnapshot",
    "ModelAlternative",
    "ModelCheck",
    "ModelFallback",
    "ModelInfo",
    "ModelNotAvailableError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "Pricing",
    "QueueDepthHigh",
    "RateLimitError",
    "RateLimitStorm",
    "RateLimited",
    "RawResponse",
    "RequestValidationError",
    "ResponseMessage",
    "RetryScheduled",
    "Secret",
    "ServerError",
    "Settings",
    "Stream",
    "StreamError",
    "SystemMessage",
    "TogetherError",
    "ToolCall",
    "ToolMessage",
    "UncertainCharge",
    "UnprocessableEntityError",
    "Usage",
    "UserMessage",
    "__version__",
    "enable_json_logs",
    "reports",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use; tracebacks and reprs then show ``wrapper.X``, not the private module."""
    if name == "reports":
        return _importlib.import_module(".reports", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wrapper' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    if getattr(value, "__module__", "").startswith("wrapper._"):
        with _contextlib.suppress(AttributeError, TypeError):  # some objects (aliases) have a fixed module
            value.__module__ = "wrapper"
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(name for name in set(globals()) | set(__all__) if name not in _PRIVATE)


_PRIVATE = frozenset({"TYPE_CHECKING", "Any", "annotations"})
