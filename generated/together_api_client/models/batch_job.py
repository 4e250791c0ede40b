from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="BatchJob")


@_attrs_define
class BatchJob:
    """A batch job. `status` is VALIDATING, IN_PROGRESS, COMPLETED, FAILED, EXPIRED or CANCELLED
    (a plain string so that a status Together adds later still parses); `progress` is 0 to 100.

    """

    id: str
    user_id: str | Unset = UNSET
    input_file_id: str | Unset = UNSET
    file_size_bytes: int | Unset = UNSET
    status: str | Unset = UNSET
    job_deadline: None | str | Unset = UNSET
    created_at: None | str | Unset = UNSET
    completed_at: None | str | Unset = UNSET
    endpoint: str | Unset = UNSET
    progress: float | None | Unset = UNSET
    model_id: None | str | Unset = UNSET
    output_file_id: None | str | Unset = UNSET
    error_file_id: None | str | Unset = UNSET
    error: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        user_id = self.user_id

        input_file_id = self.input_file_id

        file_size_bytes = self.file_size_bytes

        status = self.status

        job_deadline: None | str | Unset
        if isinstance(self.job_deadline, Unset):
            job_deadline = UNSET
        else:
            job_deadline = self.job_deadline

        created_at: None | str | Unset
        if isinstance(self.created_at, Unset):
            created_at = UNSET
        else:
            created_at = self.created_at

        completed_at: None | str | Unset
        if isinstance(self.completed_at, Unset):
            completed_at = UNSET
        else:
            completed_at = self.completed_at

        endpoint = self.endpoint

        progress: float | None | Unset
        if isinstance(self.progress, Unset):
            progress = UNSET
        else:
            progress = self.progress

        model_id: None | str | Unset
        if isinstance(self.model_id, Unset):
            model_id = UNSET
        else:
            model_id = self.model_id

        output_file_id: None | str | Unset
        if isinstance(self.output_file_id, Unset):
            output_file_id = UNSET
        else:
            output_file_id = self.output_file_id

        error_file_id: None | str | Unset
        if isinstance(self.error_file_id, Unset):
            error_file_id = UNSET
        else:
            error_file_id = self.error_file_id

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
            }
        )
        if user_id is not UNSET:
            field_dict["user_id"] = user_id
        if input_file_id is not UNSET:
            field_dict["input_file_id"] = input_file_id
        if file_size_bytes is not UNSET:
            field_dict["file_size_bytes"] = file_size_bytes
        if status is not UNSET:
            field_dict["status"] = status
        if job_deadline is not UNSET:
            field_dict["job_deadline"] = job_deadline
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if completed_at is not UNSET:
            field_dict["completed_at"] = completed_at
        if endpoint is not UNSET:
            field_dict["endpoint"] = endpoint
        if progress is not UNSET:
            field_dict["progress"] = progress
        if model_id is not UNSET:
            field_dict["model_id"] = model_id
        if output_file_id is not UNSET:
            field_dict["output_file_id"] = output_file_id
        if error_file_id is not UNSET:
            field_dict["error_file_id"] = error_file_id
        if error is not UNSET:
            field_dict["error"] = error

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id")

        user_id = d.pop("user_id", UNSET)

        input_file_id = d.pop("input_file_id", UNSET)

        file_size_bytes = d.pop("file_size_bytes", UNSET)

        status = d.pop("status", UNSET)

        def _parse_job_deadline(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        job_deadline = _parse_job_deadline(d.pop("job_deadline", UNSET))

        def _parse_created_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        created_at = _parse_created_at(d.pop("created_at", UNSET))

        def _parse_completed_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        completed_at = _parse_completed_at(d.pop("completed_at", UNSET))

        endpoint = d.pop("endpoint", UNSET)

        def _parse_progress(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        progress = _parse_progress(d.pop("progress", UNSET))

        def _parse_model_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_id = _parse_model_id(d.pop("model_id", UNSET))

        def _parse_output_file_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        output_file_id = _parse_output_file_id(d.pop("output_file_id", UNSET))

        def _parse_error_file_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error_file_id = _parse_error_file_id(d.pop("error_file_id", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        batch_job = cls(
            id=id,
            user_id=user_id,
            input_file_id=input_file_id,
            file_size_bytes=file_size_bytes,
            status=status,
            job_deadline=job_deadline,
            created_at=created_at,
            completed_at=completed_at,
            endpoint=endpoint,
            progress=progress,
            model_id=model_id,
            output_file_id=output_file_id,
            error_file_id=error_file_id,
            error=error,
        )

        batch_job.additional_properties = d
        return batch_job

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
