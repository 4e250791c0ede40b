"""Reading costs and exporting reports: totals by model and day, CSV and JSON files, the HTML dashboard.

The ledger is where TOGETHER_LEDGER_URL points (by default a SQLite file in your user data folder); reading it
needs no API key, so this also works on a machine that only makes reports.

Run: python docs/examples/costs_reports.py reports/        (after some calls were made)
"""

from __future__ import annotations

import sys
from pathlib import Path

from wrapper import Settings, reports


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env()
    with reports.open_ledger(settings) as ledger:
        rows = ledger.rows()  # every run; ledger.rows(run_id=..., since=..., until=...) narrows it
    if not rows:
        raise SystemExit("the ledger is empty: make some calls first")
    everything = reports.grand_total(rows)
    print(f"{everything.attempts} attempts, {everything.ok} ok: ${everything.spent} spent "
          f"(${everything.cost} committed + ${everything.uncertain_cost} uncertain)")
    for total in reports.totals(rows, by="model"):
        print(f"  {total.key}: ${total.spent} for {total.prompt_tokens} + {total.completion_tokens} tokens")

    (folder / "by_model.csv").write_text(reports.to_csv(reports.totals(rows, by="model")))
    (folder / "by_day.json").write_text(reports.to_json(reports.totals(rows, by="day")))
    (folder / "cumulative.csv").write_text(reports.to_csv(reports.cumulative(rows)))
    (folder / "attempts.csv").write_text(reports.to_csv(rows))  # one line per attempt: ids, tokens, cost, latency
    reports.write_dashboard(folder / "dashboard.html", rows, budget_limit=settings.max_estimated_cost)
    print(f"wrote {', '.join(sorted(p.name for p in folder.iterdir()))} to {folder}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("reports"))
