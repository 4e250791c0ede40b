"""The ``together-wrapper`` command line: a user of the public ``wrapper`` API (batch, chat, models, costs,
dashboard, demo).

``main()`` is the console script (``together-wrapper = "wrapper.cli:main"``) and ``python -m wrapper``.
"""

from __future__ import annotations

from wrapper.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line (exits with the command's exit code)."""
    app(prog_name="together-wrapper")
