"""The package version, in one place (read by the User-Agent and pyproject)."""

__version__ = "0.1.0"
"""The installed version of together-wrapper (PEP 440), also sent in the User-Agent."""
