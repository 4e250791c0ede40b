"""Helpers that keep the docs and the code in step: the configuration table, docstring and reference coverage.

Used three ways: by the tests in ``tests/docs``, by the docs build (``docs/hooks.py`` turns every problem into
a warning, which ``mkdocs build --strict`` makes fatal), and from the command line::

    .venv/bin/python -m tests.docs.doctools --write     # rewrite the README's configuration table from Settings
    .venv/bin/python -m tests.docs.doctools             # exit 1 and say what is out of step
"""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path
from typing import Any

import attrs

import wrapper
from wrapper import Settings

__all__ = [
    "README",
    "ROOT",
    "TABLE_END",
    "TABLE_START",
    "config_table",
    "docstring_problems",
    "problems",
    "readme_table",
    "reference_problems",
    "write_readme_table",
]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "reference"
# pymdownx.snippets section markers: docs/configuration.md includes this part of the README verbatim.
TABLE_START = "<!-- --8<-- [start:config-table] -->"
TABLE_END = "<!-- --8<-- [end:config-table] -->"


def _default(field: attrs.Attribute[Any]) -> str:
    value = field.default
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _type(field: attrs.Attribute[Any]) -> str:
    if field.name == "api_key":
        return "secret str"  # stored as Secret, given as a plain string
    text = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    return text.replace("Decimal", "decimal").replace(" | None", " or none")


def config_table() -> str:
    """The configuration table, one row per environment variable ``Settings.from_env()`` reads."""
    lines = [
        "| variable | keyword | type | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for field in attrs.fields(Settings):
        env = field.metadata.get("env")
        if env is None:
            continue
        meaning = str(field.metadata["doc"]).replace("|", "\\|")
        lines.append(f"| `{env}` | `{field.name}` | {_type(field)} | {_default(field)} | {meaning} |")
    return "\n".join(lines) + "\n"


def readme_table(text: str | None = None) -> str:
    """The table between the README's markers, as committed."""
    text = README.read_text(encoding="utf-8") if text is None else text
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[start:end].strip("\n") + "\n"


def write_readme_table() -> bool:
    """Rewrite the README's table from ``Settings``; True when the file changed."""
    text = README.read_text(encoding="utf-8")
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    new = text[:start] + "\n" + config_table() + text[end:]
    if new != text:
        README.write_text(new, encoding="utf-8")
    return new != text


def _own_doc(obj: object) -> str | None:
    """A docstring written for this object itself (not one inherited from a builtin type or typing)."""
    if isinstance(obj, type):
        doc = obj.__dict__.get("__doc__")
    elif isinstance(obj, (types.FunctionType, types.ModuleType)):
        doc = obj.__doc__
    else:
        return None  # constants and type aliases: only the source has their docstring
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else None


def _static_docs() -> dict[str, str | None]:
    """Each export's docstring as griffe (the reference's engine) reads it from the source."""
    import griffe

    package = griffe.load("wrapper", search_paths=[str(ROOT), str(ROOT / "generated")], resolve_aliases=True,
                           resolve_external=True)
    found: dict[str, str | None] = {}
    for name in wrapper.__all__:
        try:
            doc = package[name].docstring
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            doc = None
        found[name] = doc.value.strip() if doc is not None and doc.value.strip() else None
    return found


def docstring_problems() -> list[str]:
    """Every export of ``wrapper.__all__`` without a docstring (from the source or, for classes, at run time)."""
    static = _static_docs()
    return [f"wrapper.{name} has no docstring" for name in wrapper.__all__
            if not (static.get(name) or _own_doc(getattr(wrapper, name)))]


def reference_problems() -> list[str]:
    """Exports missing from the API reference pages, listed twice, or listed but not exported."""
    listed: list[str] = []
    for page in sorted(REFERENCE.glob("*.md")):
        listed += re.findall(r"^::: wrapper\.([A-Za-z_][A-Za-z0-9_]*)\s*$", page.read_text(encoding="utf-8"), re.M)
    out = [f"wrapper.{n} is in wrapper.__all__ but on no page of docs/reference/ (add '::: wrapper.{n}')"
           for n in wrapper.__all__ if n not in listed]
    out += [f"wrapper.{n} is listed in docs/reference/ but not exported" for n in sorted(set(listed))
            if n not in wrapper.__all__]
    out += [f"wrapper.{n} is listed more than once in docs/reference/" for n in sorted(set(listed))
            if listed.count(n) > 1]
    return out


def problems() -> list[str]:
    """Everything the docs build refuses: missing docstrings, reference gaps, a stale configuration table."""
    out = docstring_problems() + reference_problems()
    if readme_table() != config_table():
        out.append("the README's configuration table differs from Settings: run "
                   "'.venv/bin/python -m tests.docs.doctools --write'")
    return out


def main(argv: list[str]) -> int:
    """``--write`` rewrites the README table; then every remaining problem is printed (exit 1 if any)."""
    if "--write" in argv and write_readme_table():
        print(f"rewrote the configuration table in {README}")
    found = problems()
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
