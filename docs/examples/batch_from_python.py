"""A Stage-1 batch from Python: JSONL in, one JSON line out per row as it finishes, resumable, budget-safe.

The same job as ``together-wrapper batch IN.jsonl --out OUT.jsonl``, written with the public API only, for when
the batch is one step of a larger Python program. Each input row is ``{"id": "r1", "prompt": "..."}``.

- results are appended and flushed as they land, so a crash loses nothing that was paid for and written;
- re-running skips ids already in OUT (never paid twice) and drops a torn last line left by a crash;
- the budget (MAX_ESTIMATED_COST, or ``max_cost`` here) is checked before each row is sent; when the next row does
  not fit, no new row starts;
- failures go to OUT.errors.jsonl with the typed reason, and the run goes on.

Run: TOGETHER_API_KEY=... python docs/examples/batch_from_python.py input.jsonl results.jsonl 0.50
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from wrapper import AsyncClient, BudgetExceededError, CircuitOpenError, CreditLimitError, Settings, TogetherError

CONCURRENCY = 8
STOPPING = (BudgetExceededError, CreditLimitError)  # no later row can succeed either


def done_ids(output: Path) -> set[str]:
    """Ids already written; a torn last line (a crash mid-write) is cut off so the file stays valid JSONL."""
    if not output.exists():
        return set()
    raw = output.read_bytes()
    if raw and not raw.endswith(b"\n"):
        output.write_bytes(raw[: raw.rfind(b"\n") + 1])
        print(f"{output}: removed a torn last line left by a crash")
    return {json.loads(line)["id"] for line in output.read_text().splitlines() if line.strip()}


def append(file: TextIO, record: dict[str, Any]) -> None:
    file.write(json.dumps(record, ensure_ascii=False) + "\n")
    file.flush()  # written before the next row can be lost


async def send(todo: list[dict[str, Any]], out: TextIO, errors: TextIO, max_cost: str | None) -> int:
    """Send the rows, at most CONCURRENCY at once; returns how many failed."""
    stop = asyncio.Event()
    gate = asyncio.Semaphore(CONCURRENCY)
    failed = 0
    # without max_cost the budget is MAX_ESTIMATED_COST from the environment (an explicit None would turn it off)
    settings = Settings.from_env(max_estimated_cost=max_cost) if max_cost else Settings.from_env()
    async with AsyncClient(settings) as client:

        async def one(row: dict[str, Any]) -> None:
            nonlocal failed
            async with gate:
                if stop.is_set():
                    return
                try:
                    reply = await client.chat.completions.create(
                        messages=[{"role": "user", "content": row["prompt"]}], max_tokens=row.get("max_tokens", 64))
                except STOPPING as exc:
                    stop.set()
                    print(f"stopping: {type(exc).__name__}: {exc}")
                    return
                except CircuitOpenError as exc:  # Together is failing: leave the row for the next run
                    print(f"{row['id']}: not sent ({exc})")
                    return
                except TogetherError as exc:
                    failed += 1
                    append(errors, {"id": row["id"], "error": type(exc).__name__, "message": str(exc)})
                    return
                usage = reply.usage.to_dict() if reply.usage else None
                append(out, {"id": row["id"], "text": reply.choices[0].message.content, "usage": usage,
                             "model": reply.model, "request_id": reply.id})

        await asyncio.gather(*(one(row) for row in todo))
        summary = client.ledger.summary()
    print(f"run {summary.run_id} spent ${summary.committed} (+${summary.uncertain} uncertain)")
    return failed


def main(input_path: Path, output: Path, max_cost: str | None) -> int:
    rows = [json.loads(line) for line in input_path.read_text().splitlines() if line.strip()]
    skip = done_ids(output)
    todo = [row for row in rows if row["id"] not in skip]
    print(f"{len(rows)} rows, {len(skip)} already done, {len(todo)} to send")
    errors_path = output.with_name(output.name.removesuffix(".jsonl") + ".errors.jsonl")
    with output.open("a", encoding="utf-8") as out, errors_path.open("a", encoding="utf-8") as errors:
        failed = asyncio.run(send(todo, out, errors, max_cost))
    done = len(done_ids(output))
    print(f"done {done} of {len(rows)}, failed {failed}")
    return 0 if done == len(rows) else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (2, 3):
        raise SystemExit("usage: batch_from_python.py INPUT.jsonl OUTPUT.jsonl [MAX_COST_USD]")
    sys.exit(main(Path(args[0]), Path(args[1]), args[2] if len(args) == 3 else None))
