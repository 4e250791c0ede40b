from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Pricing")


@_attrs_define
class Pricing:
    """USD per 1M tokens (hourly for dedicated endpoints)."""

    input_: float | Unset = UNSET
    output: float | Unset = UNSET
    hourly: float | Unset = UNSET
    base: float | Unset = UNSET
    finetune: float | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        input_ = self.input_

        output = self.output

        hourly = self.hourly

        base = self.base

        finetune = self.finetune

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if input_ is not UNSET:
            field_dict["input"] = input_
        if output is not UNSET:
            field_dict["output"] = output
        if hourly is not UNSET:
            field_dict["hourly"] = hourly
        if base is not UNSET:
            field_dict["base"] = base
        if finetune is not UNSET:
            field_dict["finetune"] = finetune

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        input_ = d.pop("input", UNSET)

        output = d.pop("output", UNSET)

        hourly = d.pop("hourly", UNSET)

        base = d.pop("base", UNSET)

        finetune = d.pop("finetune", UNSET)

        pricing = cls(
            input_=input_,
            output=output,
            hourly=hourly,
            base=base,
            finetune=finetune,
        )

        pricing.additional_properties = d
        return pricing

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
