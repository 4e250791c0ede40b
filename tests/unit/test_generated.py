"""The generated package is exactly what scripts/generate.sh makes from openapi/ (never hand-edited)."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _diff(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__", ".ruff_cache"])
    out = [f"only in committed: {x}" for x in cmp.left_only] + [f"only in fresh: {x}" for x in cmp.right_only]
    out += [f"differs: {x}" for x in filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)[1]]
    for name in cmp.common_dirs:
        out += [f"{name}/{line}" for line in _diff(a / name, b / name)]
    return out


def test_regeneration_is_a_no_op(tmp_path: Path) -> None:
    """Regenerating into a temp folder yields byte-identical files to the committed generated/ package."""
    if shutil.which("bash") is None:
        pytest.fail("bash is needed to run scripts/generate.sh")
    subprocess.run(["bash", str(ROOT / "scripts" / "generate.sh"), str(tmp_path)], check=True,
                   capture_output=True, text=True)
    assert _diff(ROOT / "generated" / "together_api_client", tmp_path / "together_api_client") == []


def test_chunk_and_error_models_are_generated() -> None:
    """The stream chunk and error body are named component schemas, so they are typed models."""
    from together_api_client.models import ChatCompletionChunk, ErrorData

    chunk = ChatCompletionChunk.from_dict(
        {"id": "a", "created": 1, "model": "m", "usage": None,
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}, "finish_reason": None}]}
    )
    assert chunk.usage is None
    assert chunk.choices[0].delta.content == "hi"
    err = ErrorData.from_dict({"id": "x", "error": {"message": "m", "type": "brand_new", "code": None}})
    assert err.error.type_ == "brand_new"
