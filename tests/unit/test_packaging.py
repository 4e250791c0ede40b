"""Packaging: one version source, the declared licence shipped, and installs that give users the types.

Built in-process with hatchling (the build backend), a few seconds, no network. The end-to-end check --
``pip install -e .`` into a fresh venv, then mypy run outside the repository -- takes minutes and is manual
(see ``.venv/bin/mypy --python-executable`` in the issue 13 notes); this checks the mechanism it relies on.
"""

from __future__ import annotations

import tomllib
import zipfile
from pathlib import Path

import pytest

import wrapper

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_has_one_source() -> None:
    """pyproject declares the version dynamic, read from wrapper/_version.py; it is not written twice."""
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert "wrapper/_version.py" == PYPROJECT["tool"]["hatch"]["version"]["path"]


def test_license_file_matches_the_declared_licence() -> None:
    """LICENSE is the MIT text for the together-wrapper authors, as pyproject declares."""
    text = (ROOT / "LICENSE").read_text()
    assert "MIT" == PYPROJECT["project"]["license"]
    assert text.startswith("MIT License") and "the together-wrapper authors" in text
    assert "Permission is hereby granted, free of charge" in text


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The regular and the editable wheel of the working tree."""
    build = pytest.importorskip("hatchling.build")
    regular, editable = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("editable")
    return regular / build.build_wheel(str(regular)), editable / build.build_editable(str(editable))


def test_wheel_ships_both_packages_typed_with_the_licence(wheels: tuple[Path, Path]) -> None:
    """The wheel has wrapper and together_api_client (top level), each with py.typed, and the LICENSE."""
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    info = f"together_wrapper-{wrapper.__version__}.dist-info"
    assert {"wrapper/py.typed", "together_api_client/py.typed", f"{info}/licenses/LICENSE",
            "wrapper/_observe/_dashboard_template.html"} <= names
    assert {name.split("/")[0] for name in names} == {"wrapper", "together_api_client", info}
    metadata = zipfile.ZipFile(wheels[0]).read(f"{info}/METADATA").decode()
    assert f"\nVersion: {wrapper.__version__}\n" in metadata and "License-Expression: MIT" in metadata


def test_editable_install_is_a_plain_pth_that_static_tools_follow(wheels: tuple[Path, Path]) -> None:
    """The editable wheel adds the source folders by a .pth of plain paths (mypy reads those; it cannot run the
    import hook setuptools' default editable mode installs), and those folders hold both typed packages."""
    archive = zipfile.ZipFile(wheels[1])
    pth = [name for name in archive.namelist() if name.endswith(".pth")]
    assert 1 == len(pth)
    lines = [line for line in archive.read(pth[0]).decode().splitlines() if line.strip()]
    assert not [line for line in lines if line.startswith("import ")]
    folders = [Path(line) for line in lines]
    assert any((folder / "wrapper" / "py.typed").is_file() for folder in folders)
    assert any((folder / "together_api_client" / "py.typed").is_file() for folder in folders)
