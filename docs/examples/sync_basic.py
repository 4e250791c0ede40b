"""Sync: one call, its answer, its tokens and what it cost.

Run: TOGETHER_API_KEY=... python docs/examples/sync_basic.py
"""

from __future__ import annotations

from wrapper import Client, TogetherError


def main() -> None:
    # Settings come from the environment and .env (TOGETHER_API_KEY, TOGETHER_MODEL_STAGE1, MAX_ESTIMATED_COST, ...);
    # keywords override them for this client only.
    with Client(max_retries=5) as client:
        try:
            reply = client.chat.completions.create(
                messages=[
                    {"role": "system", "content": "Answer in one word."},
                    {"role": "user", "content": "What is the capital of France?"},
                ],
                max_tokens=16,
                temperature=0.0,
            )
        except TogetherError as exc:  # every error the SDK raises; see the troubleshooting guide
            raise SystemExit(f"failed: {type(exc).__name__}: {exc}") from exc
        print("answer:", reply.choices[0].message.content)
        usage = reply.usage
        if usage:  # Together reports usage on every answer; the type allows it to be missing
            print("tokens:", usage.prompt_tokens, "in,", usage.completion_tokens, "out")
        budget = client.ledger.summary()
        print(f"spent so far in run {budget.run_id}: ${budget.committed}")


if __name__ == "__main__":
    main()
