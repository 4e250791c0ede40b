"""The front door: ``wrapper.__all__`` is sorted, complete and public."""

from __future__ import annotations

import inspect

import wrapper


def test_all_is_sorted_and_unique() -> None:
    """__all__ is sorted and has no duplicates."""
    assert sorted(set(wrapper.__all__)) == wrapper.__all__


def test_all_is_complete() -> None:
    """Every public name defined at the top level is in __all__, and every name in __all__ exists."""
    tools = {"cli", "testing"}  # subpackages for the command line and tests, imported on their own
    public = {n for n in dir(wrapper) if not n.startswith("_") and n not in tools}
    assert public - {"annotations"} == set(wrapper.__all__) - {"__version__"}
    assert inspect.ismodule(wrapper.reports)
    for name in wrapper.__all__:
        assert hasattr(wrapper, name)


def test_public_classes_show_the_public_module() -> None:
    """Classes defined in private modules report ``wrapper`` as their module (clean tracebacks)."""
    assert wrapper.Client.__module__ == "wrapper"
    assert wrapper.RateLimitError.__module__ == "wrapper"


def test_error_tree() -> None:
    """The documented error tree holds, including the builtin bases."""
    assert issubclass(wrapper.ConfigError, ValueError)
    assert issubclass(wrapper.RequestValidationError, ValueError)
    assert issubclass(wrapper.APITimeoutError, TimeoutError)
    assert issubclass(wrapper.APITimeoutError, wrapper.APIConnectionError)
    assert issubclass(wrapper.ModelNotAvailableError, wrapper.BadRequestError)
    assert issubclass(wrapper.ServerError, wrapper.APIStatusError)
    for name in ("ConfigError", "RequestValidationError", "BudgetExceededError", "CircuitOpenError",
                 "LocalRateLimitTimeout", "APIError"):
        assert issubclass(getattr(wrapper, name), wrapper.TogetherError)
