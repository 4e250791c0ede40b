"""The configuration table in the README (and so in docs/configuration.md) is generated from Settings."""

from __future__ import annotations

from pathlib import Path

import attrs

from tests.docs import doctools
from wrapper import ENV_VARS, Settings


def test_readme_table_is_generated_from_settings() -> None:
    """The README's table equals what Settings produces now (fix: python -m tests.docs.doctools --write)."""
    assert doctools.config_table() == doctools.readme_table()


def test_table_has_one_row_per_variable_with_its_default() -> None:
    """Every variable Settings reads is a row that names its keyword and shows its default."""
    table = doctools.config_table()
    for field in attrs.fields(Settings):
        if "env" in field.metadata:
            row = next(line for line in table.splitlines() if line.startswith(f"| `{field.metadata['env']}` |"))
            assert f"| `{field.name}` |" in row
            assert ("(none)" if field.default is None else str(field.default).lower()) in row.lower()
    assert len(ENV_VARS) == len(table.splitlines()) - 2


def test_docs_configuration_page_includes_the_readme_table() -> None:
    """docs/configuration.md embeds the README's table section (pymdownx.snippets), so there is one copy."""
    page = (doctools.ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert '--8<-- "README.md:config-table"' in page
    assert isinstance(doctools.README, Path)


def test_write_regenerates_a_stale_table(tmp_path: Path) -> None:
    """readme_table reads exactly the marked section, so a stale row between the markers is seen."""
    stale = f"intro\n{doctools.TABLE_START}\n| `OLD` | x |\n{doctools.TABLE_END}\nrest\n"
    assert "| `OLD` | x |\n" == doctools.readme_table(stale)
    assert doctools.readme_table(stale) != doctools.config_table()
