"""Every public name is documented: a docstring, and a block on a page of the API reference."""

from __future__ import annotations

from tests.docs import doctools


def test_every_export_has_a_docstring() -> None:
    """Each name in wrapper.__all__ has a docstring (source or, for re-exported generated classes, run time)."""
    assert [] == doctools.docstring_problems()


def test_every_export_is_on_a_reference_page() -> None:
    """Each name in wrapper.__all__ has exactly one '::: wrapper.NAME' block in docs/reference/, and no page
    documents a name that is not exported."""
    assert [] == doctools.reference_problems()
