from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="BatchCreateRequest")


@_attrs_define
class BatchCreateRequest:
    endpoint: str
    """ The endpoint every line is sent to, `/v1/chat/completions`. """
    input_file_id: str
    """ The uploaded JSONL (`purpose=batch-api`), one `{"custom_id", "body"}` per line. """
    completion_window: str | Unset = UNSET
    """ How long Together may take, e.g. `24h`. """
    priority: int | Unset = UNSET
    model_id: str | Unset = UNSET
    """ The model of every line, when all lines use one. """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        endpoint = self.endpoint

        input_file_id = self.input_file_id

        completion_window = self.completion_window

        priority = self.priority

        model_id = self.model_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "endpoint": endpoint,
                "input_file_id": input_file_id,
            }
        )
        if completion_window is not UNSET:
            field_dict["completion_window"] = completion_window
        if priority is not UNSET:
            field_dict["priority"] = priority
        if model_id is not UNSET:
            field_dict["model_id"] = model_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        endpoint = d.pop("endpoint")

        input_file_id = d.pop("input_file_id")

        completion_window = d.pop("completion_window", UNSET)

        priority = d.pop("priority", UNSET)

        model_id = d.pop("model_id", UNSET)

        batch_create_request = cls(
            endpoint=endpoint,
            input_file_id=input_file_id,
            completion_window=completion_window,
            priority=priority,
            model_id=model_id,
        )

        batch_create_request.additional_properties = d
        return batch_create_request

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
