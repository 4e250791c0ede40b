"""Which models the fake server serves: what ``GET /models`` lists and which chat models answer
``model_not_available`` -- including models retired in the middle of a run, and a listing that fails.

Pure bookkeeping (no sockets); the handlers ask it. Thread-safe: a test may retire a model while the server's
thread answers.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping

from wrapper.testing import _fake_bodies as bodies

__all__ = ["FakeCatalog"]

_UNKNOWN_PRICE = 0.60  # USD per 1M tokens for a served model the built-in table does not know


class FakeCatalog:
    """The fake's models.

    Args:
        served: when given, ``/models`` lists only these ids (priced from the built-in five, else $0.60) and every
            other chat model answers 400 ``model_not_available``; None: the built-in five are listed and every
            model is answered (as before).
        unavailable: ids answered with ``model_not_available`` whatever ``served`` says.
        retire_after: ``{model: n}``: the model answers its first ``n`` chat requests, then ``model_not_available``
            (a model retired mid-run; it stays listed, as Together's listing lags too).
        models_error: answer ``GET /models`` with this status (a JSON server error) instead of the list.
    """

    def __init__(self, *, served: Iterable[str] | None = None, unavailable: Iterable[str] = (),
                 retire_after: Mapping[str, int] | None = None, models_error: int | None = None) -> None:
        self._lock = threading.Lock()
        self._served = None if served is None else {m.lower(): m for m in served}
        self._gone = {m.lower() for m in unavailable}
        self._retire = {m.lower(): n for m, n in (retire_after or {}).items()}
        self._seen: Counter[str] = Counter()
        self.models_error = models_error
        self.listing = self._listing()

    def _listing(self) -> bytes:
        if self._served is None:
            return bodies.models_body()
        known = {m[0].lower(): m for m in bodies.MODELS}
        entries = []
        for key, model_id in self._served.items():
            _, price, context, org, name = known.get(key, (model_id, _UNKNOWN_PRICE, 32768, "", model_id))
            entries.append({"id": model_id, "object": "model", "created": 1_733_000_000, "type": "chat",
                            "display_name": name, "organization": org or model_id.split("/")[0],
                            "context_length": context,
                            "pricing": {"hourly": 0, "input": price, "output": price, "base": 0, "finetune": 0}})
        return json.dumps(entries).encode()

    def retire(self, model: str) -> None:
        """From now on ``model`` answers ``model_not_available``."""
        with self._lock:
            self._gone.add(model.lower())

    def answers(self, model: str) -> bool:
        """Whether a chat request for ``model`` is served (counts it toward ``retire_after``)."""
        key = model.lower()
        with self._lock:
            if key in self._retire:
                self._seen[key] += 1
                if self._seen[key] > self._retire[key]:
                    self._gone.add(key)
            if key in self._gone:
                return False
            return self._served is None or key in self._served
