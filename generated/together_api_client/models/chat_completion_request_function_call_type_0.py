from typing import Literal

ChatCompletionRequestFunctionCallType0 = Literal["auto", "none"]

CHAT_COMPLETION_REQUEST_FUNCTION_CALL_TYPE_0_VALUES: set[
    ChatCompletionRequestFunctionCallType0
] = {
    "auto",
    "none",
}


def check_chat_completion_request_function_call_type_0(
    value: str,
) -> ChatCompletionRequestFunctionCallType0:
    if value in CHAT_COMPLETION_REQUEST_FUNCTION_CALL_TYPE_0_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {CHAT_COMPLETION_REQUEST_FUNCTION_CALL_TYPE_0_VALUES!r}"
    )
