from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from .. import types
from ..models.file_upload_form_file_type import (
    FileUploadFormFileType,
    check_file_upload_form_file_type,
)
from ..models.file_upload_form_purpose import (
    FileUploadFormPurpose,
    check_file_upload_form_purpose,
)
from ..types import UNSET, File, Unset

T = TypeVar("T", bound="FileUploadForm")


@_attrs_define
class FileUploadForm:
    purpose: FileUploadFormPurpose
    """ What the file is for; a Batch API input is `batch-api`. """
    file_name: str
    """ The name stored with the file. """
    file: File
    """ The bytes. """
    file_type: FileUploadFormFileType | Unset = UNSET
    """ The format (default jsonl). """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        purpose: str = self.purpose

        file_name = self.file_name

        file = self.file.to_tuple()

        file_type: str | Unset = UNSET
        if not isinstance(self.file_type, Unset):
            file_type = self.file_type

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "purpose": purpose,
                "file_name": file_name,
                "file": file,
            }
        )
        if file_type is not UNSET:
            field_dict["file_type"] = file_type

        return field_dict

    def to_multipart(self) -> types.RequestFiles:
        files: types.RequestFiles = []

        files.append(("purpose", (None, str(self.purpose).encode(), "text/plain")))

        files.append(("file_name", (None, str(self.file_name).encode(), "text/plain")))

        files.append(("file", self.file.to_tuple()))

        if not isinstance(self.file_type, Unset):
            files.append(
                ("file_type", (None, str(self.file_type).encode(), "text/plain"))
            )

        for prop_name, prop in self.additional_properties.items():
            files.append((prop_name, (None, str(prop).encode(), "text/plain")))

        return files

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        purpose = check_file_upload_form_purpose(d.pop("purpose"))

        file_name = d.pop("file_name")

        file = File(payload=BytesIO(d.pop("file")))

        _file_type = d.pop("file_type", UNSET)
        file_type: FileUploadFormFileType | Unset
        if isinstance(_file_type, Unset):
            file_type = UNSET
        else:
            file_type = check_file_upload_form_file_type(_file_type)

        file_upload_form = cls(
            purpose=purpose,
            file_name=file_name,
            file=file,
            file_type=file_type,
        )

        file_upload_form.additional_properties = d
        return file_upload_form

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
