from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.chat_completion_request_compliance import (
    ChatCompletionRequestCompliance,
    check_chat_completion_request_compliance,
)
from ..models.chat_completion_request_context_length_exceeded_behavior import (
    ChatCompletionRequestContextLengthExceededBehavior,
    check_chat_completion_request_context_length_exceeded_behavior,
)
from ..models.chat_completion_request_function_call_type_0 import (
    ChatCompletionRequestFunctionCallType0,
    check_chat_completion_request_function_call_type_0,
)
from ..models.chat_completion_request_reasoning_effort import (
    ChatCompletionRequestReasoningEffort,
    check_chat_completion_request_reasoning_effort,
)
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.assistant_message import AssistantMessage
    from ..models.chat_completion_request_chat_template_kwargs import (
        ChatCompletionRequestChatTemplateKwargs,
    )
    from ..models.chat_completion_request_logit_bias import (
        ChatCompletionRequestLogitBias,
    )
    from ..models.function_call_name import FunctionCallName
    from ..models.function_message import FunctionMessage
    from ..models.named_tool_choice import NamedToolChoice
    from ..models.reasoning_options import ReasoningOptions
    from ..models.response_format_json_object import ResponseFormatJsonObject
    from ..models.response_format_json_schema import ResponseFormatJsonSchema
    from ..models.response_format_text import ResponseFormatText
    from ..models.system_message import SystemMessage
    from ..models.tool import Tool
    from ..models.tool_message import ToolMessage
    from ..models.user_message import UserMessage


T = TypeVar("T", bound="ChatCompletionRequest")


@_attrs_define
class ChatCompletionRequest:
    model: str
    """ Model id, e.g. Qwen/Qwen2.5-32B-Instruct-Turbo. """
    messages: list[
        AssistantMessage | FunctionMessage | SystemMessage | ToolMessage | UserMessage
    ]
    """ The conversation so far. """
    max_tokens: int | Unset = UNSET
    """ Most tokens to generate. """
    stop: list[str] | Unset = UNSET
    """ Sequences that end generation. """
    temperature: float | Unset = UNSET
    """ Sampling temperature. """
    top_p: float | Unset = UNSET
    """ Nucleus sampling probability mass. """
    top_k: int | Unset = UNSET
    """ Consider only the k most likely tokens. """
    min_p: float | Unset = UNSET
    """ Minimum probability relative to the top token. """
    repetition_penalty: float | Unset = UNSET
    """ Penalty for repeated sequences (1 = none). """
    presence_penalty: float | Unset = UNSET
    frequency_penalty: float | Unset = UNSET
    logit_bias: ChatCompletionRequestLogitBias | Unset = UNSET
    """ Token id (as a string) to bias. """
    context_length_exceeded_behavior: (
        ChatCompletionRequestContextLengthExceededBehavior | Unset
    ) = UNSET
    """ What to do when max_tokens overflows the context (default error). """
    stream: bool | Unset = UNSET
    """ Answer as Server-Sent Events of ChatCompletionChunk. """
    logprobs: int | Unset = UNSET
    """ Top-k log probabilities per generated token (an integer, not a boolean). """
    echo: bool | Unset = UNSET
    """ Include the prompt in the response. """
    n: int | Unset = UNSET
    """ Number of completions. """
    seed: int | Unset = UNSET
    """ Seed for reproducible sampling. """
    function_call: ChatCompletionRequestFunctionCallType0 | FunctionCallName | Unset = (
        UNSET
    )
    """ Deprecated; use tools. """
    response_format: (
        ResponseFormatJsonObject | ResponseFormatJsonSchema | ResponseFormatText | Unset
    ) = UNSET
    tools: list[Tool] | Unset = UNSET
    tool_choice: NamedToolChoice | str | Unset = UNSET
    compliance: ChatCompletionRequestCompliance | Unset = UNSET
    chat_template_kwargs: ChatCompletionRequestChatTemplateKwargs | Unset = UNSET
    """ Extra arguments for the model's chat template. """
    safety_model: str | Unset = UNSET
    """ Moderation model that screens the output. """
    reasoning_effort: ChatCompletionRequestReasoningEffort | Unset = UNSET
    reasoning: ReasoningOptions | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.assistant_message import AssistantMessage
        from ..models.named_tool_choice import NamedToolChoice
        from ..models.response_format_json_schema import ResponseFormatJsonSchema
        from ..models.response_format_text import ResponseFormatText
        from ..models.system_message import SystemMessage
        from ..models.tool_message import ToolMessage
        from ..models.user_message import UserMessage

        model = self.model

        messages = []
        for messages_item_data in self.messages:
            messages_item: dict[str, Any]
            if (
                isinstance(messages_item_data, SystemMessage)
                or isinstance(messages_item_data, UserMessage)
                or isinstance(messages_item_data, AssistantMessage)
                or isinstance(messages_item_data, ToolMessage)
            ):
                messages_item = messages_item_data.to_dict()
            else:
                messages_item = messages_item_data.to_dict()

            messages.append(messages_item)

        max_tokens = self.max_tokens

        stop: list[str] | Unset = UNSET
        if not isinstance(self.stop, Unset):
            stop = self.stop

        temperature = self.temperature

        top_p = self.top_p

        top_k = self.top_k

        min_p = self.min_p

        repetition_penalty = self.repetition_penalty

        presence_penalty = self.presence_penalty

        frequency_penalty = self.frequency_penalty

        logit_bias: dict[str, Any] | Unset = UNSET
        if not isinstance(self.logit_bias, Unset):
            logit_bias = self.logit_bias.to_dict()

        context_length_exceeded_behavior: str | Unset = UNSET
        if not isinstance(self.context_length_exceeded_behavior, Unset):
            context_length_exceeded_behavior = self.context_length_exceeded_behavior

        stream = self.stream

        logprobs = self.logprobs

        echo = self.echo

        n = self.n

        seed = self.seed

        function_call: dict[str, Any] | str | Unset
        if isinstance(self.function_call, Unset):
            function_call = UNSET
        elif isinstance(self.function_call, str):
            function_call = self.function_call
        else:
            function_call = self.function_call.to_dict()

        response_format: dict[str, Any] | Unset
        if isinstance(self.response_format, Unset):
            response_format = UNSET
        elif isinstance(self.response_format, ResponseFormatText) or isinstance(
            self.response_format, ResponseFormatJsonSchema
        ):
            response_format = self.response_format.to_dict()
        else:
            response_format = self.response_format.to_dict()

        tools: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.tools, Unset):
            tools = []
            for tools_item_data in self.tools:
                tools_item = tools_item_data.to_dict()
                tools.append(tools_item)

        tool_choice: dict[str, Any] | str | Unset
        if isinstance(self.tool_choice, Unset):
            tool_choice = UNSET
        elif isinstance(self.tool_choice, NamedToolChoice):
            tool_choice = self.tool_choice.to_dict()
        else:
            tool_choice = self.tool_choice

        compliance: str | Unset = UNSET
        if not isinstance(self.compliance, Unset):
            compliance = self.compliance

        chat_template_kwargs: dict[str, Any] | Unset = UNSET
        if not isinstance(self.chat_template_kwargs, Unset):
            chat_template_kwargs = self.chat_template_kwargs.to_dict()

        safety_model = self.safety_model

        reasoning_effort: str | Unset = UNSET
        if not isinstance(self.reasoning_effort, Unset):
            reasoning_effort = self.reasoning_effort

        reasoning: dict[str, Any] | Unset = UNSET
        if not isinstance(self.reasoning, Unset):
            reasoning = self.reasoning.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "model": model,
                "messages": messages,
            }
        )
        if max_tokens is not UNSET:
            field_dict["max_tokens"] = max_tokens
        if stop is not UNSET:
            field_dict["stop"] = stop
        if temperature is not UNSET:
            field_dict["temperature"] = temperature
        if top_p is not UNSET:
            field_dict["top_p"] = top_p
        if top_k is not UNSET:
            field_dict["top_k"] = top_k
        if min_p is not UNSET:
            field_dict["min_p"] = min_p
        if repetition_penalty is not UNSET:
            field_dict["repetition_penalty"] = repetition_penalty
        if presence_penalty is not UNSET:
            field_dict["presence_penalty"] = presence_penalty
        if frequency_penalty is not UNSET:
            field_dict["frequency_penalty"] = frequency_penalty
        if logit_bias is not UNSET:
            field_dict["logit_bias"] = logit_bias
        if context_length_exceeded_behavior is not UNSET:
            field_dict["context_length_exceeded_behavior"] = (
                context_length_exceeded_behavior
            )
        if stream is not UNSET:
            field_dict["stream"] = stream
        if logprobs is not UNSET:
            field_dict["logprobs"] = logprobs
        if echo is not UNSET:
            field_dict["echo"] = echo
        if n is not UNSET:
            field_dict["n"] = n
        if seed is not UNSET:
            field_dict["seed"] = seed
        if function_call is not UNSET:
            field_dict["function_call"] = function_call
        if response_format is not UNSET:
            field_dict["response_format"] = response_format
        if tools is not UNSET:
            field_dict["tools"] = tools
        if tool_choice is not UNSET:
            field_dict["tool_choice"] = tool_choice
        if compliance is not UNSET:
            field_dict["compliance"] = compliance
        if chat_template_kwargs is not UNSET:
            field_dict["chat_template_kwargs"] = chat_template_kwargs
        if safety_model is not UNSET:
            field_dict["safety_model"] = safety_model
        if reasoning_effort is not UNSET:
            field_dict["reasoning_effort"] = reasoning_effort
        if reasoning is not UNSET:
            field_dict["reasoning"] = reasoning

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.assistant_message import AssistantMessage
        from ..models.chat_completion_request_chat_template_kwargs import (
            ChatCompletionRequestChatTemplateKwargs,
        )
        from ..models.chat_completion_request_logit_bias import (
            ChatCompletionRequestLogitBias,
        )
        from ..models.function_call_name import FunctionCallName
        from ..models.function_message import FunctionMessage
        from ..models.named_tool_choice import NamedToolChoice
        from ..models.reasoning_options import ReasoningOptions
        from ..models.response_format_json_object import ResponseFormatJsonObject
        from ..models.response_format_json_schema import ResponseFormatJsonSchema
        from ..models.response_format_text import ResponseFormatText
        from ..models.system_message import SystemMessage
        from ..models.tool import Tool
        from ..models.tool_message import ToolMessage
        from ..models.user_message import UserMessage

        d = dict(src_dict)
        model = d.pop("model")

        messages = []
        _messages = d.pop("messages")
        for messages_item_data in _messages:

            def _parse_messages_item(
                data: object,
            ) -> (
                AssistantMessage
                | FunctionMessage
                | SystemMessage
                | ToolMessage
                | UserMessage
            ):
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_chat_message_type_0 = SystemMessage.from_dict(
                        data
                    )

                    return componentsschemas_chat_message_type_0
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_chat_message_type_1 = UserMessage.from_dict(data)

                    return componentsschemas_chat_message_type_1
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_chat_message_type_2 = AssistantMessage.from_dict(
                        data
                    )

                    return componentsschemas_chat_message_type_2
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_chat_message_type_3 = ToolMessage.from_dict(data)

                    return componentsschemas_chat_message_type_3
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_chat_message_type_4 = FunctionMessage.from_dict(data)

                return componentsschemas_chat_message_type_4

            messages_item = _parse_messages_item(messages_item_data)

            messages.append(messages_item)

        max_tokens = d.pop("max_tokens", UNSET)

        stop = cast(list[str], d.pop("stop", UNSET))

        temperature = d.pop("temperature", UNSET)

        top_p = d.pop("top_p", UNSET)

        top_k = d.pop("top_k", UNSET)

        min_p = d.pop("min_p", UNSET)

        repetition_penalty = d.pop("repetition_penalty", UNSET)

        presence_penalty = d.pop("presence_penalty", UNSET)

        frequency_penalty = d.pop("frequency_penalty", UNSET)

        _logit_bias = d.pop("logit_bias", UNSET)
        logit_bias: ChatCompletionRequestLogitBias | Unset
        if isinstance(_logit_bias, Unset):
            logit_bias = UNSET
        else:
            logit_bias = ChatCompletionRequestLogitBias.from_dict(_logit_bias)

        _context_length_exceeded_behavior = d.pop(
            "context_length_exceeded_behavior", UNSET
        )
        context_length_exceeded_behavior: (
            ChatCompletionRequestContextLengthExceededBehavior | Unset
        )
        if isinstance(_context_length_exceeded_behavior, Unset):
            context_length_exceeded_behavior = UNSET
        else:
            context_length_exceeded_behavior = (
                check_chat_completion_request_context_length_exceeded_behavior(
                    _context_length_exceeded_behavior
                )
            )

        stream = d.pop("stream", UNSET)

        logprobs = d.pop("logprobs", UNSET)

        echo = d.pop("echo", UNSET)

        n = d.pop("n", UNSET)

        seed = d.pop("seed", UNSET)

        def _parse_function_call(
            data: object,
        ) -> ChatCompletionRequestFunctionCallType0 | FunctionCallName | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                function_call_type_0 = (
                    check_chat_completion_request_function_call_type_0(data)
                )

                return function_call_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            function_call_type_1 = FunctionCallName.from_dict(data)

            return function_call_type_1

        function_call = _parse_function_call(d.pop("function_call", UNSET))

        def _parse_response_format(
            data: object,
        ) -> (
            ResponseFormatJsonObject
            | ResponseFormatJsonSchema
            | ResponseFormatText
            | Unset
        ):
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_format_type_0 = ResponseFormatText.from_dict(data)

                return response_format_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_format_type_1 = ResponseFormatJsonSchema.from_dict(data)

                return response_format_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            response_format_type_2 = ResponseFormatJsonObject.from_dict(data)

            return response_format_type_2

        response_format = _parse_response_format(d.pop("response_format", UNSET))

        _tools = d.pop("tools", UNSET)
        tools: list[Tool] | Unset = UNSET
        if _tools is not UNSET:
            tools = []
            for tools_item_data in _tools:
                tools_item = Tool.from_dict(tools_item_data)

                tools.append(tools_item)

        def _parse_tool_choice(data: object) -> NamedToolChoice | str | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                tool_choice_type_1 = NamedToolChoice.from_dict(data)

                return tool_choice_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(NamedToolChoice | str | Unset, data)

        tool_choice = _parse_tool_choice(d.pop("tool_choice", UNSET))

        _compliance = d.pop("compliance", UNSET)
        compliance: ChatCompletionRequestCompliance | Unset
        if isinstance(_compliance, Unset):
            compliance = UNSET
        else:
            compliance = check_chat_completion_request_compliance(_compliance)

        _chat_template_kwargs = d.pop("chat_template_kwargs", UNSET)
        chat_template_kwargs: ChatCompletionRequestChatTemplateKwargs | Unset
        if isinstance(_chat_template_kwargs, Unset):
            chat_template_kwargs = UNSET
        else:
            chat_template_kwargs = ChatCompletionRequestChatTemplateKwargs.from_dict(
                _chat_template_kwargs
            )

        safety_model = d.pop("safety_model", UNSET)

        _reasoning_effort = d.pop("reasoning_effort", UNSET)
        reasoning_effort: ChatCompletionRequestReasoningEffort | Unset
        if isinstance(_reasoning_effort, Unset):
            reasoning_effort = UNSET
        else:
            reasoning_effort = check_chat_completion_request_reasoning_effort(
                _reasoning_effort
            )

        _reasoning = d.pop("reasoning", UNSET)
        reasoning: ReasoningOptions | Unset
        if isinstance(_reasoning, Unset):
            reasoning = UNSET
        else:
            reasoning = ReasoningOptions.from_dict(_reasoning)

        chat_completion_request = cls(
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            stop=stop,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            min_p=min_p,
            repetition_penalty=repetition_penalty,
            presence_penalty=presence_penalty,
            frequency_penalty=frequency_penalty,
            logit_bias=logit_bias,
            context_length_exceeded_behavior=context_length_exceeded_behavior,
            stream=stream,
            logprobs=logprobs,
            echo=echo,
            n=n,
            seed=seed,
            function_call=function_call,
            response_format=response_format,
            tools=tools,
            tool_choice=tool_choice,
            compliance=compliance,
            chat_template_kwargs=chat_template_kwargs,
            safety_model=safety_model,
            reasoning_effort=reasoning_effort,
            reasoning=reasoning,
        )

        chat_completion_request.additional_properties = d
        return chat_completion_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
