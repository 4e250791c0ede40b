"""Every Python example in the README type-checks under ``mypy --strict``, as a user would run it on their code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_examples_pass_mypy_strict(tmp_path: Path) -> None:
    """Each ```python block of README.md, written to its own file, passes mypy --strict against the package."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert blocks, "the README has Python examples"
    files = []
    for number, code in enumerate(blocks):
        path = tmp_path / f"readme_example_{number}.py"
        path.write_text(code, encoding="utf-8")
        files.append(str(path))
    (tmp_path / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")  # the user's own, empty configuration
    result = subprocess.run(  # from outside the repository: the package is found as installed, as users find it
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file", "mypy.ini", *files],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert 0 == result.returncode, result.stdout + result.stderr
