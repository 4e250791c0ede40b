"""mkdocs hook: refuse to build docs that drifted from the code (``mkdocs build --strict`` fails on warnings).

Checks, through ``tests/docs/doctools.py`` (the same code the tests use): every export of ``wrapper.__all__``
has a docstring and a ``::: wrapper.NAME`` block on a page of ``docs/reference/``, and the README's
configuration table is what ``Settings`` produces.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("mkdocs.hooks.wrapper_docs")


def on_config(config: Any) -> Any:
    """Report every drift between docs and code as a warning before anything is rendered."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.docs.doctools import problems

    for problem in problems():
        log.warning(problem)
    return config
