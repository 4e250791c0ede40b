from typing import Literal

ChatCompletionRequestContextLengthExceededBehavior = Literal["error", "truncate"]

CHAT_COMPLETION_REQUEST_CONTEXT_LENGTH_EXCEEDED_BEHAVIOR_VALUES: set[
    ChatCompletionRequestContextLengthExceededBehavior
] = {
    "error",
    "truncate",
}


def check_chat_completion_request_context_length_exceeded_behavior(
    value: str,
) -> ChatCompletionRequestContextLengthExceededBehavior:
    if value in CHAT_COMPLETION_REQUEST_CONTEXT_LENGTH_EXCEEDED_BEHAVIOR_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {CHAT_COMPLETION_REQUEST_CONTEXT_LENGTH_EXCEEDED_BEHAVIOR_VALUES!r}"
    )
