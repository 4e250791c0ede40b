"""Streaming to a terminal: print tokens as they arrive, then the usage from the final chunk.

Run: TOGETHER_API_KEY=... python docs/examples/streaming_terminal.py "Explain TCP slow start in three sentences."
"""

from __future__ import annotations

import sys

from wrapper import APITimeoutError, Client, StreamError


def main(prompt: str) -> None:
    with Client() as client:
        try:
            # `with` closes the connection even if we stop early (Ctrl-C, break)
            with client.chat.completions.create(
                messages=[{"role": "user", "content": prompt}], max_tokens=256, stream=True
            ) as stream:
                for chunk in stream:
                    if chunk.choices:
                        print(chunk.choices[0].delta.content or "", end="", flush=True)
        except (StreamError, APITimeoutError) as exc:  # cut or stalled after the first token: never silent
            print(f"\n[stream failed: {exc}]", file=sys.stderr)
            raise SystemExit(1) from exc
        print()
        if stream.usage:
            print(f"[{stream.usage.prompt_tokens} tokens in, {stream.usage.completion_tokens} out]", file=sys.stderr)


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "Write a haiku about retries.")
