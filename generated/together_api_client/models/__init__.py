"""Contains all the data models used in inputs/outputs"""

from .assistant_message import AssistantMessage
from .audio_url_part import AudioUrlPart
from .batch_create_request import BatchCreateRequest
from .batch_created import BatchCreated
from .batch_job import BatchJob
from .chat_completion_choice import ChatCompletionChoice
from .chat_completion_chunk import ChatCompletionChunk
from .chat_completion_request import ChatCompletionRequest
from .chat_completion_request_chat_template_kwargs import (
    ChatCompletionRequestChatTemplateKwargs,
)
from .chat_completion_request_compliance import ChatCompletionRequestCompliance
from .chat_completion_request_context_length_exceeded_behavior import (
    ChatCompletionRequestContextLengthExceededBehavior,
)
from .chat_completion_request_function_call_type_0 import (
    ChatCompletionRequestFunctionCallType0,
)
from .chat_completion_request_logit_bias import ChatCompletionRequestLogitBias
from .chat_completion_request_reasoning_effort import (
    ChatCompletionRequestReasoningEffort,
)
from .chat_completion_response import ChatCompletionResponse
from .chunk_choice import ChunkChoice
from .chunk_delta import ChunkDelta
from .chunk_function_call import ChunkFunctionCall
from .chunk_tool_call import ChunkToolCall
from .error_data import ErrorData
from .error_detail import ErrorDetail
from .file_list import FileList
from .file_object import FileObject
from .file_upload_form import FileUploadForm
from .file_upload_form_file_type import FileUploadFormFileType
from .file_upload_form_purpose import FileUploadFormPurpose
from .function_call import FunctionCall
from .function_call_name import FunctionCallName
from .function_definition import FunctionDefinition
from .function_definition_parameters import FunctionDefinitionParameters
from .function_message import FunctionMessage
from .image_url_part import ImageUrlPart
from .inference_warning import InferenceWarning
from .input_audio import InputAudio
from .input_audio_format import InputAudioFormat
from .input_audio_part import InputAudioPart
from .json_schema_format import JsonSchemaFormat
from .json_schema_format_schema import JsonSchemaFormatSchema
from .logprobs import Logprobs
from .logprobs_top_logprobs_type_0_item import LogprobsTopLogprobsType0Item
from .media_url import MediaUrl
from .model_info import ModelInfo
from .named_tool_choice import NamedToolChoice
from .pricing import Pricing
from .prompt_part import PromptPart
from .reasoning_options import ReasoningOptions
from .response_format_json_object import ResponseFormatJsonObject
from .response_format_json_schema import ResponseFormatJsonSchema
from .response_format_text import ResponseFormatText
from .response_message import ResponseMessage
from .system_message import SystemMessage
from .text_part import TextPart
from .tool import Tool
from .tool_call import ToolCall
from .tool_message import ToolMessage
from .usage import Usage
from .user_message import UserMessage
from .video_url_part import VideoUrlPart

__all__ = (
    "AssistantMessage",
    "AudioUrlPart",
    "BatchCreateRequest",
    "BatchCreated",
    "BatchJob",
    "ChatCompletionChoice",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatCompletionRequestChatTemplateKwargs",
    "ChatCompletionRequestCompliance",
    "ChatCompletionRequestContextLengthExceededBehavior",
    "ChatCompletionRequestFunctionCallType0",
    "ChatCompletionRequestLogitBias",
    "ChatCompletionRequestReasoningEffort",
    "ChatCompletionResponse",
    "ChunkChoice",
    "ChunkDelta",
    "ChunkFunctionCall",
    "ChunkToolCall",
    "ErrorData",
    "ErrorDetail",
    "FileList",
    "FileObject",
    "FileUploadForm",
    "FileUploadFormFileType",
    "FileUploadFormPurpose",
    "FunctionCall",
    "FunctionCallName",
    "FunctionDefinition",
    "FunctionDefinitionParameters",
    "FunctionMessage",
    "ImageUrlPart",
    "InferenceWarning",
    "InputAudio",
    "InputAudioFormat",
    "InputAudioPart",
    "JsonSchemaFormat",
    "JsonSchemaFormatSchema",
    "Logprobs",
    "LogprobsTopLogprobsType0Item",
    "MediaUrl",
    "ModelInfo",
    "NamedToolChoice",
    "Pricing",
    "PromptPart",
    "ReasoningOptions",
    "ResponseFormatJsonObject",
    "ResponseFormatJsonSchema",
    "ResponseFormatText",
    "ResponseMessage",
    "SystemMessage",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolMessage",
    "Usage",
    "UserMessage",
    "VideoUrlPart",
)
