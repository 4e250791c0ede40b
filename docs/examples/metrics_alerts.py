"""Metrics to Prometheus and alerts to a webhook.

- ``client.metrics.serve(9100)`` exposes this client's metrics for Prometheus to scrape
  (``scrape_configs: [{job_name: stage1, static_configs: [{targets: ["host:9100"]}]}]``);
- ``on_event`` receives typed events (breaker changes, 429s, budget thresholds, uncertain charges, retries) and
  forwards the ones worth waking someone for to a webhook (Slack, PagerDuty, Alertmanager, ...).

The hook is called in the request path, so it must be fast and must not raise: it only queues the event, and a
background thread posts it.

Run: TOGETHER_API_KEY=... ALERT_WEBHOOK_URL=https://hooks.example/... python docs/examples/metrics_alerts.py
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from typing import Any

import attrs
import httpx

from wrapper import (
    BreakerStateChanged,
    BudgetThreshold,
    Client,
    Event,
    RateLimited,
    TogetherError,
    UncertainCharge,
)

ALERTS = (BreakerStateChanged, BudgetThreshold, RateLimited, UncertainCharge)


class WebhookAlerts:
    """An ``on_event`` hook that posts alert events as JSON from a background thread."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=1000)
        self._thread = threading.Thread(target=self._post_all, name="alerts", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        if isinstance(event, ALERTS):
            payload = {"event": type(event).__name__, **attrs.asdict(event, value_serializer=_plain)}
            with contextlib.suppress(queue.Full):  # never block a request on the alert channel
                self._queue.put_nowait(payload)

    def _post_all(self) -> None:
        with httpx.Client(timeout=5) as http:
            while (payload := self._queue.get()) is not None:
                with contextlib.suppress(httpx.HTTPError):  # alerting must not take the job down
                    http.post(self._url, json=payload)

    def close(self) -> None:
        """Send what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=10)


def _plain(inst: object, field: object, value: object) -> object:
    return str(value) if not isinstance(value, (str, int, float, bool, type(None))) else value


def main() -> None:
    alerts = WebhookAlerts(os.environ["ALERT_WEBHOOK_URL"])
    try:
        with Client(on_event=alerts) as client:
            port = client.metrics.serve(int(os.environ.get("METRICS_PORT", "0")))  # 0: any free port
            print(f"metrics on http://127.0.0.1:{port}/metrics")
            for i in range(5):
                try:
                    client.chat.completions.create(messages=[{"role": "user", "content": f"Say {i}."}], max_tokens=8)
                except TogetherError as exc:
                    print(f"call {i} failed: {exc}")
            scraped = httpx.get(f"http://127.0.0.1:{port}/metrics").text  # what Prometheus would read
            print("\n".join(line for line in scraped.splitlines() if line.startswith("together_requests")))
            snap = client.metrics.snapshot()
            print(f"{snap.requests} requests, success rate {snap.success_rate}, {snap.responses_429} answered 429")
    finally:
        alerts.close()


if __name__ == "__main__":
    main()
