from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.pricing import Pricing


T = TypeVar("T", bound="ModelInfo")


@_attrs_define
class ModelInfo:
    id: str
    object_: str | Unset = UNSET
    created: int | Unset = UNSET
    type_: str | Unset = UNSET
    """ chat, language, code, image, embedding, moderation, rerank, ... (open set). """
    display_name: str | Unset = UNSET
    organization: str | Unset = UNSET
    link: str | Unset = UNSET
    license_: str | Unset = UNSET
    context_length: int | Unset = UNSET
    pricing: Pricing | Unset = UNSET
    """ USD per 1M tokens (hourly for dedicated endpoints). """
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        object_ = self.object_

        created = self.created

        type_ = self.type_

        display_name = self.display_name

        organization = self.organization

        link = self.link

        license_ = self.license_

        context_length = self.context_length

        pricing: dict[str, Any] | Unset = UNSET
        if not isinstance(self.pricing, Unset):
            pricing = self.pricing.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
            }
        )
        if object_ is not UNSET:
            field_dict["object"] = object_
        if created is not UNSET:
            field_dict["created"] = created
        if type_ is not UNSET:
            field_dict["type"] = type_
        if display_name is not UNSET:
            field_dict["display_name"] = display_name
        if organization is not UNSET:
            field_dict["organization"] = organization
        if link is not UNSET:
            field_dict["link"] = link
        if license_ is not UNSET:
            field_dict["license"] = license_
        if context_length is not UNSET:
            field_dict["context_length"] = context_length
        if pricing is not UNSET:
            field_dict["pricing"] = pricing

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.pricing import Pricing

        d = dict(src_dict)
        id = d.pop("id")

        object_ = d.pop("object", UNSET)

        created = d.pop("created", UNSET)

        type_ = d.pop("type", UNSET)

        display_name = d.pop("display_name", UNSET)

        organization = d.pop("organization", UNSET)

        link = d.pop("link", UNSET)

        license_ = d.pop("license", UNSET)

        context_length = d.pop("context_length", UNSET)

        _pricing = d.pop("pricing", UNSET)
        pricing: Pricing | Unset
        if isinstance(_pricing, Unset):
            pricing = UNSET
        else:
            pricing = Pricing.from_dict(_pricing)

        model_info = cls(
            id=id,
            object_=object_,
            created=created,
            type_=type_,
            display_name=display_name,
            organization=organization,
            link=link,
            license_=license_,
            context_length=context_length,
            pricing=pricing,
        )

        model_info.additional_properties = d
        return model_info

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
