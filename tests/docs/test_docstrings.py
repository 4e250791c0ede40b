"""Every public name is documented: a docstring, and a block on a page of the API reference."""

from __future__ import annotations

import pytest

import wrapper
from tests.docs import doctools


def test_every_export_has_a_docstring() -> None:
    """Each name in wrapper.__all__ has a docstring (source or, for re-exported generated classes, run time)."""
    assert [] == doctools.docstring_problems()


def test_every_export_is_on_a_reference_page() -> None:
    """Each name in wrapper.__all__ has exactly one '::: wrapper.NAME' block in docs/reference/, and no page
    documents a name that is not exported."""
    assert [] == doctools.reference_problems()


class _Undocumented:
    pass


def test_a_missing_docstring_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """An export without a docstring, or on no reference page, is named (so the test and the build fail)."""
    monkeypatch.setattr(wrapper, "_Undocumented", _Undocumented, raising=False)
    monkeypatch.setattr(wrapper, "__all__", [*wrapper.__all__, "_Undocumented"])
    assert ["wrapper._Undocumented has no docstring"] == doctools.docstring_problems()
    assert any("wrapper._Undocumented is in wrapper.__all__ but on no page" in p for p in doctools.reference_problems())
