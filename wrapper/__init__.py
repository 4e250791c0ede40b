"""wrapper: a typed, budget-safe, resilient sync + async SDK for Together AI chat completions.

    from wrapper import Client

    with Client() as client:
        reply = client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], max_tokens=64)
        print(reply.choices[0].message.content)

Logging is off by default; turn it on with ``loguru.logger.enable("wrapper")`` after
importing this package, or ``wrapper.enable_json_logs()``.
"""

from contextlib import suppress as _suppress

from loguru import logger as _logger

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
    Event,
    EventHook,
    QueueDepthHigh,
    RateLimited,
    RetryScheduled,
    UncertainCharge,
)
from ._observe._log import enable_json_logs
from ._observe._metrics import MetricsSnapshot
from ._pipeline._async_client import AsyncClient
from ._pipeline._streaming import AsyncStream, Stream
from ._pipeline._sync_client import Client
from ._settings import ENV_VARS, Secret, Settings
from ._types import (
    AssistantMessage,
    ChatCompletionChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    CompletionParams,
    FunctionMessage,
    MessageParam,
    ModelInfo,
    Pricing,
    ResponseMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from ._version import __version__

_logger.disable("wrapper")

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
    "BreakerStateChanged",
    "BudgetBoundExceeded",
    "BudgetExceededError",
    "BudgetThreshold",
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
    "FunctionMessage",
    "LocalRateLimitTimeout",
    "MessageParam",
    "MetricsSnapshot",
    "ModelInfo",
    "ModelNotAvailableError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "Pricing",
    "QueueDepthHigh",
    "RateLimitError",
    "RateLimited",
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

# Tracebacks and reprs show the public path (wrapper.Client), not the private module.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("wrapper._"):
        with _suppress(AttributeError, TypeError):
            _obj.__module__ = "wrapper"
del _name, _obj
