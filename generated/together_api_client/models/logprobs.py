from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.logprobs_top_logprobs_type_0_item import LogprobsTopLogprobsType0Item


T = TypeVar("T", bound="Logprobs")


@_attrs_define
class Logprobs:
    token_ids: list[float] | Unset = UNSET
    tokens: list[str] | Unset = UNSET
    token_logprobs: list[float | None] | Unset = UNSET
    top_logprobs: list[LogprobsTopLogprobsType0Item] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        token_ids: list[float] | Unset = UNSET
        if not isinstance(self.token_ids, Unset):
            token_ids = self.token_ids

        tokens: list[str] | Unset = UNSET
        if not isinstance(self.tokens, Unset):
            tokens = self.tokens

        token_logprobs: list[float | None] | Unset = UNSET
        if not isinstance(self.token_logprobs, Unset):
            token_logprobs = []
            for token_logprobs_item_data in self.token_logprobs:
                token_logprobs_item: float | None
                token_logprobs_item = token_logprobs_item_data
                token_logprobs.append(token_logprobs_item)

        top_logprobs: list[dict[str, Any]] | None | Unset
        if isinstance(self.top_logprobs, Unset):
            top_logprobs = UNSET
        elif isinstance(self.top_logprobs, list):
            top_logprobs = []
            for top_logprobs_type_0_item_data in self.top_logprobs:
                top_logprobs_type_0_item = top_logprobs_type_0_item_data.to_dict()
                top_logprobs.append(top_logprobs_type_0_item)

        else:
            top_logprobs = self.top_logprobs

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if token_ids is not UNSET:
            field_dict["token_ids"] = token_ids
        if tokens is not UNSET:
            field_dict["tokens"] = tokens
        if token_logprobs is not UNSET:
            field_dict["token_logprobs"] = token_logprobs
        if top_logprobs is not UNSET:
            field_dict["top_logprobs"] = top_logprobs

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.logprobs_top_logprobs_type_0_item import (
            LogprobsTopLogprobsType0Item,
        )

        d = dict(src_dict)
        token_ids = cast(list[float], d.pop("token_ids", UNSET))

        tokens = cast(list[str], d.pop("tokens", UNSET))

        _token_logprobs = d.pop("token_logprobs", UNSET)
        token_logprobs: list[float | None] | Unset = UNSET
        if _token_logprobs is not UNSET:
            token_logprobs = []
            for token_logprobs_item_data in _token_logprobs:

                def _parse_token_logprobs_item(data: object) -> float | None:
                    if data is None:
                        return data
                    return cast(float | None, data)

                token_logprobs_item = _parse_token_logprobs_item(
                    token_logprobs_item_data
                )

                token_logprobs.append(token_logprobs_item)

        def _parse_top_logprobs(
            data: object,
        ) -> list[LogprobsTopLogprobsType0Item] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                top_logprobs_type_0 = []
                _top_logprobs_type_0 = data
                for top_logprobs_type_0_item_data in _top_logprobs_type_0:
                    top_logprobs_type_0_item = LogprobsTopLogprobsType0Item.from_dict(
                        top_logprobs_type_0_item_data
                    )

                    top_logprobs_type_0.append(top_logprobs_type_0_item)

                return top_logprobs_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[LogprobsTopLogprobsType0Item] | None | Unset, data)

        top_logprobs = _parse_top_logprobs(d.pop("top_logprobs", UNSET))

        logprobs = cls(
            token_ids=token_ids,
            tokens=tokens,
            token_logprobs=token_logprobs,
            top_logprobs=top_logprobs,
        )

        logprobs.additional_properties = d
        return logprobs

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
