"""griffe extension: give the re-exported generated models the wrapper-side descriptions set in ``wrapper/_types.py``.

``generated/`` is never edited by hand and most of its classes have no docstring; ``wrapper/_types.py`` assigns
each re-exported model a ``__doc__`` at import time. griffe reads source, not run-time attributes, so this
extension copies the run-time docstring of every ``together_api_client`` class that has none in its source.
"""

from __future__ import annotations

import importlib
from typing import Any

import griffe

import wrapper  # noqa: F401 - importing it runs the docstring assignments in wrapper/_types.py


class RuntimeDocstrings(griffe.Extension):
    """Fill a generated class's missing docstring from the imported class."""

    def on_class_instance(self, *, node: Any, cls: griffe.Class, agent: Any, **kwargs: Any) -> None:
        if cls.docstring is not None or not cls.path.startswith("together_api_client."):
            return
        module = importlib.import_module(cls.module.path)
        doc = getattr(module, cls.name, None).__dict__.get("__doc__") if hasattr(module, cls.name) else None
        if isinstance(doc, str) and doc.strip():
            cls.docstring = griffe.Docstring(doc, parent=cls)
