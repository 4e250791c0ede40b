from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="FileObject")


@_attrs_define
class FileObject:
    """An uploaded file. Together's spec lists more required keys than real bodies carry, so only `id` is required."""

    id: str
    object_: str | Unset = UNSET
    created_at: int | Unset = UNSET
    filename: str | Unset = UNSET
    bytes_: int | Unset = UNSET
    purpose: str | Unset = UNSET
    """ batch-api, batch-generated, fine-tune, ... (open set). """
    file_type: str | Unset = UNSET
    processed: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        object_ = self.object_

        created_at = self.created_at

        filename = self.filename

        bytes_ = self.bytes_

        purpose = self.purpose

        file_type = self.file_type

        processed = self.processed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
            }
        )
        if object_ is not UNSET:
            field_dict["object"] = object_
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if filename is not UNSET:
            field_dict["filename"] = filename
        if bytes_ is not UNSET:
            field_dict["bytes"] = bytes_
        if purpose is not UNSET:
            field_dict["purpose"] = purpose
        if file_type is not UNSET:
            field_dict["FileType"] = file_type
        if processed is not UNSET:
            field_dict["Processed"] = processed

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        object_ = d.pop("object", UNSET)

        created_at = d.pop("created_at", UNSET)

        filename = d.pop("filename", UNSET)

        bytes_ = d.pop("bytes", UNSET)

        purpose = d.pop("purpose", UNSET)

        file_type = d.pop("FileType", UNSET)

        processed = d.pop("Processed", UNSET)

        file_object = cls(
            id=id,
            object_=object_,
            created_at=created_at,
            filename=filename,
            bytes_=bytes_,
            purpose=purpose,
            file_type=file_type,
            processed=processed,
        )

        file_object.additional_properties = d
        return file_object

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
