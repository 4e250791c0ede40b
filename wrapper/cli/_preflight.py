"""Models before money: the batch preflight against ``GET /models``, and the confirmation of a dearer fallback.

:func:`preflight` runs before the estimate and the confirmation: every model the run may use (each row's model
and each ``--fallback``) is checked with ``client.models.check``. A model that is not served is routed to the first
served fallback (the client remembers it, so no row is sent to it); a model with no served fallback stops the run
before anything is sent, listing the closest served chat models with their prices (exit 7). When ``/models``
cannot be read the run goes on with a warning: a flaky listing never blocks a run.

:class:`SwitchGate` is the client's ``confirm`` callback during the run. The models of the plan were confirmed
with the plan; when the fallback chain moves to another model mid-run, the rows not done yet are estimated at
its price as a new run would be, and above the threshold a person is asked (or ``--yes`` answers; with no
terminal it is refused, and the run stops with exit 3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import attrs
from rich.console import Console
from rich.prompt import Confirm

from wrapper import AsyncClient, ModelCheck
from wrapper.cli._render import money

__all__ = ["EXIT_NOT_SERVED", "Routes", "SwitchGate", "preflight"]

EXIT_NOT_SERVED = 7


def _unique(models: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for model in models:
        seen.setdefault(model.casefold(), model)
    return list(seen.values())


@attrs.frozen
class Routes:
    """Where each planned model's rows go after the preflight (itself, or the first served fallback)."""

    to: dict[str, str] = attrs.field(factory=dict)
    stuck: tuple[ModelCheck, ...] = ()

    def route(self, model: str) -> str:
        """The model rows naming ``model`` are expected to be answered by."""
        return self.to.get(model.casefold(), model)

    def problem(self) -> str | None:
        """The stop message when some planned model has no served model in its chain (None: go on)."""
        if not self.stuck:
            return None
        return "\n".join(c.describe() for c in self.stuck) + "\nNothing was sent."


async def preflight(console: Console, client: AsyncClient, models: Sequence[str], fallbacks: Sequence[str]) -> Routes:
    """Check ``models`` (the rows' models) and ``fallbacks`` against ``/models``; print what was found."""
    checks = {m.casefold(): await client.models.check(m) for m in _unique([*models, *fallbacks])}
    unknown = next((c for c in checks.values() if c.status == "unknown"), None)
    if unknown is not None:
        console.print(f"[yellow]warning: {unknown.warning}; going on (a model that is not served will fail its "
                      "rows, or move to a --fallback)[/]")
    for check in checks.values():
        if check.served and not check.chat:
            console.print(f"[yellow]warning: {check.model}: {check.warning}[/]")
    to: dict[str, str] = {}
    stuck: list[ModelCheck] = []
    for model in _unique(models):
        chain = _unique([model, *fallbacks])
        target = next((m for m in chain if checks[m.casefold()].served is not False), None)
        if target is None:
            stuck.append(checks[model.casefold()])
            continue
        to[model.casefold()] = target
        if target.casefold() != model.casefold():
            found = checks[target.casefold()]
            price = "" if found.input_price is None else f" (${found.input_price} in / ${found.output_price} out " \
                                                         "per 1M tokens)"
            console.print(f"[yellow]{model} is not served by Together: its rows go to the fallback "
                          f"{target}{price}[/]")
    for model in _unique(fallbacks):
        if checks[model.casefold()].served is False and all(t.casefold() != model.casefold() for t in to.values()):
            console.print(f"[yellow]fallback {model} is not served: it will be skipped[/]")
    return Routes(to, tuple(stuck))


class SwitchGate:
    """The client's ``confirm(cost, model)`` during a batch (see the module docstring). Decisions are remembered
    per model, so a person is asked at most once per model."""

    def __init__(self, console: Console, *, threshold: Decimal, yes: bool, interactive: bool) -> None:
        self._console, self._threshold, self._yes, self._interactive = console, threshold, yes, interactive
        self._verdicts: dict[str, bool] = {}
        self.rest_cost: Callable[[str | None], Decimal] = lambda model: Decimal(0)
        """The worst case of the rows not done yet: at ``model``'s price, or as planned (None)."""
        self.refused: str | None = None

    def approve(self, models: Sequence[str]) -> None:
        """These models were confirmed with the plan."""
        for model in models:
            self._verdicts[model.casefold()] = True

    def __call__(self, cost: Decimal, model: str) -> bool:
        verdict = self._verdicts.get(model.casefold())
        if verdict is None:
            verdict = self._decide(model)
            self._verdicts[model.casefold()] = verdict
        return verdict

    def _decide(self, model: str) -> bool:
        new, planned = self.rest_cost(model), self.rest_cost(None)
        if self._yes or new <= planned or new <= self._threshold:
            return True
        what = (f"the fallback {model} would cost at most {money(new)} for the rows left (planned: "
                f"{money(planned)}), above the confirmation threshold {money(self._threshold)}")
        if self._interactive and Confirm.ask(f"{what}. Switch?", console=self._console, default=False):
            return True
        self.refused = f"{what}: not confirmed" + ("" if self._interactive else " (no terminal to ask; pass --yes)")
        return False
