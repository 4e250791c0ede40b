from typing import Literal

ChatCompletionRequestCompliance = Literal["hipaa"]

CHAT_COMPLETION_REQUEST_COMPLIANCE_VALUES: set[ChatCompletionRequestCompliance] = {
    "hipaa",
}


def check_chat_completion_request_compliance(
    value: str,
) -> ChatCompletionRequestCompliance:
    if value in CHAT_COMPLETION_REQUEST_COMPLIANCE_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {CHAT_COMPLETION_REQUEST_COMPLIANCE_VALUES!r}"
    )
